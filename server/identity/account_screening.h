// Screening of every current account against a screening list: the account's legal entity, each
// beneficial owner's name, and its reseller chain (every ancestor reached through parent_account,
// screened by the ancestor's legal entity, or by its account id when the parent was never
// imported). Legal entities and resellers are screened as entities (with their country of
// incorporation and registration numbers), owners as persons (with birth date and nationality);
// each hit carries its strength ("strong" or "weak", see screening/screener.h) and the list
// entry's content hash. A hit is a lead for a person, never a block.
//
//   screening::Screener screener(list, normalizer, {.threshold = policy.screening.min_score});
//   std::vector<ScreeningMatch> hits = ScreenAccounts(accounts, screener, /*kyc_version=*/3);
//
// Order is deterministic: accounts by id; per account the legal entity, then owners in imported
// order, then ancestors nearest first; per subject the screener's order (best first). The same
// (subject, entry) is reported once per account. The parent walk stops at a cycle or after
// kMaxResellerDepth steps. Pure functions; thread-safe as the Screener is.
//
// Incremental re-screening after an accounts import (same list, same threshold):
//   auto affected = AffectedAccounts(accounts, changed_ids);   // changed + their descendants
//   ScreenAccounts(accounts, screener, v, &affected_set);       // and keep the others' hits
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/identity.pb.h"
#include "server/screening/screener.h"

namespace prov::server {

inline constexpr int kMaxResellerDepth = 32;

// `only`: when given, screen just these accounts (the others still serve as reseller ancestors).
// A reseller ancestor's name is screened once per call (it is a subject of every descendant).
// `cancelled`: polled every 64 accounts; once true, screening stops and the result is incomplete
// (the caller must discard it).
std::vector<provenance::v1::ScreeningMatch> ScreenAccounts(
    const std::vector<provenance::v1::AccountIdentity>& accounts,
    const screening::Screener& screener, int64_t kyc_version,
    const absl::flat_hash_set<std::string>* only = nullptr,
    const std::function<bool()>* cancelled = nullptr);

// The accounts whose screening can change when the records of `changed` change: `changed`
// themselves and every account with one of them in its reseller chain. Sorted.
std::vector<std::string> AffectedAccounts(
    const std::vector<provenance::v1::AccountIdentity>& accounts,
    const absl::flat_hash_set<std::string>& changed);

}  // namespace prov::server
