// Analyzer, part 3: identity evidence (KYC records, screening hits) and restoring persisted state.
#include <algorithm>
#include <cctype>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/analysis/analyzer.h"
#include "server/analysis/analyzer_internal.h"
#include "server/analysis/analyzer_state.h"

namespace prov::server {
namespace {

// Free-mail and very common domains say nothing about who is behind an account.
bool CommonEmailDomain(const std::string& d) {
  static const char* const kCommon[] = {
      "gmail.com",  "googlemail.com", "outlook.com",    "hotmail.com", "yahoo.com",
      "icloud.com", "proton.me",      "protonmail.com", "qq.com",      "163.com",
      "126.com",    "mail.ru",        "yandex.ru",      "gmx.de",      "aol.com"};
  return std::find(std::begin(kCommon), std::end(kCommon), d) != std::end(kCommon);
}

// Lower case, punctuation to spaces, runs of spaces collapsed.
std::string Fold(const std::string& text) {
  std::string out;
  bool space = false;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c >= 0x80) {
      if (space && !out.empty()) out.push_back(' ');
      space = false;
      out.push_back(static_cast<char>(std::tolower(c)));
    } else {
      space = true;
    }
  }
  return out;
}

// How common the parts of beneficial owners' names are in the KYC population: a name shared by
// two accounts says who is behind them only if it is rare. Each part's frequency is the share of
// accounts whose owners' names contain it (add-one smoothed, not counting the accounts that share
// the name under test); parts are treated as independent, so the number of accounts expected to
// bear the whole name by chance is N x prod(frequency). "Wei Wang" in a population where both
// parts are frequent is expected several times over and links nothing; "Xochitl Abernathy" once
// in millions and keeps the kind's full weight.
class NameParts {
 public:
  explicit NameParts(
      const absl::flat_hash_map<std::string, provenance::v1::AccountIdentity>& identities) {
    for (const auto& [id, a] : identities) {
      if (a.beneficial_owners().empty()) continue;
      ++population_;
      std::set<std::string> parts;
      for (const auto& o : a.beneficial_owners()) {
        for (absl::string_view part : absl::StrSplit(Fold(o.name()), ' ', absl::SkipEmpty())) {
          parts.emplace(part);
        }
      }
      for (const std::string& part : parts) ++accounts_with_[part];
    }
  }
  int population() const { return population_; }
  // Accounts expected to bear the folded `name` by chance; `holders` accounts actually share it.
  double ExpectedHolders(const std::string& name, size_t holders) const {
    double p = 1;
    std::set<std::string> seen;
    for (absl::string_view part : absl::StrSplit(name, ' ', absl::SkipEmpty())) {
      if (!seen.emplace(part).second) continue;
      auto it = accounts_with_.find(std::string(part));
      const int with = it == accounts_with_.end() ? 0 : it->second;
      const double others = std::max(0, with - static_cast<int>(holders));
      p *= (others + 1) / (population_ + 1.0);
    }
    return population_ * p;
  }

 private:
  int population_ = 0;
  absl::flat_hash_map<std::string, int> accounts_with_;  // name part -> accounts
};

struct IdentityKey {
  const char* kind;
  const char* what;  // for the sentence
};

}  // namespace

bool IsStrongScreeningMatch(const provenance::v1::ScreeningMatch& m, double min_score) {
  if (m.strength().empty()) return m.score() >= min_score;
  return m.strength() == "strong";
}

std::string ScreeningReviewRule(const provenance::v1::ScreeningMatch& m) {
  return absl::StrCat("screening_review:", m.entry_id(), "@", m.entry_content_hash());
}

