// Analyzer, part 4: external coordinators. Training split across sites often synchronises
// through an address outside the fleet (a parameter server or relay abroad). Peers that no node
// claims are indexed by address -> accounts with the bytes each account's workloads exchanged
// with it (NetPeer.interval_bytes_*, summed over sockets and reports). Training workloads of a
// few accounts exchanging bulk with the same public off-fleet address are linked (external_peer,
// workload-level). Bulk: at least external_peer_min_bytes_per_hour each way over the time since
// the account was first seen talking to it, the smaller direction at least
// external_peer_min_symmetry x the larger (a coordinator exchanges model-sized traffic both ways;
// a shared tracker or web API sees a few MB an hour, a mirror or a checkpoint upload one way).
// An account once bulk stays counted. Light accounts neither link nor count toward the cap.
// Accounts without counters (old agents) count and link only with
// external_peer_link_unknown_volume, the evidence then saying the volume is unknown.
// Like digests, an address links only once seen for artifact_settle, and once more than
// external_peer_max_accounts accounts are counted (a shared object store) every link it made is
// withdrawn and it never links again; the policy's common_endpoints (the provider's gateways,
// object stores) and non-public addresses never link. An address a node later claims is inside
// the fleet: its external links are withdrawn (network_peer links take over). The byte totals
// live in memory only: after a restart, links restored from the store keep their accounts
// counted, other accounts start counting again.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"

namespace prov::server {
namespace {

constexpr size_t kMaxEndpoints = 1 << 20;
constexpr size_t kMaxAccountsPerEndpoint = 4096;  // more light users are not remembered

std::string Bytes(uint64_t b) {
  const double v = static_cast<double>(b);
  if (v >= 1024.0 * 1024 * 1024) return absl::StrFormat("%.1f GiB", v / (1024.0 * 1024 * 1024));
  if (v >= 1024.0 * 1024) return absl::StrFormat("%.1f MiB", v / (1024.0 * 1024));
  if (v >= 1024.0) return absl::StrFormat("%.1f KiB", v / 1024.0);
  return absl::StrCat(b, " B");
}

// "sent 32.0 GiB and received 31.8 GiB in 12m", or why the volume is unknown.
std::string Volume(const EndpointAccount& a) {
  if (!a.measured) return "volume unknown: its agent sent no byte counters";
  return absl::StrCat("sent ", Bytes(a.sent), " and received ", Bytes(a.received), " in ",
                      absl::FormatDuration(absl::Microseconds(a.last_us - a.first_us)));
}

// Bulk, symmetric exchange (see the file comment); false when nothing was measured.
bool Bulk(const policy::Policy& p, const EndpointAccount& a) {
  if (!a.measured) return false;
  const double hours = std::max<double>(a.last_us - a.first_us, 1) / 3.6e9;
  const double low = static_cast<double>(std::min(a.sent, a.received));
  const double high = static_cast<double>(std::max(a.sent, a.received));
  return low / hours >= p.correlation.external_peer_min_bytes_per_hour &&
         low >= p.correlation.external_peer_min_symmetry * high && high > 0;
}

void LinkEndpointAccount(Analyzer::State& s, const policy::Policy& p, const std::string& address,
                         EndpointState& e, const std::string& account, int64_t t) {
  EndpointAccount& mine = e.accounts.at(account);
  if (!mine.counted || mine.workload.empty()) return;  // no training workload exchanges bulk
  mine.linked = true;
  for (const auto& entry : e.accounts) {
    const std::string& other = entry.first;  // named, not bound: the lambda below captures them
    const EndpointAccount& theirs = entry.second;
    if (other == account || !theirs.counted || theirs.workload.empty()) continue;
    const size_t accounts = e.counted;
    const uint32_t port = e.port;
    const std::string link_key = AddLink(
        s, p, "external_peer", mine.workload, theirs.workload, address,
        [&] {
          return absl::StrCat(
              DescribeWorkload(s, mine.workload), " and ", DescribeWorkload(s, theirs.workload),
              " both exchange traffic with ", address, port ? ":" : "",
              port ? absl::StrCat(port) : "", ", a public address no node of the fleet claims (",
              accounts, accounts == 1 ? " account exchanges" : " accounts exchange",
              " bulk with it; ", account, " ", Volume(mine), ", ", other, " ", Volume(theirs), ")");
        },
        t);
    if (!link_key.empty()) e.links.insert(link_key);
  }
}

void WithdrawEndpoint(Analyzer::State& s, const policy::Policy& p, EndpointState& e) {
  for (const std::string& key : e.links) RemoveLink(s, p, key);
  e.links.clear();
  e.accounts.clear();
  e.counted = 0;
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
  if (!e.accounts.contains(f.account()) && e.accounts.size() >= kMaxAccountsPerEndpoint) return;
  EndpointAccount& a = e.accounts[f.account()];
  if (a.workload.empty() && f.workload_class() == provenance::v1::WORKLOAD_CLASS_TRAINING) {
    a.workload = f.key();
  }
  // The report covers the interval ending at t.
  const int64_t interval_us = int64_t{std::max<uint32_t>(peer.interval_seconds, 1)} * 1000000;
  if (a.first_us < 0 || t - interval_us < a.first_us) a.first_us = t - interval_us;
  a.last_us = std::max(a.last_us, t);
  if (peer.bytes_sent >= 0 && peer.bytes_received >= 0) {
    a.measured = true;
    a.sent += static_cast<uint64_t>(peer.bytes_sent);
    a.received += static_cast<uint64_t>(peer.bytes_received);
  }
  if (!a.counted &&
      (Bulk(p, a) || (!a.measured && p.correlation.external_peer_link_unknown_volume))) {
    a.counted = true;
    if (++e.counted > static_cast<size_t>(p.correlation.external_peer_max_accounts)) {
      e.common = true;  // a shared store: it links nothing, and never did
      WithdrawEndpoint(s, p, e);
      return;
    }
  }
  if (!e.settled) {
    if (t - e.first_us < absl::ToInt64Microseconds(p.correlation.artifact_settle)) return;
    e.settled = true;
    std::vector<std::string> accounts;
    for (const auto& [name, other] : e.accounts) {
      if (other.counted) accounts.push_back(name);
    }
    for (const std::string& name : accounts) LinkEndpointAccount(s, p, peer.address, e, name, t);
    return;
  }
  if (a.counted && !a.linked) LinkEndpointAccount(s, p, peer.address, e, f.account(), t);
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
  for (const auto& [account, workload] :
       {std::pair{link.account_a(), link.workload_a()}, {link.account_b(), link.workload_b()}}) {
    EndpointAccount& a = e.accounts[account];
    a.workload = workload;
    a.linked = true;
    if (!a.counted) ++e.counted;
    a.counted = true;
  }
  e.links.insert(key);
}

}  // namespace prov::server
