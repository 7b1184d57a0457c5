// Screening of every current account against a screening list: the account's legal entity, each
// beneficial owner's name, and its reseller chain (every ancestor reached through parent_account,
// screened by the ancestor's legal entity, or by its account id when the parent was never
// imported). A hit is a lead for a person, never a block.
//
//   screening::Screener screener(list, normalizer, {.threshold = policy.screening.min_score});
//   std::vector<ScreeningMatch> hits = ScreenAccounts(accounts, screener, /*kyc_version=*/3);
//
// Order is deterministic: accounts by id; per account the legal entity, then owners in imported
// order, then ancestors nearest first; per subject the screener's order (best first). The same
// (subject, entry) is reported once per account. The parent walk stops at a cycle or after
// kMaxResellerDepth steps. Pure function; thread-safe as the Screener is.
#pragma once

#include <cstdint>
#include <vector>

#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/identity.pb.h"
#include "server/screening/screener.h"

namespace prov::server {

inline constexpr int kMaxResellerDepth = 32;

std::vector<provenance::v1::ScreeningMatch> ScreenAccounts(
    const std::vector<provenance::v1::AccountIdentity>& accounts,
    const screening::Screener& screener, int64_t kyc_version);

}  // namespace prov::server
