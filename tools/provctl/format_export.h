// provctl's output for audit exports (ExportService, compliance.proto; docs/export-format.md).
//
//   std::cout << ExportsTable(list_response);           // provctl exports list
//   std::cerr << ProgressLine(event.progress());        // "export: flags 10000/52113"
//   std::cout << ExportSummaryText(summary, out_dir);   // after provctl export
//   std::cout << VerificationText(dir, verification);   // provctl export verify; problems first
//
// Pure functions (unit tested).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/integrity/export_check.h"
#include "provenance/v1/compliance.pb.h"

namespace prov::provctl {

std::string ExportsTable(const provenance::v1::ListExportsResponse& response);
std::string ProgressLine(const provenance::v1::ExportProgress& progress);
std::string ExportSummaryText(const provenance::v1::ExportSummary& summary,
                              const std::string& out_dir);
// "PROBLEM ..." lines (one per problem), "note: ..." lines, then one verdict line.
std::string VerificationText(const std::string& dir, const integrity::ExportVerification& v);

// --public-key: 64 hex characters, or a file holding "ed25519-public <hex>" (export-signing.pub)
// or just the hex. Returns the raw 32 bytes.
absl::StatusOr<std::string> ParsePublicKeyArg(const std::string& value);
// A streamed file's path must stay inside the output folder: relative, no "..", no empty parts.
bool SafeRelativePath(const std::string& path);

}  // namespace prov::provctl
