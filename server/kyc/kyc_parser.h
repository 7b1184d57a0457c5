// KYC import: customer identity records from CSV, JSON or JSON Lines into AccountIdentity protos.
//
//   absl::StatusOr<KycParseResult> r = ParseKyc(text, KycFormat::kCsv, "accounts.csv");
//   for (const auto& e : r->errors) std::cerr << e.message << "\n";   // "line 7: field
//                                                                      // country_of_incorporation:
//                                                                      ..."
//   store(r->accounts);  // only the valid records; a bad row never drops the good ones
//
// CSV: a header naming the columns (any order; an unknown column, or one named twice, is an error
// naming it):
//   account_id, legal_entity, country_of_incorporation, beneficial_owners, addresses,
//   payment_fingerprint, email_domains, source_ips, parent_account, is_reseller,
//   registration_numbers (optional)
// List columns separate values with ';'. beneficial_owners entries are "Name (NATIONALITY)" or
// "Name (NATIONALITY, YYYY-MM-DD)" (the birth date, also "YYYY" or "YYYY-MM", is optional).
// JSON: {"accounts": [AccountIdentity, ...]} (proto3 JSON field names); JSON Lines: one
// AccountIdentity object per line. Every record is validated (ValidateAccount) the same way.
//
// The whole input fails (a Status error, nothing accepted) when it is not valid UTF-8 (the error
// names line, column and byte: transcode it first, see server/identity/transcode.h), when its CSV
// quoting is broken anywhere (an unterminated quote: no row after it can be trusted), when it has
// more than options.max_rows records, or when options.cancelled() turns true (CANCELLED).
// Field limits (a record over one is a row error naming the field and the limit): names
// (legal_entity, beneficial_owners[].name) at most kMaxNameBytes, every other string field, nested
// and list entries included, at most kMaxFieldBytes, every list at most kMaxListEntries entries.
// The generic limits walk the proto, so they also cover fields added later.
// Pure functions; thread-compatible.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "provenance/v1/identity.pb.h"

namespace prov::kyc {

enum class KycFormat { kCsv, kJson, kJsonLines };

inline constexpr size_t kMaxNameBytes = 512;    // legal_entity, beneficial_owners[].name
inline constexpr size_t kMaxFieldBytes = 4096;  // any other string field
inline constexpr int kMaxListEntries = 256;     // any repeated field
inline constexpr size_t kDefaultMaxRows = 1000000;

struct KycParseOptions {
  size_t max_rows = kDefaultMaxRows;  // records (data rows, JSON array entries, JSONL lines)
  // Polled every 256 records; when it returns true parsing stops with CANCELLED.
  std::function<bool()> cancelled;
};

struct KycRowError {
  int line;             // 1-based; for kJson, 0 (the message names accounts[i])
  std::string message;  // names the line or index and the field
};

struct KycParseResult {
  std::vector<provenance::v1::AccountIdentity> accounts;
  std::vector<KycRowError> errors;
  std::string content_digest;  // sha256 hex of the input bytes (import provenance)
};

// Whole-input failures (not CSV at all, bad header, JSON that does not parse as a batch) are a
// Status error; per-record problems are collected in `errors`.
absl::StatusOr<KycParseResult> ParseKyc(absl::string_view text, KycFormat format,
                                        absl::string_view source_name,
                                        const KycParseOptions& options = {});
// Format from the file name: .csv, .json, .jsonl/.ndjson.
absl::StatusOr<KycFormat> KycFormatFromPath(absl::string_view path);

// Checks one record and normalises it in place (trims, lower-cases e-mail domains, upper-cases
// country codes). Errors name the field, e.g. "source_ips[1]: \"10.0.0.300\" is not an IP address"
// or "legal_entity: 5242880 bytes; the limit is 512 bytes". Also refuses strings that are not
// valid UTF-8 (they could be stored but never parsed back).
absl::Status ValidateAccount(provenance::v1::AccountIdentity* account);

}  // namespace prov::kyc
