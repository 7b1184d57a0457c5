// Internal to server/analysis: the Analyzer's helpers shared between its .cc files.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/container/btree_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "server/analysis/analyzer_state.h"

namespace prov::server {

inline constexpr size_t kMaxListed = 200;  // entities listed on a flag or bundle
inline constexpr int64_t kMicrosPerDay = int64_t{86400} * 1000000;

// "3.2e+25": figures in flag sentences.
inline std::string Eng(double v) { return absl::StrFormat("%.2g", v); }
// "2026-12-05 20:15:03 UTC"
std::string ClockText(int64_t us);

// Replaces *out with the first kMaxListed of `values`.
template <typename Set>
void Fill(google::protobuf::RepeatedPtrField<std::string>* out, const Set& values) {
  out->Clear();
  size_t n = 0;
  for (const auto& v : values) {
    if (n++ == kMaxListed) break;
    out->Add(std::string(v));
  }
}
// Appends `value` to *out unless it is there already (or *out holds kMaxListed).
void AddUnique(google::protobuf::RepeatedPtrField<std::string>* out, const std::string& value);

// A bundle's compute and restricted parties, summed over its accounts.
struct BundleTotals {
  double low = 0, high = 0, seconds = 0;
  std::string method;
  bool trains = false;
  std::vector<std::string> restricted;    // reasons
  int64_t restricted_first_train_us = 0;  // earliest training report of a restricted account
  std::vector<std::string> restricted_accounts, training_accounts;
  int64_t first_train_us = 0;  // earliest training report of any member
};
BundleTotals Totals(const Analyzer::State& s, const BundleState& b);

int64_t ToMicros(const google::protobuf::Timestamp& ts);
inline int64_t Micros(absl::Duration d) { return absl::ToInt64Microseconds(d); }
void SetTimestamp(google::protobuf::Timestamp* ts, int64_t us);
// "k8s:abc of account acme (n-17, dc-east)"
std::string DescribeWorkload(const Analyzer::State& s, const std::string& key);

// Issue 9: only a strong screening match may make an account a restricted party; a weak one is a
// screening_review item. Hits stored before strengths existed count as strong at min_score.
bool IsStrongScreeningMatch(const provenance::v1::ScreeningMatch& m, double min_score);
// The rule of the screening_review flag of one list entry version: "screening_review:<entry
// id>@<entry content hash>", so a cleared review (its case resolved false_positive) stays cleared
// through KYC and list re-imports until the list entry itself changes.
std::string ScreeningReviewRule(const provenance::v1::ScreeningMatch& m);

// Halves the oldest part of an account's FLOP history (bounded memory).
void CompactHistory(absl::btree_map<int64_t, double>& history);
// Records that `node` has `address` (or hostname); an address two nodes claim maps to "".
void ClaimAddress(Analyzer::State& s, const std::string& address, const std::string& node);
void ObserveWorkload(Analyzer::State& s, const policy::Policy& p, provenance::v1::NodeFacts& node,
                     const std::string& key, const WorkloadObservation& o, int64_t t);
void EndWorkload(Analyzer::State& s, const policy::Policy& p, const std::string& key);
void FindHandoffs(Analyzer::State& s, const policy::Policy& p, const std::string& key,
                  const std::string& digest, int64_t t);
void HandoffPair(Analyzer::State& s, const policy::Policy& p, const std::string& prev,
                 const std::string& next, const std::string& digest);
void IndexDigest(Analyzer::State& s, const policy::Policy& p, const std::string& key,
                 const std::string& digest, bool artifact, int64_t t);
// Links a digest's accounts once it has been seen for the policy's artifact_settle.
void SettleDigest(Analyzer::State& s, const policy::Policy& p, const std::string& digest,
                  int64_t t);
// Artifact links between `account` and every other account of a settled digest.
void LinkDigestAccount(Analyzer::State& s, const policy::Policy& p, const std::string& digest,
                       const std::string& account, int64_t t);
void LinkMaster(Analyzer::State& s, const policy::Policy& p, const provenance::v1::WorkloadFacts& f,
                int64_t t);
void LinkPeer(Analyzer::State& s, const policy::Policy& p, const provenance::v1::WorkloadFacts& f,
              const PeerObservation& peer, int64_t t);
// A peer address no node claims: indexed, and linked when training workloads of a few accounts
// talk to it (analyzer_external.cc).
void ExternalPeer(Analyzer::State& s, const policy::Policy& p,
                  const provenance::v1::WorkloadFacts& f, const PeerObservation& peer, int64_t t);
// `address` is inside the fleet (a node claimed it) or declared common by the policy: its
// external links are withdrawn and it links nothing from now on.
void EndpointInFleet(Analyzer::State& s, const policy::Policy& p, const std::string& address);
void RestoreEndpointLink(Analyzer::State& s, const std::string& key,
                         const provenance::v1::Link& link);
// A training workload's activity in one report (analyzer_rhythm.cc): starts its series, and on a
// change (pause or resume) records an event and scores the workloads of other accounts that
// changed within activity_tolerance (synchronised_activity, weighted by surprise).
void ObserveActivity(Analyzer::State& s, const policy::Policy& p,
                     const provenance::v1::WorkloadFacts& f, bool changed, int64_t t);
void TimeBucket(Analyzer::State& s, const policy::Policy& p,
                absl::btree_map<int64_t, Bucket>& buckets, const std::string& key, int64_t at,
                const char* verb, int64_t t);
// Returns the link key ("" when the accounts are equal or unattributed).
std::string AddLink(Analyzer::State& s, const policy::Policy& p, const std::string& kind,
                    const std::string& workload_a, const std::string& workload_b,
                    const std::string& evidence, absl::FunctionRef<std::string()> sentence,
                    int64_t t);
// `discount` (0..1) is the share of the kind's weight this evidence is not worth (Link.discount).
std::string AddAccountLink(Analyzer::State& s, const policy::Policy& p, const std::string& kind,
                           std::string a, std::string b, std::string workload_a,
                           std::string workload_b, const std::string& evidence,
                           absl::FunctionRef<std::string()> sentence, int64_t t,
                           int64_t kyc_version, double discount = 0);
// The policy's weight for the link's kind, less the link's own discount.
double LinkWeight(const policy::Policy& p, const provenance::v1::Link& link);
// Recomputes a pair's per-kind maxima and score from its links; returns whether the pair joins:
// score >= bundle_threshold and its workload-level kinds alone >= min_workload_evidence.
bool ScorePair(const Analyzer::State& s, const policy::Policy& p, PairState& pair);
void RemoveLink(Analyzer::State& s, const policy::Policy& p, const std::string& key);

// Creates or updates the flag for (rule, subject) (analyzer_flags.cc). `material` says what the
// flag rests on; an unchanged `material` leaves the flag as it is (no new revision per report).
void UpsertFlag(Analyzer::State& s, const std::string& rule, const std::string& subject,
                policy::Severity severity, const std::string& material,
                absl::FunctionRef<int64_t()> first_us, int64_t evidence_us, absl::Time now,
                const std::function<void(provenance::v1::Flag&)>& fill);
// Resolves the open flag of (rule, subject), if any, adding a `kind` evidence entry with
// `sentence` and appending `summary_note` to its summary; a case a person took (acknowledged,
// escalated) keeps its status and gets the evidence only. Returns whether a flag was touched.
bool ResolveFlag(Analyzer::State& s, const std::string& rule, const std::string& subject,
                 const std::string& kind, const std::string& sentence,
                 const std::string& summary_note, int64_t now_us);
// Reopens a flag the rules resolved when what raised it holds again (called from a fill).
void Reopen(provenance::v1::Flag& f);

// Node rules (analyzer_node_health.cc, rule.h): node_reports_rejected, a node whose every report is
// refused for the policy's node_health.rejecting_after while it keeps sending.
inline constexpr char kNodeRejectedRule[] = "node_reports_rejected";
void ObserveRejections(Analyzer::State& s, const NodeEvent& e);
// A report of `node_id` was stored: its spell, if any, is over.
void NodeReportStored(Analyzer::State& s, const std::string& node_id);
// node_identity_mismatch (analyzer_node_identity.cc): a node's client certificate used to report
// as another node. Raised (or reopened) at once on the certificate's node.
inline constexpr char kNodeIdentityMismatchRule[] = "node_identity_mismatch";
void ObserveIdentityMismatch(Analyzer::State& s, const NodeEvent& e);  // queued for the rule
// The hardware reconciliation rules (rule_hardware_*.cc, contract in docs/inventory-format.md).
inline constexpr char kHardwareRelabelledRule[] = "hardware_relabelled";
inline constexpr char kHardwareMovedRule[] = "hardware_moved";
inline constexpr char kHardwareClonedRule[] = "hardware_cloned_identity";
inline constexpr char kHardwareUndeclaredRule[] = "hardware_undeclared";
inline constexpr char kHardwareSilentRule[] = "hardware_silent";
inline constexpr char kHardwareAssignmentRule[] = "hardware_assignment";
// Location verification (rule_location.cc, issue 11): verdicts and forged answers the location
// hub reports (NodeEvent::kLocationVerdict / kLocationForged).
inline constexpr char kLocationContradictedRule[] = "location_contradicted";
inline constexpr char kLocationUnverifiedRule[] = "location_unverified";
inline constexpr char kLocationForgedRule[] = "location_answer_forged";
void UpdatePair(Analyzer::State& s, const policy::Policy& p, const AccountPair& key, int64_t t);
std::string EnsureBundle(Analyzer::State& s, const std::string& account, int64_t t);
void JoinBundles(Analyzer::State& s, const std::string& a, const std::string& b, int64_t t);
void SplitBundle(Analyzer::State& s, const std::string& a, const std::string& b, int64_t t);
// Flags about bundle `from` now belong to bundle `to` (analyzer_flags.cc).
void MoveFlags(Analyzer::State& s, const std::string& from, const std::string& to);

}  // namespace prov::server
