// Audit export folders as an auditor receives them (common/integrity): manifest parsing
// (ManifestFromJson) and everything `provctl export verify` checks (VerifyExport,
// export_check.h). Parts (fuzz_input.h): manifest.json, manifest.sig, audit_log.jsonl, and one
// data file (flags.csv) the manifest may list. Verified with the key the manifest names and
// with a fixed key; the previous export is the same folder, so the chain link is read too.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/integrity/export_check.h"
#include "common/integrity/manifest.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string> parts = prov::fuzz::SplitParts(data, size, 4);
  (void)prov::integrity::ManifestFromJson(parts[0]);
  const std::string dir = prov::fuzz::ScratchDir("export") + "/export";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  const char* const names[] = {prov::integrity::kManifestName, prov::integrity::kSignatureName,
                               prov::integrity::kAuditLogFile, "flags.csv"};
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].empty()) prov::fuzz::WriteFileOrDie(dir + "/" + names[i], parts[i]);
  }
  std::filesystem::create_directories(dir, ec);
  (void)prov::integrity::VerifyExport(dir, /*public_key=*/"", nullptr);
  const std::string key(32, '\x01');  // raw Ed25519 public key that signed nothing here
  (void)prov::integrity::VerifyExport(dir, key, &dir);
  return 0;
}
