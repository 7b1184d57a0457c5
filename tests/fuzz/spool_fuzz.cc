// The agent's spool files (agent/uplink/spool.h, spool_store.h): what an agent reads back after a
// restart from a directory a crash, a full disk or a careless operator may have damaged. Parts
// (fuzz_input.h): the state blob, then up to three report files. The spool is opened from the
// scratch directory and every entry it keeps is loaded; a file that does not parse must be
// counted as unreadable, a state that does not parse must fail Open(), and nothing may crash.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "agent/uplink/spool.h"
#include "agent/uplink/spool_store.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dir = prov::fuzz::ScratchDir("spool") + "/spool";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  const std::vector<std::string> parts = prov::fuzz::SplitParts(data, size, 4);
  if (!parts[0].empty()) prov::fuzz::WriteFileOrDie(dir + "/state", parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].empty()) continue;
    prov::fuzz::WriteFileOrDie(dir + absl::StrFormat("/report-%020d.pb", i), parts[i]);
  }
  auto store = prov::agent::FileSpoolStore::Open(dir, /*fsync=*/false);
  if (!store.ok()) return 0;
  auto spool = prov::agent::ReportSpool::Open(std::move(*store), prov::agent::SpoolLimits{});
  if (!spool.ok()) return 0;
  std::vector<uint64_t> ids;
  for (const auto& [id, entry] : (*spool)->entries()) ids.push_back(id);
  for (uint64_t id : ids) (void)(*spool)->Load(id);
  return 0;
}
