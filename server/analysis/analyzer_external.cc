// Analyzer, part 4: external coordinators. Training split across sites often synchronises
// through an address outside the fleet (a parameter server or relay abroad). Peers that no node
// claims are indexed by address -> accounts; training workloads of a few accounts talking to the
// same public off-fleet address are linked (external_peer, workload-level). Like digests, an
// address links only once seen for artifact_settle, and once more than
// external_peer_max_accounts accounts talk to it (an object store, a package mirror) every link
// it made is withdrawn and it never links again; the policy's common_endpoints (the provider's
// gateways, object stores) and non-public addresses never link. An address a node later claims
// is inside the fleet: its external links are withdrawn (network_peer links take over).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"

namespace prov::server {
namespace {

constexpr size_t kMaxEndpoints = 1 << 20;

void LinkEndpointAccount(Analyzer::State& s, const policy::Policy& p, const std::string& address,
                         EndpointState& e, const std::string& account, int64_t t) {
  const std::string& key = e.accounts.at(account);
  if (key.empty()) return;  // no training workload of this account talks to it
  for (const auto& [other, other_key] : e.accounts) {
    if (other == account || other_key.empty()) continue;
    const size_t accounts = e.accounts.size();
    const uint32_t port = e.port;
    const std::string link_key = AddLink(
        s, p, "external_peer", key, other_key, address,
        [&] {
          return absl::StrCat(DescribeWorkload(s, key), " and ", DescribeWorkload(s, other_key),
                              " both exchange traffic with ", address, port ? ":" : "",
                              port ? absl::StrCat(port) : "",
                              ", a public address no node of the fleet claims (", accounts,
                              " accounts talk to it)");
        },
        t);
    if (!link_key.empty()) e.links.insert(link_key);
  }
}

void WithdrawEndpoint(Analyzer::State& s, const policy::Policy& p, EndpointState& e) {
  for (const std::string& key : e.links) RemoveLink(s, p, key);
  e.links.clear();
  e.accounts.clear();
}

}  // namespace

void ExternalPeer(Analyzer::State& s, const policy::Policy& p,
                  const provenance::v1::WorkloadFacts& f, const PeerObservation& peer, int64_t t) {
  auto it = s.endpoints.find(peer.address);
  if (it == s.endpoints.end()) {
    if (s.endpoints.size() >= kMaxEndpoints) return;
    EndpointState fresh;
    fresh.first_us = t;
    fresh.port = peer.port;
    fresh.excluded =
        !policy::IsPublicAddress(peer.address) ||
        std::any_of(p.correlation.common_endpoints.begin(), p.correlation.common_endpoints.end(),
                    [&](const policy::AddressRange& r) { return r.Contains(peer.address); });
    it = s.endpoints.emplace(peer.address, std::move(fresh)).first;
  }
  EndpointState& e = it->second;
  if (e.excluded || e.common) return;
  e.first_us = std::min(e.first_us, t);
  auto [acct, new_account] = e.accounts.try_emplace(f.account());
  bool new_example = false;
  if (acct->second.empty() && f.workload_class() == provenance::v1::WORKLOAD_CLASS_TRAINING) {
    acct->second = f.key();
    new_example = true;
  }
  if (new_account &&
      e.accounts.size() > static_cast<size_t>(p.correlation.external_peer_max_accounts)) {
    e.common = true;  // a mirror or object store: it links nothing, and never did
    WithdrawEndpoint(s, p, e);
    return;
  }
  if (!e.settled) {
    if (t - e.first_us < absl::ToInt64Microseconds(p.correlation.artifact_settle)) return;
    e.settled = true;
    std::vector<std::string> accounts;
    for (const auto& [a, key] : e.accounts) accounts.push_back(a);
    for (const std::string& a : accounts) LinkEndpointAccount(s, p, peer.address, e, a, t);
    return;
  }
  if (new_example) LinkEndpointAccount(s, p, peer.address, e, f.account(), t);
}

void EndpointInFleet(Analyzer::State& s, const policy::Policy& p, const std::string& address) {
  auto it = s.endpoints.find(address);
  if (it == s.endpoints.end()) return;
  WithdrawEndpoint(s, p, it->second);
  it->second.excluded = true;
}

void RestoreEndpointLink(Analyzer::State& s, const std::string& key,
                         const provenance::v1::Link& link) {
  // "external_peer|<a>|<b>|<address>"
  const std::vector<std::string> parts = absl::StrSplit(key, '|');
  if (parts.size() != 4) return;
  EndpointState& e = s.endpoints[parts[3]];
  e.settled = true;
  if (e.first_us == 0 || ToMicros(link.first_time()) < e.first_us) {
    e.first_us = ToMicros(link.first_time());
  }
  e.accounts[link.account_a()] = link.workload_a();
  e.accounts[link.account_b()] = link.workload_b();
  e.links.insert(key);
}

}  // namespace prov::server
