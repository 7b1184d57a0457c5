// Analyzer, part 1: evidence from reports, links, pair scores and bundles. Rules, flags and
// queries are in analyzer_flags.cc; identity and restore in analyzer_identity.cc.
#include "server/analysis/analyzer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"
#include "server/ledger/usage.h"

namespace prov::server {

std::string WorkloadKey(const std::string& node_id, const std::string& workload_id) {
  return absl::StrCat(node_id, "/", workload_id);
}

AccountPair MakePair(const std::string& a, const std::string& b) {
  return a < b ? AccountPair(a, b) : AccountPair(b, a);
}

namespace {

// Saved training FLOP lags the analysed figure by at most this fraction (one step of a
// geometric ladder: a workload's row is rewritten about 220 times while its FLOP grows 1000x).
constexpr double kFlopSaveStep = 1.0 / 32;

int64_t FlopSaveBucket(double flop) {
  if (flop <= 0) return -1;
  return static_cast<int64_t>(std::floor(std::log(flop) / std::log1p(kFlopSaveStep)));
}

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr size_t kCoStartMaxBucket = 16;

bool Attributed(const std::string& account) {
  return !account.empty() && account != kUnattributedAccount;
}

std::string Short(const std::string& digest) {
  return digest.size() > 19 ? digest.substr(0, 19) + "..." : digest;
}

}  // namespace

void SetTimestamp(google::protobuf::Timestamp* ts, int64_t us) {
  ts->set_seconds(us / kMicrosPerSecond);
  ts->set_nanos(static_cast<int32_t>((us % kMicrosPerSecond) * 1000));
}

int64_t ToMicros(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * kMicrosPerSecond + ts.nanos() / 1000;
}

std::string DescribeWorkload(const Analyzer::State& s, const std::string& key) {
  auto it = s.workloads.find(key);
  if (it == s.workloads.end()) return key;
  const auto& w = it->second;
  std::string where =
      w.datacenter().empty() ? w.node_id() : absl::StrCat(w.node_id(), ", ", w.datacenter());
  return absl::StrCat(key.substr(w.node_id().size() + 1), " of account ", w.account(), " (", where,
                      ")");
}

void CompactHistory(absl::btree_map<int64_t, double>& history) {
  // Merge the older half pairwise into the later entry of each pair: the oldest crossing times
  // lose precision, never FLOP.
  const size_t pairs = history.size() / 4;
  auto it = history.begin();
  for (size_t i = 0; i < pairs && it != history.end(); ++i) {
    auto next = std::next(it);
    if (next == history.end()) break;
    next->second += it->second;
    it = history.erase(it);
    ++it;
  }
}

void ClaimAddress(Analyzer::State& s, const std::string& address, const std::string& node) {
  auto [it, inserted] = s.address_to_node.try_emplace(address, node);
  // Claimed by two nodes (docker0's 172.17.0.1, a CNI gateway): ambiguous, so it links nothing.
  if (!inserted && it->second != node) it->second.clear();
}

Analyzer::Analyzer(std::shared_ptr<const policy::Policy> policy)
    : s_(std::make_unique<State>()), policy_(std::move(policy)) {
  s_->owner = this;
}

void Analyzer::SetInventory(std::shared_ptr<const inventory::InventoryIndex> inventory,
                            int64_t version) {
  if (!s_->hw.inventory_changed) s_->hw.previous_inventory = s_->hw.inventory;
  s_->hw.inventory = std::move(inventory);
  s_->hw.inventory_version = version;
  s_->hw.inventory_changed = true;
}

void Analyzer::SetRedeclared(const std::string& serial, const std::string& previous_node,
                             absl::Time at) {
  s_->hw.redeclared[serial] = {previous_node, absl::ToUnixMicros(at)};
}

void Analyzer::SetHardwareClock(bool report_timeline, const AcceleratorCatalog* catalog) {
  s_->hw.report_clock = report_timeline;
  s_->hw.catalog = catalog;
}
Analyzer::~Analyzer() = default;

// Links that could not be made when their evidence arrived (RememberUnresolved), tried again now
// that `node` appeared or its workloads changed.
static void RetryUnresolved(Analyzer::State& s, const policy::Policy& p,
                            const provenance::v1::NodeFacts& node) {
  if (s.unresolved.empty()) return;
  std::vector<std::string> addresses(node.addresses().begin(), node.addresses().end());
  if (!node.hostname().empty()) addresses.push_back(node.hostname());
  addresses.push_back(node.node_id());
  for (const std::string& address : addresses) {
    auto it = s.unresolved.find(address);
    if (it == s.unresolved.end()) continue;
    absl::flat_hash_map<std::string, int64_t> entries = std::move(it->second);
    s.unresolved.erase(it);
    s.unresolved_total -= entries.size();
    for (const auto& [entry, t] : entries) {
      if (entry.size() < 3 || entry[1] != '|') continue;
      if (entry[0] == 'M') {  // "M|<workload key>"
        auto w = s.workloads.find(entry.substr(2));
        if (w != s.workloads.end() && w->second.master_addr() == address) {
          LinkMaster(s, p, w->second, t);
        }
        continue;
      }
      // "P|<workload key>|<port>": the port is after the last '|'.
      const size_t bar = entry.rfind('|');
      uint32_t port = 0;
      if (bar <= 2 || !absl::SimpleAtoi(entry.substr(bar + 1), &port)) continue;
      auto w = s.workloads.find(entry.substr(2, bar - 2));
      if (w == s.workloads.end() || !Attributed(w->second.account())) continue;
      LinkPeer(s, p, w->second, PeerObservation{address, port}, t);
    }
  }
}

void Analyzer::ObserveNodeEvent(const NodeEvent& e) {
  switch (e.kind) {
    case NodeEvent::Kind::kRejections:
      ObserveRejections(*s_, e);
      break;
    case NodeEvent::Kind::kIdentityMismatch:
      ObserveIdentityMismatch(*s_, e);
      break;
    case NodeEvent::Kind::kLocationVerdict:
    case NodeEvent::Kind::kLocationForged:
      s_->location_events.push_back(e);
      break;
  }
}

void Analyzer::Observe(const ReportObservation& r) {
  State& s = *s_;
  s.latest_evidence_us = std::max(s.latest_evidence_us, r.time_us);
  const policy::Policy& p = *policy_;
  provenance::v1::NodeFacts& node = s.nodes[r.node_id];
  const bool new_node = node.node_id().empty();
  bool retry = false;  // the node's addresses or workloads changed: retry unresolved links
  if (new_node || node.hostname() != r.hostname || node.datacenter() != r.datacenter ||
      node.region() != r.region ||
      !std::equal(node.addresses().begin(), node.addresses().end(), r.addresses.begin(),
                  r.addresses.end())) {
    node.set_node_id(r.node_id);
    node.set_hostname(r.hostname);
    node.set_datacenter(r.datacenter);
    node.set_region(r.region);
    node.mutable_addresses()->Assign(r.addresses.begin(), r.addresses.end());
    for (const auto& a : r.addresses) {
      ClaimAddress(s, a, r.node_id);
      EndpointInFleet(s, p, a);
    }
    if (!r.hostname.empty()) ClaimAddress(s, r.hostname, r.node_id);
    ClaimAddress(s, r.node_id, r.node_id);
    s.changed_nodes.insert(r.node_id);
    retry = true;
  }
  bool accel_changed = !r.accelerators_unchanged &&
                       node.accelerators_size() != static_cast<int>(r.accelerators.size());
  for (size_t i = 0; !accel_changed && !r.accelerators_unchanged && i < r.accelerators.size();
       ++i) {
    const auto& a = node.accelerators(static_cast<int>(i));
    const auto& b = r.accelerators[i];
    accel_changed = a.pci_address() != b.pci_address() || a.vendor_id() != b.vendor_id() ||
                    a.device_id() != b.device_id() || a.serial() != b.serial() ||
                    a.uuid() != b.uuid() || a.model() != b.model();
  }
  if (accel_changed) {
    node.mutable_accelerators()->Assign(r.accelerators.begin(), r.accelerators.end());
    node.set_accelerators_since_us(r.time_us);
    s.changed_nodes.insert(r.node_id);
    s.dirty_nodes.insert(r.node_id);
  }

  std::set<std::string> previous(node.current_workloads().begin(), node.current_workloads().end());
  std::vector<std::string> current;
  current.reserve(r.workloads.size());
  for (const WorkloadObservation& o : r.workloads) {
    const std::string key = WorkloadKey(r.node_id, o.workload_id);
    current.push_back(key);
    ObserveWorkload(s, p, node, key, o, r.time_us);
  }
  if (previous.size() != current.size() ||
      !std::equal(current.begin(), current.end(), node.current_workloads().begin())) {
    std::set<std::string> now(current.begin(), current.end());
    for (const std::string& key : previous) {
      if (!now.contains(key)) EndWorkload(s, p, key);
    }
    node.mutable_current_workloads()->Assign(current.begin(), current.end());
    s.changed_nodes.insert(r.node_id);
    s.dirty_nodes.insert(r.node_id);  // who uses the node's hardware changed
    retry = true;
  }
  if (retry) RetryUnresolved(s, p, node);
  NodeReportStored(s, r.node_id);
  if (r.interval_seconds != node.interval_seconds()) {
    node.set_interval_seconds(r.interval_seconds);
    s.changed_nodes.insert(r.node_id);
  }
  s.hw.pending.push_back(PendingHardwareReport{
      r.node_id, r.time_us, int64_t{r.interval_seconds} * 1000000, r.complete,
      CardsOf(node.accelerators())});  // the report's cards: node's are updated from it above
  node.set_last_time_us(std::max(node.last_time_us(), r.time_us));
  if (node.first_time_us() == 0 || r.time_us < node.first_time_us()) {
    node.set_first_time_us(r.time_us);
  }
  if (!accel_changed && r.time_us < node.accelerators_since_us()) {
    node.set_accelerators_since_us(r.time_us);  // an older report, delivered late
  }
}

void ObserveWorkload(Analyzer::State& s, const policy::Policy& p, provenance::v1::NodeFacts& node,
                     const std::string& key, const WorkloadObservation& o, int64_t t) {
  auto [it, inserted] = s.workloads.try_emplace(key);
  provenance::v1::WorkloadFacts& f = it->second;
  bool material = inserted;
  if (inserted) {
    f.set_key(key);
    f.set_node_id(node.node_id());
    f.set_account(o.account);
    f.set_datacenter(node.datacenter());
    f.set_region(node.region());
    f.set_first_time_us(t);
    f.set_started_us(o.started_us > 0 ? o.started_us : t);
  }
  if (f.ended()) {
    f.set_ended(false);
    material = true;
  }
  f.set_last_time_us(std::max(f.last_time_us(), t));
  if (f.workload_class() != o.workload_class) {
    f.set_workload_class(o.workload_class);
    material = true;
  }
  const bool training = o.workload_class == provenance::v1::WORKLOAD_CLASS_TRAINING;
  AccountState& acct = s.accounts[f.account()];
  acct.workloads.insert(key);
  if (acct.first_us == 0 || t < acct.first_us) acct.first_us = t;
  acct.last_us = std::max(acct.last_us, t);
  f.set_flop_low(f.flop_low() + o.usage.flop_low);
  if (training) {
    // The saved row follows the FLOP within kFlopSaveStep: a reload restores the analysed
    // figures (AnalysisStore::Load), and a row saved only when its details changed would bring
    // back the FLOP of its first report (a tier crossing dated late after every restart).
    if (FlopSaveBucket(f.training_flop_low()) !=
        FlopSaveBucket(f.training_flop_low() + o.usage.flop_low)) {
      material = true;
    }
    f.set_training_flop_low(f.training_flop_low() + o.usage.flop_low);
    f.set_training_flop_high(f.training_flop_high() + o.usage.flop_high);
    f.set_training_accelerator_seconds(f.training_accelerator_seconds() +
                                       o.usage.accelerator_seconds);
    acct.training_low += o.usage.flop_low;
    acct.history[t] += o.usage.flop_low;
    if (acct.history.size() > kMaxHistory) CompactHistory(acct.history);
    if (acct.first_train_us == 0 || t < acct.first_train_us) acct.first_train_us = t;
    acct.training_high += o.usage.flop_high;
    acct.training_seconds += o.usage.accelerator_seconds;
    acct.method = MergeMethods(acct.method, o.usage.method);
    if (!acct.trains) {
      acct.trains = true;
      s.dirty_accounts.insert(f.account());
    }
    if (Attributed(f.account())) s.dirty_bundles.insert(EnsureBundle(s, f.account(), t));
  }
  if (f.method() != o.usage.method) f.set_method(MergeMethods(f.method(), o.usage.method));
  if (f.accelerator_model() != o.usage.accelerator_model) {
    f.set_accelerator_model(o.usage.accelerator_model);
    material = true;
  }
  if (!o.details_unchanged && f.accelerators_size() != static_cast<int>(o.accelerators.size())) {
    f.clear_accelerators();
    for (const auto& pci : o.accelerators)
      f.add_accelerators(absl::StrCat(node.node_id(), "/", pci));
    material = true;
  }
  if (!o.details_unchanged && !std::equal(f.listening_ports().begin(), f.listening_ports().end(),
                                          o.listening_ports.begin(), o.listening_ports.end())) {
    f.mutable_listening_ports()->Assign(o.listening_ports.begin(), o.listening_ports.end());
    material = true;
  }
  if (!o.details_unchanged &&
      (f.master_addr() != o.master_addr || f.master_port() != o.master_port)) {
    f.set_master_addr(o.master_addr);
    f.set_master_port(o.master_port);
    material = true;
  }
  for (const std::string& d : o.digests) {
    if (std::find(f.digests().begin(), f.digests().end(), d) != f.digests().end()) continue;
    f.add_digests(d);
    material = true;
    const bool artifact = std::find(o.artifact_digests.begin(), o.artifact_digests.end(), d) !=
                          o.artifact_digests.end();
    if (artifact) f.add_artifact_digests(d);
    IndexDigest(s, p, key, d, artifact, t);
  }
  for (const std::string& d : f.digests()) SettleDigest(s, p, d, t);
  if (inserted) {
    TimeBucket(s, p, s.start_buckets, key, f.started_us(), "started", t);
    for (const std::string& d : f.artifact_digests()) FindHandoffs(s, p, key, d, t);
  }
  if (!Attributed(f.account())) {
    if (material) s.changed_workloads.insert(key);
    return;
  }
  if (!f.master_addr().empty()) LinkMaster(s, p, f, t);
  for (const PeerObservation& peer : o.peers) LinkPeer(s, p, f, peer, t);
  if (o.activity_pct >= 0) {
    const bool active = o.activity_pct >= 50;
    ObserveActivity(s, p, f, !inserted && active != f.active(), t);
    f.set_active(active);
  }
  if (material) s.changed_workloads.insert(key);
}

void EndWorkload(Analyzer::State& s, const policy::Policy& p, const std::string& key) {
  auto it = s.workloads.find(key);
  if (it == s.workloads.end() || it->second.ended()) return;
  provenance::v1::WorkloadFacts& f = it->second;
  f.set_ended(true);
  s.changed_workloads.insert(key);
  if (!Attributed(f.account())) return;
  TimeBucket(s, p, s.stop_buckets, key, f.last_time_us(), "stopped", f.last_time_us());
  const int64_t window = Micros(p.correlation.handoff_window);
  for (const std::string& d : f.artifact_digests()) {
    if (s.common_digests.contains(d)) continue;
    auto& ended = s.ended_by_digest[d];
    ended.emplace_back(f.last_time_us(), key);
    while (!ended.empty() && ended.front().first < f.last_time_us() - window) ended.pop_front();
    // A successor may already have reported before this end was seen.
    for (const std::string& other : s.started_by_digest[d]) {
      if (other != key) HandoffPair(s, p, key, other, d);
    }
  }
}

void FindHandoffs(Analyzer::State& s, const policy::Policy& p, const std::string& key,
                  const std::string& digest, int64_t t) {
  if (s.common_digests.contains(digest)) return;  // a public checkpoint hands nothing off
  auto& started = s.started_by_digest[digest];
  started.push_back(key);
  if (started.size() > static_cast<size_t>(p.correlation.max_bucket_workloads)) {
    started.erase(started.begin());
  }
  (void)t;
  auto it = s.ended_by_digest.find(digest);
  if (it == s.ended_by_digest.end()) return;
  for (const auto& [end_us, prev] : it->second) HandoffPair(s, p, prev, key, digest);
}

void HandoffPair(Analyzer::State& s, const policy::Policy& p, const std::string& prev,
                 const std::string& next, const std::string& digest) {
  if (s.common_digests.contains(digest)) return;
  const auto& a = s.workloads.at(prev);
  const auto& b = s.workloads.at(next);
  if (!a.ended() || a.account() == b.account()) return;
  if (a.region() == b.region() && a.datacenter() == b.datacenter()) return;
  const int64_t gap = b.started_us() - a.last_time_us();
  if (gap < -Micros(p.correlation.co_start_window) || gap > Micros(p.correlation.handoff_window)) {
    return;
  }
  // A digest links only once it has been seen for artifact_settle, hand-offs included: until
  // then the pair waits and SettleDigest makes it.
  if (!s.settled_digests.contains(digest)) {
    auto& waiting = s.pending_handoffs[digest];
    if (waiting.size() < static_cast<size_t>(p.correlation.max_bucket_workloads)) {
      waiting.emplace(prev, next);
    }
    return;
  }
  const std::string link_key = AddLink(
      s, p, "handoff", prev, next, absl::StrCat(digest, "|", prev, "|", next),
      [&] {
        return absl::StrCat(DescribeWorkload(s, prev), " stopped and ",
                            absl::FormatDuration(absl::Microseconds(std::max<int64_t>(gap, 0))),
                            " later ", DescribeWorkload(s, next), " started in ",
                            b.region().empty() ? b.datacenter() : b.region(),
                            " with the same checkpoint/dataset digest ", Short(digest));
      },
      b.started_us());
  // Registered with the digest's other links: withdrawn with them if the digest turns common.
  if (!link_key.empty()) s.digest_links[digest].insert(link_key);
}

void IndexDigest(Analyzer::State& s, const policy::Policy& p, const std::string& key,
                 const std::string& digest, bool artifact, int64_t t) {
  if (s.common_digests.contains(digest)) return;
  const std::string& account = s.workloads.at(key).account();
  if (!Attributed(account)) return;
  std::set<std::string>& accounts = s.digest_accounts[digest];
  if (!accounts.insert(account).second) return;
  s.digest_example[absl::StrCat(digest, "|", account)] = key;
  if (artifact) s.artifact_digests.insert(digest);
  auto [first, inserted] = s.digest_first_us.try_emplace(digest, t);
  if (!inserted && t < first->second) first->second = t;
  if (accounts.size() > static_cast<size_t>(p.correlation.common_artifact_max_accounts)) {
    // A public base image or a common command line: it links nothing, and never did.
    s.common_digests.insert(digest);
    for (const std::string& link_key : s.digest_links[digest]) RemoveLink(s, p, link_key);
    s.digest_links.erase(digest);
    for (const std::string& a : accounts) s.digest_example.erase(absl::StrCat(digest, "|", a));
    s.digest_accounts.erase(digest);
    s.digest_first_us.erase(digest);
    s.artifact_digests.erase(digest);
    s.pending_handoffs.erase(digest);
    s.ended_by_digest.erase(digest);
    s.started_by_digest.erase(digest);
    return;
  }
  if (s.settled_digests.contains(digest)) LinkDigestAccount(s, p, digest, account, t);
}

void SettleDigest(Analyzer::State& s, const policy::Policy& p, const std::string& digest,
                  int64_t t) {
  if (s.settled_digests.contains(digest) || s.common_digests.contains(digest)) return;
  auto first = s.digest_first_us.find(digest);
  if (first == s.digest_first_us.end()) return;
  if (t - first->second < absl::ToInt64Microseconds(p.correlation.artifact_settle)) return;
  s.settled_digests.insert(digest);
  if (auto waiting = s.pending_handoffs.extract(digest); !waiting.empty()) {
    for (const auto& [prev, next] : waiting.mapped()) HandoffPair(s, p, prev, next, digest);
  }
  auto accounts = s.digest_accounts.find(digest);
  if (accounts == s.digest_accounts.end()) return;
  const std::vector<std::string> list(accounts->second.begin(), accounts->second.end());
  for (const std::string& a : list) LinkDigestAccount(s, p, digest, a, t);
}

void LinkDigestAccount(Analyzer::State& s, const policy::Policy& p, const std::string& digest,
                       const std::string& account, int64_t t) {
  const std::set<std::string>& accounts = s.digest_accounts.at(digest);
  const bool artifact = s.artifact_digests.contains(digest);
  const std::string key = s.digest_example.at(absl::StrCat(digest, "|", account));
  for (const std::string& other : accounts) {
    if (other == account) continue;
    const std::string other_key = s.digest_example.at(absl::StrCat(digest, "|", other));
    const std::string link_key = AddLink(
        s, p, artifact ? "artifact" : "image", key, other_key, digest,
        [&] {
          return absl::StrCat(DescribeWorkload(s, key), " and ", DescribeWorkload(s, other_key),
                              " use the same ",
                              artifact ? "checkpoint/dataset" : "image or command", " digest ",
                              Short(digest), " (seen in ", accounts.size(), " accounts)");
        },
        t);
    if (!link_key.empty()) s.digest_links[digest].insert(link_key);
  }
}

namespace {

// Whether two workloads ran at the same time as far as their reports tell: evidence is judged as
// of its own time, so a workload that ended links to nothing that started after it ended (a
// multi-node run whose MASTER_ADDR resolved only once its master node had a new tenant).
bool Overlapped(const provenance::v1::WorkloadFacts& a, const provenance::v1::WorkloadFacts& b) {
  if (a.ended() && b.started_us() > a.last_time_us()) return false;
  if (b.ended() && a.started_us() > b.last_time_us()) return false;
  return true;
}

// Workloads of other (attributed) accounts running on `node` while `f` ran: those listening on
// `port` when any does, else all of them. `listening` says which it is.
std::vector<const provenance::v1::WorkloadFacts*> PeersOn(const Analyzer::State& s,
                                                          const provenance::v1::NodeFacts& node,
                                                          const provenance::v1::WorkloadFacts& f,
                                                          uint32_t port, bool* listening) {
  std::vector<const provenance::v1::WorkloadFacts*> listeners, others;
  for (const std::string& k : node.current_workloads()) {
    const auto& v = s.workloads.at(k);
    if (v.account() == f.account() || !Attributed(v.account()) || !Overlapped(f, v)) continue;
    const bool listens =
        port != 0 && std::find(v.listening_ports().begin(), v.listening_ports().end(), port) !=
                         v.listening_ports().end();
    (listens ? listeners : others).push_back(&v);
  }
  *listening = !listeners.empty();
  return *listening ? listeners : others;
}

constexpr size_t kMaxUnresolvedPerAddress = 64;
constexpr size_t kMaxUnresolvedTotal = 1 << 18;

void RememberUnresolved(Analyzer::State& s, const std::string& address, std::string entry,
                        int64_t t) {
  if (address.empty() || s.unresolved_total >= kMaxUnresolvedTotal) return;
  auto& entries = s.unresolved[address];
  if (entries.size() >= kMaxUnresolvedPerAddress) return;
  auto [it, inserted] = entries.try_emplace(std::move(entry), t);
  if (inserted) ++s.unresolved_total;
}

// The node an address (or hostname) belongs to, unless it is unknown, ambiguous or `own`.
const provenance::v1::NodeFacts* RemoteNode(const Analyzer::State& s, const std::string& address,
                                            const std::string& own) {
  auto n = s.address_to_node.find(address);
  if (n == s.address_to_node.end() || n->second.empty() || n->second == own) return nullptr;
  return &s.nodes.at(n->second);
}

}  // namespace

void LinkMaster(Analyzer::State& s, const policy::Policy& p, const provenance::v1::WorkloadFacts& f,
                int64_t t) {
  const provenance::v1::NodeFacts* master = RemoteNode(s, f.master_addr(), f.node_id());
  bool listening = false;
  const std::vector<const provenance::v1::WorkloadFacts*> on =
      master == nullptr ? std::vector<const provenance::v1::WorkloadFacts*>{}
                        : PeersOn(s, *master, f, f.master_port(), &listening);
  if (on.empty()) RememberUnresolved(s, f.master_addr(), absl::StrCat("M|", f.key()), t);
  for (const auto* v : on) {
    AddLink(
        s, p, "master_addr", f.key(), v->key(), absl::StrCat(f.key(), "|", v->key()),
        [&] {
          return absl::StrCat(DescribeWorkload(s, f.key()), " has MASTER_ADDR=", f.master_addr(),
                              ":", f.master_port(), ", node ", master->node_id(), " (",
                              master->datacenter(), ") where ", DescribeWorkload(s, v->key()),
                              listening ? " listens on that port" : " runs");
        },
        t);
  }
}

void LinkPeer(Analyzer::State& s, const policy::Policy& p, const provenance::v1::WorkloadFacts& f,
              const PeerObservation& peer, int64_t t) {
  const provenance::v1::NodeFacts* remote = RemoteNode(s, peer.address, f.node_id());
  bool listening = false;
  const std::vector<const provenance::v1::WorkloadFacts*> on =
      remote == nullptr ? std::vector<const provenance::v1::WorkloadFacts*>{}
                        : PeersOn(s, *remote, f, peer.port, &listening);
  if (on.empty()) {
    RememberUnresolved(s, peer.address, absl::StrCat("P|", f.key(), "|", peer.port), t);
  }
  // An address no node claims may be a coordinator outside the fleet.
  if (!s.address_to_node.contains(peer.address)) ExternalPeer(s, p, f, peer, t);
  for (const auto* v : on) {
    AddLink(
        s, p, "network_peer", f.key(), v->key(), absl::StrCat(f.key(), "|", v->key()),
        [&] {
          return absl::StrCat(DescribeWorkload(s, f.key()), " exchanges traffic with ",
                              peer.address, ":", peer.port, ", node ", remote->node_id(), " (",
                              remote->datacenter(), ") where ", DescribeWorkload(s, v->key()),
                              listening ? " listens on that port" : " runs");
        },
        t);
  }
}

void TimeBucket(Analyzer::State& s, const policy::Policy& p,
                absl::btree_map<int64_t, Bucket>& buckets, const std::string& key, int64_t at,
                const char* verb, int64_t t) {
  const int64_t window = std::max<int64_t>(Micros(p.correlation.co_start_window), 1);
  const int64_t b = at / window;
  size_t total = 0;
  for (int64_t d = -1; d <= 1; ++d) {
    auto it = buckets.find(b + d);
    if (it != buckets.end()) total += it->second.size();
  }
  const bool stopped = std::string(verb) == "stopped";
  // Starting or stopping together is weak evidence and common in a busy fleet: only training
  // workloads count, and a window shared by more than a few is not evidence at all.
  const auto& f = s.workloads.at(key);
  const size_t cap = std::min<size_t>(p.correlation.max_bucket_workloads, kCoStartMaxBucket);
  if (f.workload_class() != provenance::v1::WORKLOAD_CLASS_TRAINING) return;
  if (total <= cap) {
    for (int64_t d = -1; d <= 1; ++d) {
      auto it = buckets.find(b + d);
      if (it == buckets.end()) continue;
      for (const std::string& other : it->second) {
        const auto& v = s.workloads.at(other);
        if (v.account() == f.account() ||
            v.workload_class() != provenance::v1::WORKLOAD_CLASS_TRAINING) {
          continue;
        }
        const int64_t other_at = stopped ? v.last_time_us() : v.started_us();
        const int64_t gap = std::abs(other_at - at);
        if (gap > window) continue;
        AddLink(
            s, p, "co_start", key, other, absl::StrCat(verb, "|", key, "|", other),
            [&] {
              return absl::StrCat(DescribeWorkload(s, key), " and ", DescribeWorkload(s, other),
                                  " ", verb, " within ",
                                  absl::FormatDuration(absl::Microseconds(gap)), " of each other");
            },
            t);
      }
    }
  }
  buckets[b].push_back(key);
  while (buckets.size() > 4096) buckets.erase(buckets.begin());
}

std::string AddLink(Analyzer::State& s, const policy::Policy& p, const std::string& kind,
                    const std::string& workload_a, const std::string& workload_b,
                    const std::string& evidence, absl::FunctionRef<std::string()> sentence,
                    int64_t t) {
  const auto& wa = s.workloads.at(workload_a);
  const auto& wb = s.workloads.at(workload_b);
  return AddAccountLink(s, p, kind, wa.account(), wb.account(), workload_a, workload_b, evidence,
                        sentence, t, 0);
}

std::string AddAccountLink(Analyzer::State& s, const policy::Policy& p, const std::string& kind,
                           std::string a, std::string b, std::string workload_a,
                           std::string workload_b, const std::string& evidence,
                           absl::FunctionRef<std::string()> sentence, int64_t t,
                           int64_t kyc_version, double discount) {
  if (a == b || !Attributed(a) || !Attributed(b)) return "";
  if (b < a) {
    std::swap(a, b);
    std::swap(workload_a, workload_b);
  }
  std::string key = absl::StrCat(kind, "|", a, "|", b, "|", evidence);
  auto [it, inserted] = s.links.try_emplace(key);
  provenance::v1::Link& link = it->second;
  if (!inserted) {
    if (t > 0 && t - ToMicros(link.last_time()) >= 3600 * kMicrosPerSecond) {
      SetTimestamp(link.mutable_last_time(), t);
      s.changed_links.insert(key);
    }
    return key;
  }
  link.set_kind(kind);
  link.set_account_a(a);
  link.set_account_b(b);
  link.set_workload_a(workload_a);
  link.set_workload_b(workload_b);
  if (discount > 0) link.set_discount(std::min(discount, 1.0));
  link.set_weight(LinkWeight(p, link));
  link.set_sentence(sentence());
  SetTimestamp(link.mutable_first_time(), t);
  SetTimestamp(link.mutable_last_time(), t);
  link.set_policy_version(p.version);
  if (kyc_version > 0) link.set_kyc_version(absl::StrCat(kyc_version));
  s.changed_links.insert(key);
  s.removed_links.erase(key);
  PairState& pair = s.pairs[AccountPair(a, b)];
  pair.link_keys.insert(key);
  UpdatePair(s, p, AccountPair(a, b), t);
  return key;
}

void RemoveLink(Analyzer::State& s, const policy::Policy& p, const std::string& key) {
  auto it = s.links.find(key);
  if (it == s.links.end()) return;
  const AccountPair pair(it->second.account_a(), it->second.account_b());
  s.links.erase(it);
  s.changed_links.erase(key);
  s.removed_links.insert(key);
  auto ps = s.pairs.find(pair);
  if (ps == s.pairs.end()) return;
  ps->second.link_keys.erase(key);
  UpdatePair(s, p, pair, s.latest_evidence_us);
  if (ps->second.link_keys.empty() && !ps->second.joined) s.pairs.erase(ps);
}

double LinkWeight(const policy::Policy& p, const provenance::v1::Link& link) {
  auto w = p.correlation.weights.find(link.kind());
  const double weight = w == p.correlation.weights.end() ? 0 : w->second;
  return weight * (1 - std::clamp(link.discount(), 0.0, 1.0));
}

bool ScorePair(const Analyzer::State& s, const policy::Policy& p, PairState& pair) {
  pair.max_weight.clear();
  pair.count.clear();
  for (const std::string& lk : pair.link_keys) {
    const provenance::v1::Link& link = s.links.at(lk);
    double& w = pair.max_weight[link.kind()];
    w = std::max(w, link.weight());
    ++pair.count[link.kind()];
  }
  double miss = 1, workload_miss = 1;
  for (const auto& [kind, w] : pair.max_weight) {
    miss *= 1 - w;
    if (!policy::IsSupportingLinkKind(kind)) workload_miss *= 1 - w;
  }
  pair.score = 1 - miss;
  // Weak links never carry a merge: the workload-level evidence alone must be substantial (and
  // non-zero), whatever identity and co-start links add on top.
  const double workload = 1 - workload_miss;
  return workload > 0 && workload >= p.correlation.min_workload_evidence - 1e-9 &&
         pair.score >= p.correlation.bundle_threshold - 1e-9;
}

void UpdatePair(Analyzer::State& s, const policy::Policy& p, const AccountPair& key, int64_t t) {
  PairState& pair = s.pairs[key];
  const bool joined = ScorePair(s, p, pair);
  if (joined != pair.joined) {
    pair.joined = joined;
    if (joined) {
      s.joined_adj[key.first].insert(key.second);
      s.joined_adj[key.second].insert(key.first);
      JoinBundles(s, key.first, key.second, t);
    } else {
      s.joined_adj[key.first].erase(key.second);
      s.joined_adj[key.second].erase(key.first);
      SplitBundle(s, key.first, key.second, t);
    }
  }
  auto ba = s.account_bundle.find(key.first);
  auto bb = s.account_bundle.find(key.second);
  if (ba != s.account_bundle.end() && bb != s.account_bundle.end() && ba->second == bb->second) {
    BundleState& bundle = s.bundles.at(ba->second);
    bundle.link_generation = static_cast<int>(std::log2(++bundle.links_added + 1));
    s.dirty_bundles.insert(ba->second);
  }
}

std::string EnsureBundle(Analyzer::State& s, const std::string& account, int64_t t) {
  auto it = s.account_bundle.find(account);
  if (it != s.account_bundle.end()) return it->second;
  BundleState b;
  b.seq = s.next_bundle_seq++;
  b.id = absl::StrFormat("B-%06d", b.seq);
  b.accounts.insert(account);
  b.first_us = t;
  b.last_us = t;
  const std::string id = b.id;
  s.bundles.emplace(id, std::move(b));
  s.account_bundle[account] = id;
  s.changed_bundles.insert(id);
  s.dirty_bundles.insert(id);
  return id;
}

void JoinBundles(Analyzer::State& s, const std::string& a, const std::string& b, int64_t t) {
  std::string ia = EnsureBundle(s, a, t), ib = EnsureBundle(s, b, t);
  if (ia == ib) {
    s.dirty_bundles.insert(ia);
    return;
  }
  if (s.bundles.at(ib).seq < s.bundles.at(ia).seq) std::swap(ia, ib);
  BundleState& keep = s.bundles.at(ia);
  BundleState& gone = s.bundles.at(ib);
  for (const std::string& acct : gone.accounts) {
    keep.accounts.insert(acct);
    s.account_bundle[acct] = ia;
  }
  keep.first_us = std::min(keep.first_us, gone.first_us);
  keep.joined_us = std::max({keep.joined_us, gone.joined_us, t});
  keep.last_us = std::max(keep.last_us, gone.last_us);
  gone.accounts.clear();
  gone.merged_into = ia;
  // Anything merged into `gone` earlier now points at the survivor too.
  for (auto& [id, other] : s.bundles) {
    if (other.merged_into == ib) {
      other.merged_into = ia;
      s.changed_bundles.insert(id);
    }
  }
  s.changed_bundles.insert(ia);
  s.changed_bundles.insert(ib);
  s.dirty_bundles.insert(ia);
  s.dirty_bundles.erase(ib);
  MoveFlags(s, ib, ia);
}

void SplitBundle(Analyzer::State& s, const std::string& a, const std::string& b, int64_t t) {
  auto it = s.account_bundle.find(a);
  if (it == s.account_bundle.end()) return;
  const std::string id = it->second;
  std::set<std::string> reach{a};
  std::vector<std::string> todo{a};
  while (!todo.empty()) {
    std::string cur = std::move(todo.back());
    todo.pop_back();
    for (const std::string& n : s.joined_adj[cur]) {
      if (reach.insert(n).second) todo.push_back(n);
    }
  }
  if (reach.contains(b)) return;
  BundleState& bundle = s.bundles.at(id);
  std::set<std::string> rest;
  for (const std::string& acct : bundle.accounts) {
    if (!reach.contains(acct)) rest.insert(acct);
  }
  // The larger part keeps the id (and the flags); the other part becomes a new bundle.
  std::set<std::string>& moving = rest.size() > reach.size() ? reach : rest;
  std::set<std::string> moved = moving;
  for (const std::string& acct : moved) {
    bundle.accounts.erase(acct);
    s.account_bundle.erase(acct);
  }
  std::string fresh;
  for (const std::string& acct : moved) {
    if (fresh.empty()) {
      fresh = EnsureBundle(s, acct, t);
    } else {
      s.bundles.at(fresh).accounts.insert(acct);
      s.account_bundle[acct] = fresh;
    }
  }
  s.changed_bundles.insert(id);
  s.dirty_bundles.insert(id);
  if (!fresh.empty()) s.dirty_bundles.insert(fresh);
}

void Analyzer::SetPolicy(std::shared_ptr<const policy::Policy> policy) {
  policy_ = std::move(policy);
  State& s = *s_;
  const policy::Policy& p = *policy_;
  for (auto& [key, link] : s.links) {
    const double weight = LinkWeight(p, link);
    if (weight != link.weight() || link.policy_version() != p.version) {
      link.set_weight(weight);
      link.set_policy_version(p.version);
      s.changed_links.insert(key);
    }
  }
  // Off-fleet addresses are judged again under the new list of common endpoints.
  for (auto it = s.endpoints.begin(); it != s.endpoints.end();) {
    const bool declared =
        std::any_of(p.correlation.common_endpoints.begin(), p.correlation.common_endpoints.end(),
                    [&](const policy::AddressRange& r) { return r.Contains(it->first); });
    if (declared) {
      EndpointInFleet(s, p, it->first);  // withdraws its links and excludes it
      ++it;
    } else if (it->second.excluded && !s.address_to_node.contains(it->first)) {
      s.endpoints.erase(it++);
    } else {
      ++it;
    }
  }
  std::vector<AccountPair> pairs;
  for (const auto& [pair, st] : s.pairs) pairs.push_back(pair);
  for (const AccountPair& pair : pairs) UpdatePair(s, p, pair, s.latest_evidence_us);
  for (const auto& [id, b] : s.bundles) {
    if (b.merged_into.empty()) s.dirty_bundles.insert(id);
  }
  for (const auto& [id, n] : s.nodes) s.dirty_nodes.insert(id);
  for (const auto& [acct, hits] : s.screening) s.dirty_accounts.insert(acct);
}

AnalyzerChanges Analyzer::TakeChanges() {
  State& s = *s_;
  AnalyzerChanges c;
  c.nodes.assign(s.changed_nodes.begin(), s.changed_nodes.end());
  c.workloads.assign(s.changed_workloads.begin(), s.changed_workloads.end());
  c.links.assign(s.changed_links.begin(), s.changed_links.end());
  c.removed_links.assign(s.removed_links.begin(), s.removed_links.end());
  c.bundles.assign(s.changed_bundles.begin(), s.changed_bundles.end());
  c.flags.assign(s.changed_flags.begin(), s.changed_flags.end());
  s.changed_nodes.clear();
  s.changed_workloads.clear();
  s.changed_links.clear();
  s.removed_links.clear();
  s.changed_bundles.clear();
  s.changed_flags.clear();
  return c;
}

void Analyzer::Requeue(const AnalyzerChanges& c) {
  State& s = *s_;
  s.changed_nodes.insert(c.nodes.begin(), c.nodes.end());
  s.changed_workloads.insert(c.workloads.begin(), c.workloads.end());
  s.changed_links.insert(c.links.begin(), c.links.end());
  s.removed_links.insert(c.removed_links.begin(), c.removed_links.end());
  s.changed_bundles.insert(c.bundles.begin(), c.bundles.end());
  s.changed_flags.insert(c.flags.begin(), c.flags.end());
}

}  // namespace prov::server