void Analyzer::SetIdentity(const IdentitySnapshot& snapshot, absl::Time now) {
  State& s = *s_;
  const policy::Policy& p = *policy_;
  const int64_t now_us = absl::ToUnixMicros(now);
  s.kyc_version = snapshot.kyc_version;
  s.identity_evidence_us = s.latest_evidence_us;
  s.screening_list_version = snapshot.screening_list_version;
  for (const auto& [acct, hits] : s.screening) s.dirty_accounts.insert(acct);
  s.identities.clear();
  if (snapshot.accounts != nullptr) {
    for (const auto& a : *snapshot.accounts) s.identities[a.account_id()] = a;
  }
  s.screening.clear();
  for (const auto& m : snapshot.screening) s.screening[m.account_id()].push_back(m);
  for (const auto& [acct, hits] : s.screening) s.dirty_accounts.insert(acct);

  // Identity links are derived from the snapshot as a whole: withdraw the old ones first.
  std::vector<std::string> old;
  for (const auto& [key, link] : s.links) {
    if (absl::StartsWith(link.kind(), "identity_")) old.push_back(key);
  }
  for (const std::string& key : old) RemoveLink(s, p, key);

  std::map<std::pair<std::string, std::string>, std::set<std::string>> by_value;  // (kind, value)
  std::map<std::pair<std::string, std::string>, std::string> shown;               // original text
  auto add = [&](const char* kind, const std::string& value, const std::string& original,
                 const std::string& account) {
    if (value.empty()) return;
    by_value[{kind, value}].insert(account);
    shown.emplace(std::make_pair(std::string(kind), value), original);
  };
  for (const auto& [id, a] : s.identities) {
    add("identity_payment", a.payment_fingerprint(), a.payment_fingerprint(), id);
    for (const auto& o : a.beneficial_owners()) add("identity_owner", Fold(o.name()), o.name(), id);
    for (const auto& d : a.email_domains()) {
      const std::string lower = absl::AsciiStrToLower(d);
      if (!CommonEmailDomain(lower)) add("identity_email", lower, d, id);
    }
    for (const auto& addr : a.addresses()) add("identity_address", Fold(addr), addr, id);
    for (const auto& ip : a.source_ips()) add("identity_source_ip", ip, ip, id);
    if (!a.parent_account().empty()) {
      add("identity_reseller", a.parent_account(), a.parent_account(), id);
      add("identity_reseller", a.parent_account(), a.parent_account(), a.parent_account());
    }
  }
  static const absl::flat_hash_map<std::string, std::string> kWhat = {
      {"identity_payment", "payment instrument"},  {"identity_owner", "beneficial owner"},
      {"identity_email", "contact e-mail domain"}, {"identity_address", "address"},
      {"identity_source_ip", "source IP address"}, {"identity_reseller", "reseller chain under"}};
  const NameParts name_parts(s.identities);
  for (const auto& entry : by_value) {
    const auto& kv = entry.first;  // named, not bound: the lambda below captures them
    const auto& accounts = entry.second;
    if (accounts.size() < 2 ||
        accounts.size() > static_cast<size_t>(p.correlation.identity_max_accounts)) {
      continue;
    }
    // A registered agent's or formation agent's address is shared by many unrelated companies.
    if (kv.first == "identity_address" &&
        accounts.size() > static_cast<size_t>(p.correlation.identity_address_max_accounts)) {
      continue;
    }
    double discount = 0;
    std::string why;
    if (kv.first == "identity_owner") {
      const double expected = name_parts.ExpectedHolders(kv.second, accounts.size());
      discount = std::min(expected, 1.0);
      if (discount >= 1) continue;  // a name this common says nothing
      if (discount > 0.005) {
        why = absl::StrFormat(
            "; its parts are common enough that %.2f of %d accounts would bear it by chance, so "
            "it counts %.0f%%",
            expected, name_parts.population(), 100 * (1 - discount));
      }
    }
    const std::vector<std::string> list(accounts.begin(), accounts.end());
    for (size_t i = 0; i < list.size(); ++i) {
      for (size_t j = i + 1; j < list.size(); ++j) {
        AddAccountLink(
            s, p, kv.first, list[i], list[j], "", "", kv.second,
            [&] {
              return absl::StrCat("Accounts ", list[i], " and ", list[j], " share the ",
                                  kWhat.at(kv.first), " \"", shown[kv], "\" (KYC version ",
                                  s.kyc_version, why, ")");
            },
            now_us, s.kyc_version, discount);
      }
    }
  }

  // Restricted parties: own screening hits, restricted jurisdictions, or an ancestor's.
  absl::flat_hash_map<std::string, std::vector<std::string>> own;
  for (const auto& [id, a] : s.identities) {
    auto& reasons = own[id];
    if (p.IsRestrictedJurisdiction(a.country_of_incorporation())) {
      reasons.push_back(absl::StrCat(id, " is incorporated in ", a.country_of_incorporation(),
                                     ", a restricted jurisdiction (policy ", p.version, ")"));
    }
    for (const auto& o : a.beneficial_owners()) {
      if (p.IsRestrictedJurisdiction(o.nationality())) {
        reasons.push_back(absl::StrCat("beneficial owner ", o.name(), " of ", id,
                                       " is a national of ", o.nationality(),
                                       ", a restricted jurisdiction"));
      }
    }
  }
  for (const auto& [id, hits] : s.screening) {
    for (const auto& m : hits) {
      if (!IsStrongScreeningMatch(m, p.screening.min_score)) continue;  // weak: a review item
      own[id].push_back(
          absl::StrCat("screening: ", m.subject_kind(), " \"", m.subject_name(), "\" of ", id,
                       " matches \"", m.entry_name(), "\" (", m.entry_source(), ") score ",
                       absl::StrFormat("%.2f", m.score()), ", list ", m.list_version()));
    }
  }
  for (auto& [id, acct] : s.accounts) acct.restricted_reasons.clear();
  for (const auto& [id, a] : s.identities) {
    std::vector<std::string> reasons = own[id];
    std::string chain = id;
    std::set<std::string> seen{id};
    for (std::string parent = a.parent_account(); !parent.empty() && seen.insert(parent).second;) {
      chain = absl::StrCat(chain, " -> ", parent);
      for (const std::string& r : own[parent]) {
        reasons.push_back(absl::StrCat("via reseller chain ", chain, ": ", r));
      }
      auto it = s.identities.find(parent);
      parent = it == s.identities.end() ? "" : it->second.parent_account();
    }
    if (reasons.empty() && !s.accounts.contains(id)) continue;
    AccountState& acct = s.accounts[id];
    acct.restricted_reasons = std::move(reasons);
  }
  for (const auto& [id, acct] : s.accounts) {
    auto b = s.account_bundle.find(id);
    if (b != s.account_bundle.end()) s.dirty_bundles.insert(b->second);
  }
}

