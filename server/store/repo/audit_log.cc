#include "server/store/repo/audit_log.h"

#include "nlohmann/json.hpp"

namespace prov::server {

integrity::ChainEntry NextAuditEntry(const integrity::ChainAnchor& head, absl::string_view actor,
                                     absl::string_view action, absl::string_view payload,
                                     absl::Time now) {
  integrity::ChainEntry previous;
  previous.seq = head.seq;
  previous.hash = head.hash;
  return integrity::MakeNextEntry(head.seq == 0 ? nullptr : &previous, actor, action, payload, now);
}

AuditVerification VerifyAuditEntries(const std::vector<integrity::ChainEntry>& entries,
                                     std::optional<integrity::ChainAnchor> anchor) {
  AuditVerification v;
  v.entries = entries.size();
  v.head = entries.empty() ? integrity::ChainAnchor{0, integrity::kGenesisHash}
                           : integrity::ChainAnchor{entries.back().seq, entries.back().hash};
  v.anchor = std::move(anchor);
  v.problems = integrity::VerifyChain(entries, v.anchor);
  return v;
}

std::string AuditPayload(
    std::initializer_list<std::pair<absl::string_view, absl::string_view>> kv) {
  nlohmann::json j = nlohmann::json::object();  // std::map underneath: sorted keys
  for (const auto& [k, v] : kv) j[std::string(k)] = std::string(v);
  return j.dump();
}

std::string AuditPayload(const std::vector<std::pair<std::string, std::string>>& kv) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : kv) j[k] = v;
  return j.dump();
}

}  // namespace prov::server
