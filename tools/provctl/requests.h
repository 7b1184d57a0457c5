// provctl: requests built from an Invocation (no I/O), so what is sent can be unit tested.
//
//   PROV_ASSIGN_OR_RETURN(ImportAccountsRequest req, ImportAccountsRequestFor(inv, content));
//   ListFlagsRequest flags = ListFlagsRequestFor(inv);
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "provenance/v1/analysis.pb.h"
#include "tools/provctl/cli.h"

namespace prov::provctl {

inline constexpr size_t kMaxImportFileBytes = 64u << 20;  // provd's limit for one import
inline constexpr size_t kMaxPolicyFileBytes = 4u << 20;

// Format from --format, else from the file's extension (.csv, .json, .jsonl, .ndjson); the
// source name recorded with the KYC version is the file's base name.
absl::StatusOr<provenance::v1::ImportAccountsRequest> ImportAccountsRequestFor(
    const Invocation& inv, std::string content);
provenance::v1::ImportScreeningListRequest ImportScreeningListRequestFor(const Invocation& inv,
                                                                         std::string content);
provenance::v1::LoadPolicyRequest LoadPolicyRequestFor(const Invocation& inv, std::string yaml);
provenance::v1::ListFlagsRequest ListFlagsRequestFor(const Invocation& inv);
provenance::v1::WatchFlagsRequest WatchFlagsRequestFor(const Invocation& inv);
provenance::v1::ListBundlesRequest ListBundlesRequestFor(const Invocation& inv);
std::string BaseName(const std::string& path);

}  // namespace prov::provctl