void Analyzer::RestoreNode(provenance::v1::NodeFacts node) {
  State& s = *s_;
  for (const auto& a : node.addresses()) ClaimAddress(s, a, node.node_id());
  if (!node.hostname().empty()) ClaimAddress(s, node.hostname(), node.node_id());
  ClaimAddress(s, node.node_id(), node.node_id());
  const std::string id = node.node_id();
  s.nodes[id] = std::move(node);
}

void Analyzer::RestoreWorkload(provenance::v1::WorkloadFacts w) {
  State& s = *s_;
  AccountState& acct = s.accounts[w.account()];
  acct.workloads.insert(w.key());
  acct.training_low += w.training_flop_low();
  if (w.training_flop_low() > 0) {
    acct.history[w.last_time_us()] += w.training_flop_low();  // a restart keeps totals only
    if (acct.history.size() > kMaxHistory) CompactHistory(acct.history);
  }
  acct.training_high += w.training_flop_high();
  acct.training_seconds += w.training_accelerator_seconds();
  acct.method = MergeMethods(acct.method, w.method());
  if (w.training_accelerator_seconds() > 0) {
    acct.trains = true;
    if (acct.first_train_us == 0 || w.first_time_us() < acct.first_train_us) {
      acct.first_train_us = w.first_time_us();
    }
  }
  if (acct.first_us == 0 || w.first_time_us() < acct.first_us) acct.first_us = w.first_time_us();
  acct.last_us = std::max(acct.last_us, w.last_time_us());
  for (const std::string& d : w.digests()) {
    std::set<std::string>& accounts = s.digest_accounts[d];
    accounts.insert(w.account());
    s.digest_example.try_emplace(absl::StrCat(d, "|", w.account()), w.key());
    auto [first, inserted] = s.digest_first_us.try_emplace(d, w.first_time_us());
    if (!inserted && w.first_time_us() < first->second) first->second = w.first_time_us();
    if (std::find(w.artifact_digests().begin(), w.artifact_digests().end(), d) !=
        w.artifact_digests().end()) {
      s.artifact_digests.insert(d);
    }
  }
  if (w.ended()) {
    for (const std::string& d : w.artifact_digests()) {
      s.ended_by_digest[d].emplace_back(w.last_time_us(), w.key());
    }
  }
  s.latest_evidence_us = std::max(s.latest_evidence_us, w.last_time_us());
  const std::string key = w.key();
  s.workloads[key] = std::move(w);
}

void Analyzer::RestoreLink(const std::string& key, provenance::v1::Link link) {
  State& s = *s_;
  s.pairs[AccountPair(link.account_a(), link.account_b())].link_keys.insert(key);
  s.links[key] = std::move(link);
}

