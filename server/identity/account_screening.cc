#include "server/identity/account_screening.h"

#include <algorithm>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace prov::server {
namespace {

using provenance::v1::AccountIdentity;
using provenance::v1::ScreeningMatch;

struct Subject {
  std::string kind;  // "legal_entity", "beneficial_owner", "reseller"
  std::string name;
  std::string context;                   // a leading reason, e.g. the reseller chain
  screening::ScreeningSubject screened;  // name, kind and secondary identifiers
};

screening::ScreeningSubject Entity(const std::string& name, const AccountIdentity* record) {
  screening::ScreeningSubject s;
  s.name = name;
  s.kind = screening::SubjectKind::kEntity;
  if (record != nullptr) {
    s.country = record->country_of_incorporation();
    s.registration_numbers.assign(record->registration_numbers().begin(),
                                  record->registration_numbers().end());
  }
  return s;
}

// The ancestors of `account` nearest first, each as a subject.
std::vector<Subject> ResellerChain(
    const AccountIdentity& account,
    const absl::flat_hash_map<std::string, const AccountIdentity*>& by_id) {
  std::vector<Subject> out;
  absl::flat_hash_set<std::string> visited = {account.account_id()};
  std::vector<std::string> path = {account.account_id()};
  std::string parent = account.parent_account();
  for (int depth = 0; !parent.empty() && depth < kMaxResellerDepth; ++depth) {
    if (!visited.insert(parent).second) break;  // a cycle
    path.push_back(parent);
    auto it = by_id.find(parent);
    Subject s;
    s.kind = "reseller";
    std::string chain = absl::StrJoin(path, " -> ");
    if (it != by_id.end() && !it->second->legal_entity().empty()) {
      s.name = it->second->legal_entity();
      s.screened = Entity(s.name, it->second);
      s.context = absl::StrCat("reseller chain ", chain, ": ancestor ", parent,
                               " screened by its legal entity");
      parent = it->second->parent_account();
    } else {
      s.name = parent;
      s.screened = Entity(s.name, nullptr);
      s.context = absl::StrCat("reseller chain ", chain, ": ancestor ", parent,
                               " has no imported KYC record; screened by its account id");
      parent.clear();
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

std::vector<std::string> AffectedAccounts(const std::vector<AccountIdentity>& accounts,
                                          const absl::flat_hash_set<std::string>& changed) {
  absl::flat_hash_map<std::string, const AccountIdentity*> by_id;
  for (const AccountIdentity& a : accounts) by_id[a.account_id()] = &a;
  std::vector<std::string> out;
  for (const AccountIdentity& a : accounts) {
    bool affected = changed.contains(a.account_id());
    absl::flat_hash_set<std::string> visited = {a.account_id()};
    std::string parent = a.parent_account();
    for (int depth = 0; !affected && !parent.empty() && depth < kMaxResellerDepth; ++depth) {
      if (!visited.insert(parent).second) break;
      affected = changed.contains(parent);
      auto it = by_id.find(parent);
      if (it == by_id.end()) break;
      parent = it->second->parent_account();
    }
    if (affected) out.push_back(a.account_id());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<ScreeningMatch> ScreenAccounts(const std::vector<AccountIdentity>& accounts,
                                           const screening::Screener& screener, int64_t kyc_version,
                                           const absl::flat_hash_set<std::string>* only,
                                           const std::function<bool()>* cancelled) {
  absl::flat_hash_map<std::string, const AccountIdentity*> by_id;
  std::vector<const AccountIdentity*> ordered;
  for (const AccountIdentity& a : accounts) {
    by_id[a.account_id()] = &a;
    ordered.push_back(&a);
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const auto* a, const auto* b) { return a->account_id() < b->account_id(); });
  std::vector<ScreeningMatch> out;
  absl::flat_hash_map<std::string, std::vector<screening::ScreeningHit>> screened;  // ancestors
  size_t done = 0;
  for (const AccountIdentity* account : ordered) {
    if (only != nullptr && !only->contains(account->account_id())) continue;
    if (cancelled != nullptr && *cancelled && ++done % 64 == 0 && (*cancelled)()) break;
    std::vector<Subject> subjects;
    subjects.push_back(
        {"legal_entity", account->legal_entity(), "", Entity(account->legal_entity(), account)});
    for (const auto& owner : account->beneficial_owners()) {
      screening::ScreeningSubject person;
      person.name = owner.name();
      person.kind = screening::SubjectKind::kPerson;
      person.birth_date = owner.birth_date();
      person.nationality = owner.nationality();
      subjects.push_back({"beneficial_owner", owner.name(), "", std::move(person)});
    }
    for (Subject& s : ResellerChain(*account, by_id)) subjects.push_back(std::move(s));
    absl::flat_hash_set<std::string> seen;
    for (const Subject& subject : subjects) {
      if (subject.name.empty()) continue;
      // An ancestor's name recurs for each of its descendants: screen it once. (Other names are
      // not kept, so memory stays flat over a full re-screening.)
      std::vector<screening::ScreeningHit> direct;
      const std::vector<screening::ScreeningHit>* hits = &direct;
      if (subject.kind == "reseller") {
        // Keyed by everything the screener reads: the same name with other identifiers (country,
        // registration numbers) may score differently.
        const std::string memo_key =
            absl::StrCat(subject.name, "\x1f", subject.screened.country, "\x1f",
                         absl::StrJoin(subject.screened.registration_numbers, ";"));
        auto memo = screened.find(memo_key);
        if (memo == screened.end()) {
          memo = screened.emplace(memo_key, screener.Screen(subject.screened)).first;
        }
        hits = &memo->second;
      } else {
        direct = screener.Screen(subject.screened);
      }
      for (const screening::ScreeningHit& hit : *hits) {
        std::string key = absl::StrCat(subject.kind, "\x1f", subject.name, "\x1f", hit.entry->id);
        if (!seen.insert(key).second) continue;
        ScreeningMatch m;
        m.set_account_id(account->account_id());
        m.set_subject_kind(subject.kind);
        m.set_subject_name(subject.name);
        m.set_list_version(screener.list_version());
        m.set_entry_id(hit.entry->id);
        m.set_entry_name(hit.matched_name);
        m.set_entry_source(hit.entry->source);
        m.set_matched_alias(hit.matched_alias);
        m.set_score(hit.score);
        m.set_strength(screening::MatchStrengthName(hit.strength));
        m.set_entry_content_hash(hit.entry->content_hash);
        if (!subject.context.empty()) m.add_reasons(subject.context);
        for (const std::string& r : hit.reasons) m.add_reasons(r);
        m.set_kyc_version(kyc_version);
        out.push_back(std::move(m));
      }
    }
  }
  return out;
}

}  // namespace prov::server
