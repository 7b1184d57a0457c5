// IdentityServiceImpl: the screener cache, screening before the write transaction, notifying.
#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/identity/account_screening.h"
#include "server/identity/identity_service.h"
#include "server/identity/identity_store.h"
#include "server/identity/screening_cache.h"

namespace prov::server {

using provenance::v1::AccountIdentity;
using provenance::v1::ScreeningMatch;

void IdentityServiceImpl::Notify(IdentitySnapshot snapshot) {
  if (sink_ != nullptr) sink_->OnIdentityChanged(std::move(snapshot));
}

absl::StatusOr<const ScreeningCache*> IdentityServiceImpl::StoredListScreenerLocked() {
  PROV_ASSIGN_OR_RETURN(std::optional<ScreeningListInfo> info, repo_->LatestScreeningListInfo());
  if (!info.has_value()) return nullptr;
  const double threshold = ScreeningThreshold();
  const std::string today = ScreeningDay();
  if (cache_ != nullptr && cache_->Matches(info->list_version, threshold, today)) {
    return cache_.get();
  }
  if (cache_ != nullptr && cache_->list().version == info->list_version) {
    cache_ = std::make_unique<ScreeningCache>(cache_->list(), normalizer_, threshold,
                                              options_.name_frequencies, today);
    return cache_.get();
  }
  PROV_ASSIGN_OR_RETURN(std::optional<StoredScreeningList> stored, LoadLatestScreeningList(*repo_));
  if (!stored.has_value()) return absl::InternalError("screening list vanished");
  cache_ = std::make_unique<ScreeningCache>(std::move(stored->list), normalizer_, threshold,
                                            options_.name_frequencies, today);
  return cache_.get();
}

std::string IdentityServiceImpl::Basis(const ScreeningCache* cache) {
  return cache == nullptr ? "none"
                          : absl::StrCat(cache->list().version, "@", cache->threshold(), "@",
                                         cache->screener().options().as_of);
}

IdentitySnapshot IdentityServiceImpl::ScreenLocked(std::vector<AccountIdentity> accounts,
                                                   int64_t kyc_version, const ScreeningCache* cache,
                                                   const Reuse* reuse,
                                                   const std::function<bool()>* cancelled) {
  std::sort(accounts.begin(), accounts.end(),
            [](const AccountIdentity& a, const AccountIdentity& b) {
              return a.account_id() < b.account_id();
            });
  IdentitySnapshot snapshot;
  snapshot.kyc_version = kyc_version;
  snapshot.accounts = std::make_shared<const std::vector<AccountIdentity>>(std::move(accounts));
  if (cache == nullptr) return snapshot;
  snapshot.screening_list_version = cache->list().version;
  if (reuse == nullptr) {
    snapshot.screening =
        ScreenAccounts(*snapshot.accounts, cache->screener(), kyc_version, nullptr, cancelled);
    return snapshot;
  }
  std::vector<std::string> affected = AffectedAccounts(*snapshot.accounts, reuse->changed);
  absl::flat_hash_set<std::string> only(affected.begin(), affected.end());
  std::vector<ScreeningMatch> fresh =
      ScreenAccounts(*snapshot.accounts, cache->screener(), kyc_version, &only, cancelled);
  absl::flat_hash_map<std::string, std::vector<const ScreeningMatch*>> kept;
  for (const ScreeningMatch& hit : reuse->stored) {
    if (!only.contains(hit.account_id())) kept[hit.account_id()].push_back(&hit);
  }
  // Both inputs are in account order: merge them account by account.
  size_t next_fresh = 0;
  for (const AccountIdentity& account : *snapshot.accounts) {
    const std::string& id = account.account_id();
    if (only.contains(id)) {
      while (next_fresh < fresh.size() && fresh[next_fresh].account_id() == id) {
        snapshot.screening.push_back(std::move(fresh[next_fresh++]));
      }
      continue;
    }
    auto it = kept.find(id);
    if (it == kept.end()) continue;
    for (const ScreeningMatch* hit : it->second) {
      snapshot.screening.push_back(*hit);
      snapshot.screening.back().set_kyc_version(kyc_version);
    }
  }
  return snapshot;
}

absl::StatusOr<IdentitySnapshot> IdentityServiceImpl::RescreenStoredLocked(absl::Time now) {
  PROV_ASSIGN_OR_RETURN(int64_t kyc_version, repo_->LatestKycVersion());
  PROV_ASSIGN_OR_RETURN(std::vector<AccountIdentity> accounts, repo_->CurrentAccounts());
  PROV_ASSIGN_OR_RETURN(const ScreeningCache* cache, StoredListScreenerLocked());
  IdentitySnapshot snapshot = ScreenLocked(std::move(accounts), kyc_version, cache);
  PROV_RETURN_IF_ERROR(
      repo_->ReplaceScreeningHits({.hits = &snapshot.screening,
                                   .kyc_version = snapshot.kyc_version,
                                   .list_version = snapshot.screening_list_version},
                                  now));
  return snapshot;
}

absl::StatusOr<IdentitySnapshot> IdentityServiceImpl::RescreenAll() {
  absl::MutexLock lock(&mu_);
  hits_basis_.clear();
  PROV_ASSIGN_OR_RETURN(IdentitySnapshot snapshot, RescreenStoredLocked(clock_.Now()));
  hits_basis_ = Basis(cache_.get());
  Notify(snapshot);
  return snapshot;
}

}  // namespace prov::server