void Analyzer::RestoreBundle(provenance::v1::Bundle bundle) {
  State& s = *s_;
  BundleState b;
  b.id = bundle.bundle_id();
  uint64_t seq = 0;
  if (b.id.size() > 2 && absl::SimpleAtoi(b.id.substr(2), &seq)) b.seq = seq;
  s.next_bundle_seq = std::max(s.next_bundle_seq, b.seq + 1);
  b.merged_into = bundle.merged_into();
  b.first_us = ToMicros(bundle.first_time());
  b.last_us = ToMicros(bundle.last_time());
  // Saved since joined_time existed; 0 (unknown) for bundles saved before.
  if (bundle.has_joined_time()) b.joined_us = ToMicros(bundle.joined_time());
  for (const auto& a : bundle.accounts()) {
    b.accounts.insert(a);
    if (b.merged_into.empty()) s.account_bundle[a] = b.id;
  }
  s.bundles[b.id] = std::move(b);
}

void Analyzer::RestoreFlag(provenance::v1::Flag flag) {
  State& s = *s_;
  uint64_t n = 0;
  if (flag.flag_id().size() > 2 && absl::SimpleAtoi(flag.flag_id().substr(2), &n)) {
    s.next_flag = std::max(s.next_flag, n + 1);
  }
  if (flag.status() != provenance::v1::FLAG_STATUS_RESOLVED ||
      !absl::StartsWith(flag.summary(), "Merged into")) {
    s.flag_by_key[absl::StrCat(flag.rule(), "|", flag.subject())] = flag.flag_id();
  }
  if (flag.rule() == kNodeRejectedRule && flag.status() != provenance::v1::FLAG_STATUS_RESOLVED &&
      absl::StartsWith(flag.subject(), "node:") && !flag.evidence().empty() &&
      flag.evidence(flag.evidence_size() - 1).kind() != "recovered") {
    // A spell not yet noted as over: resolved (or noted) by the node's next stored report.
    s.rejecting_flagged.insert(flag.subject().substr(5));
  }
  if (flag.rule() == kHardwareSilentRule && flag.status() != provenance::v1::FLAG_STATUS_RESOLVED) {
    // Resolved by the card's or node's next report (rule_hardware_silent.cc).
    if (absl::StartsWith(flag.subject(), "node:")) {
      HardwareNode& n = s.hw.nodes[flag.subject().substr(5)];
      n.silent = true;
      n.dark_since_us = ToMicros(flag.first_time());
    } else if (absl::StartsWith(flag.subject(), "accelerator:")) {
      s.hw.silent_cards.insert(flag.subject().substr(12));
    }
  }
  const std::string id = flag.flag_id();
  s.flags[id] = std::move(flag);
}

void Analyzer::FinishRestore() {
  State& s = *s_;
  const policy::Policy& p = *policy_;
  // Digests over the cap were dropped when they crossed it; mark them common again.
  for (auto it = s.digest_accounts.begin(); it != s.digest_accounts.end();) {
    if (it->second.size() > static_cast<size_t>(p.correlation.common_artifact_max_accounts)) {
      s.common_digests.insert(it->first);
      s.digest_accounts.erase(it++);
    } else {
      ++it;
    }
  }
  for (const auto& [key, link] : s.links) {
    if (link.kind() == "artifact" || link.kind() == "image") {
      const std::string digest = key.substr(key.rfind('|') + 1);
      s.digest_links[digest].insert(key);
      s.settled_digests.insert(digest);  // it linked before the restart
    } else if (link.kind() == "external_peer") {
      RestoreEndpointLink(s, key, link);
    } else if (link.kind() == "handoff") {
      // "handoff|<a>|<b>|<digest>|<ended workload>|<started workload>"
      const std::vector<std::string> parts = absl::StrSplit(key, '|');
      if (parts.size() >= 4) {
        s.digest_links[parts[3]].insert(key);
        s.settled_digests.insert(parts[3]);
      }
    }
  }
  for (auto& [pair, st] : s.pairs) {
    st.joined = ScorePair(s, p, st);
    if (st.joined) {
      s.joined_adj[pair.first].insert(pair.second);
      s.joined_adj[pair.second].insert(pair.first);
    }
  }
  // Accounts that train but whose bundle row was lost get one now.
  for (const auto& [id, acct] : s.accounts) {
    if (acct.trains && id != kUnattributedAccount) EnsureBundle(s, id, acct.first_us);
  }
  s.changed_nodes.clear();
  s.changed_workloads.clear();
  s.changed_links.clear();
  s.dirty_bundles.clear();
}

}  // namespace prov::server
