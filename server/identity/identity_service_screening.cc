// IdentityServiceImpl: the screener cache, screening before the write transaction, notifying.
#include <algorithm>

#include "common/status_macros.h"
#include "server/identity/account_screening.h"
#include "server/identity/identity_service.h"
#include "server/identity/identity_store.h"
#include "server/identity/screening_cache.h"

namespace prov::server {

using provenance::v1::AccountIdentity;

void IdentityServiceImpl::Notify(IdentitySnapshot snapshot) {
  if (sink_ != nullptr) sink_->OnIdentityChanged(std::move(snapshot));
}

absl::StatusOr<const ScreeningCache*> IdentityServiceImpl::StoredListScreenerLocked() {
  PROV_ASSIGN_OR_RETURN(std::optional<ScreeningListInfo> info, LatestScreeningListInfo(*db_));
  if (!info.has_value()) return nullptr;
  const double threshold = ScreeningThreshold();
  if (cache_ != nullptr && cache_->Matches(info->list_version, threshold)) return cache_.get();
  if (cache_ != nullptr && cache_->list().version == info->list_version) {
    cache_ = std::make_unique<ScreeningCache>(cache_->list(), normalizer_, threshold);
    return cache_.get();
  }
  PROV_ASSIGN_OR_RETURN(std::optional<StoredScreeningList> stored, LoadLatestScreeningList(*db_));
  if (!stored.has_value()) return absl::InternalError("screening list vanished");
  cache_ = std::make_unique<ScreeningCache>(std::move(stored->list), normalizer_, threshold);
  return cache_.get();
}

IdentitySnapshot IdentityServiceImpl::ScreenLocked(std::vector<AccountIdentity> accounts,
                                                   int64_t kyc_version,
                                                   const ScreeningCache* cache) {
  std::sort(accounts.begin(), accounts.end(),
            [](const AccountIdentity& a, const AccountIdentity& b) {
              return a.account_id() < b.account_id();
            });
  IdentitySnapshot snapshot;
  snapshot.kyc_version = kyc_version;
  snapshot.accounts = std::make_shared<const std::vector<AccountIdentity>>(std::move(accounts));
  if (cache != nullptr) {
    snapshot.screening_list_version = cache->list().version;
    snapshot.screening = ScreenAccounts(*snapshot.accounts, cache->screener(), kyc_version);
  }
  return snapshot;
}

absl::StatusOr<IdentitySnapshot> IdentityServiceImpl::RescreenStoredLocked(absl::Time now) {
  PROV_ASSIGN_OR_RETURN(int64_t kyc_version, LatestKycVersion(*db_));
  PROV_ASSIGN_OR_RETURN(std::vector<AccountIdentity> accounts, LoadCurrentAccounts(*db_));
  PROV_ASSIGN_OR_RETURN(const ScreeningCache* cache, StoredListScreenerLocked());
  IdentitySnapshot snapshot = ScreenLocked(std::move(accounts), kyc_version, cache);
  PROV_RETURN_IF_ERROR(ReplaceScreeningHits(*db_, snapshot.screening, snapshot.kyc_version,
                                            snapshot.screening_list_version, now));
  return snapshot;
}

}  // namespace prov::server
