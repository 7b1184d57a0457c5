// VerifyExport: everything an auditor checks on one audit export folder (docs/export-format.md),
// offline, with no provd: the manifest's Ed25519 signature, every file against the manifest
// (changed, missing, added), the chain link to the previous export, and the audit log inside
// the export (audit_log.jsonl) as a hash chain ending exactly at the audit head the manifest
// records.
//
//   std::string key = *LoadPublicKey("export-signing.pub");     // or hex from GetSigningKey
//   std::string previous_dir = "/exports/20261201T000000Z";
//   ExportVerification v = VerifyExport("/exports/20261202T000000Z", key, &previous_dir);
//   for (const auto& p : v.problems) std::cout << p << "\n";    // "flags.csv: changed (...)"
//   for (const auto& n : v.notes) std::cout << n << "\n";       // what was not checked
//
// public_key empty: the signature is checked against the key the manifest names itself, which
// proves the files match the manifest but not who signed it (a note says so). Pure function of
// the files; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/integrity/manifest.h"

namespace prov::integrity {

inline constexpr char kAuditLogFile[] = "audit_log.jsonl";

struct ExportVerification {
  bool ok() const { return problems.empty(); }
  Manifest manifest;
  std::vector<std::string> problems;  // each names the file or check that failed
  std::vector<std::string> notes;     // checks that could not be made, and why
  uint64_t audit_entries = 0;         // entries in audit_log.jsonl
  bool chain_checked = false;         // a previous export was given and compared
};

ExportVerification VerifyExport(const std::string& dir, const std::string& public_key,
                                const std::string* previous_dir = nullptr);

}  // namespace prov::integrity
