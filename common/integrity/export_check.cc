#include "common/integrity/export_check.h"

#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs.h"
#include "common/integrity/hash_chain.h"
#include "common/integrity/json_integer.h"
#include "nlohmann/json.hpp"

namespace prov::integrity {
namespace {

using nlohmann::json;

// Parses audit_log.jsonl; a line that is not an entry is a problem naming its line.
std::vector<ChainEntry> ReadAuditLog(const std::string& text, std::vector<std::string>* problems) {
  std::vector<ChainEntry> entries;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    ChainEntry e;
    try {
      if (j.is_discarded()) throw std::runtime_error("not JSON");
      e.seq = IntegerAt<uint64_t>(j, "seq");
      e.time_unix_micros = IntegerAt<int64_t>(j, "time_us");
      e.actor = j.at("actor").get<std::string>();
      e.action = j.at("action").get<std::string>();
      e.payload = j.at("payload").get<std::string>();
      e.prev_hash = j.at("prev_hash").get<std::string>();
      e.hash = j.at("hash").get<std::string>();
    } catch (const std::exception& ex) {  // json::exception and the one above stop here
      problems->push_back(
          absl::StrCat(kAuditLogFile, ": line ", line_no, " is not an audit entry: ", ex.what()));
      continue;
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

void CheckAuditLog(const std::string& dir, ExportVerification* v) {
  bool listed = false;
  for (const ManifestFile& f : v->manifest.files) listed = listed || f.path == kAuditLogFile;
  if (!listed) {
    v->notes.push_back(absl::StrCat(kAuditLogFile, ": not in this export; audit log not checked"));
    return;
  }
  auto text = ReadFileToString(JoinPath(dir, kAuditLogFile), size_t{4} << 30);
  if (!text.ok()) return;  // missing: already named by the manifest check
  std::vector<ChainEntry> entries = ReadAuditLog(*text, &v->problems);
  v->audit_entries = entries.size();
  const auto& md = v->manifest.metadata;
  auto seq_it = md.find("audit_head_seq");
  auto hash_it = md.find("audit_head_hash");
  uint64_t head_seq = 0;
  if (seq_it == md.end() || hash_it == md.end() || !absl::SimpleAtoi(seq_it->second, &head_seq)) {
    v->problems.push_back("manifest.json: metadata has no valid audit_head_seq/audit_head_hash");
    return;
  }
  std::optional<ChainAnchor> anchor;
  if (head_seq > 0) anchor = ChainAnchor{head_seq, hash_it->second};
  for (const ChainProblem& p : VerifyChain(entries, anchor)) {
    v->problems.push_back(absl::StrCat(kAuditLogFile, ": ", p.message));
  }
  const uint64_t last = entries.empty() ? 0 : entries.back().seq;
  if (last != head_seq) {
    v->problems.push_back(absl::StrCat(kAuditLogFile, ": ends at entry ", last,
                                       " but the manifest's audit head is entry ", head_seq));
  }
}

}  // namespace

ExportVerification VerifyExport(const std::string& dir, const std::string& public_key,
                                const std::string* previous_dir) {
  ExportVerification v;
  std::string key = public_key;
  if (key.empty()) {
    // Which key the manifest claims; the signature check then proves integrity, not origin.
    auto text = ReadFileToString(JoinPath(dir, kManifestName));
    if (text.ok()) {
      auto m = ManifestFromJson(*text);
      if (m.ok()) key = absl::HexStringToBytes(m->signing_public_key);
    }
    v.notes.push_back("signature checked against the key the manifest names itself (" +
                      std::string(key.empty() ? "none" : absl::BytesToHexString(key)) +
                      "): pass the exporter's public key to check who signed it");
  }
  std::string previous_json;
  const std::string* previous = nullptr;
  if (previous_dir != nullptr) {
    auto text = ReadFileToString(JoinPath(*previous_dir, kManifestName));
    if (!text.ok()) {
      v.problems.push_back(absl::StrCat("chain: the previous export's ", kManifestName,
                                        " cannot be read: ", text.status().message()));
    } else {
      previous_json = *std::move(text);
      previous = &previous_json;
      v.chain_checked = true;
    }
  }
  ExportCheck check = VerifyExportDir(dir, key, previous);
  v.manifest = check.manifest;
  for (std::string& p : check.problems) v.problems.push_back(std::move(p));
  if (v.manifest.export_id.empty()) return v;  // no readable manifest: nothing more to check
  if (!public_key.empty() && v.manifest.signing_public_key != absl::BytesToHexString(public_key)) {
    v.problems.push_back(absl::StrCat(kManifestName, ": signing_public_key ",
                                      v.manifest.signing_public_key, " is not the expected key ",
                                      absl::BytesToHexString(public_key)));
  }
  if (previous_dir == nullptr) {
    v.notes.push_back(v.manifest.previous_manifest_sha256.empty()
                          ? "chain: this is the first export of its chain"
                          : "chain: not checked (give the previous export's folder)");
  }
  CheckAuditLog(dir, &v);
  return v;
}

}  // namespace prov::integrity
