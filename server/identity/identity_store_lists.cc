// Screening lists, screening hits and policies (accounts are in identity_store.cc).
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/identity/identity_store.h"
#include "server/store/sqlite/sqlite_identity_sql.h"

namespace prov::server {
namespace {

using provenance::v1::ScreeningMatch;

// Re-parses a stored list (stored as UTF-8, parsed again without an encoding).
absl::StatusOr<std::optional<StoredScreeningList>> Reparse(
    std::optional<std::pair<ScreeningListInfo, std::string>> row) {
  if (!row.has_value()) return std::nullopt;
  StoredScreeningList stored;
  stored.info = std::move(row->first);
  std::vector<screening::RowError> ignored;  // reported when the list was imported
  absl::StatusOr<screening::CslList> list =
      screening::ParseConsolidatedScreeningList(row->second, stored.info.source, &ignored);
  if (!list.ok()) {
    return absl::DataLossError(absl::StrCat("stored screening list ", stored.info.list_version,
                                            " no longer parses: ", list.status().message()));
  }
  if (list->version != stored.info.list_version) {
    return absl::DataLossError(absl::StrCat("stored screening list ", stored.info.list_version,
                                            " re-parses as ", list->version));
  }
  stored.list = *std::move(list);
  return stored;
}

}  // namespace

absl::StatusOr<ScreeningListInfo> ImportScreeningList(SqliteDb& db, absl::string_view content,
                                                      const screening::CslList& list,
                                                      absl::string_view source,
                                                      absl::string_view actor, absl::Time now) {
  ScreeningListWrite write;
  write.content = content;
  write.list_version = list.version;
  write.columns = list.columns;
  write.entries = static_cast<int>(list.entries.size());
  write.source = std::string(source);
  write.actor = std::string(actor);
  write.now = now;
  return sqlite_identity::InsertScreeningList(db, write);
}

absl::StatusOr<std::optional<ScreeningListInfo>> LatestScreeningListInfo(SqliteDb& db) {
  return sqlite_identity::LatestScreeningListInfo(db);
}

absl::StatusOr<std::optional<StoredScreeningList>> LoadLatestScreeningList(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(auto row, sqlite_identity::LatestScreeningListContent(db));
  return Reparse(std::move(row));
}

absl::StatusOr<std::optional<StoredScreeningList>> LoadLatestScreeningList(
    IdentityRepository& repo) {
  PROV_ASSIGN_OR_RETURN(auto row, repo.LatestScreeningListContent());
  return Reparse(std::move(row));
}

absl::Status ReplaceScreeningHits(SqliteDb& db, const std::vector<ScreeningMatch>& hits,
                                  int64_t kyc_version, absl::string_view list_version,
                                  absl::Time now) {
  return sqlite_identity::ReplaceHits(
      db, {.hits = &hits, .kyc_version = kyc_version, .list_version = std::string(list_version)},
      now);
}

absl::StatusOr<std::vector<ScreeningMatch>> LoadScreeningHits(SqliteDb& db,
                                                              absl::string_view account_id) {
  return sqlite_identity::Hits(db, account_id);
}

absl::StatusOr<int64_t> SavePolicy(SqliteDb& db, absl::string_view version,
                                   absl::string_view source, absl::string_view yaml,
                                   absl::Time now) {
  return sqlite_identity::InsertPolicy(db, version, source, yaml, now);
}

absl::Status DeletePolicy(SqliteDb& db, int64_t id) {
  return sqlite_identity::RemovePolicy(db, id);
}

absl::StatusOr<std::optional<StoredPolicy>> LoadLatestPolicy(SqliteDb& db) {
  return sqlite_identity::LatestPolicy(db);
}

}  // namespace prov::server
