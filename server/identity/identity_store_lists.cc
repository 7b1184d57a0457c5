// Screening lists, screening hits and policies (accounts are in identity_store.cc).
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/identity/identity_store.h"
#include "server/identity/store_util.h"
#include "server/store/transaction.h"

namespace prov::server {
namespace {

using provenance::v1::ScreeningMatch;

constexpr char kListColumns[] = "id, list_version, source, actor, columns, entries, imported_at_us";

ScreeningListInfo ReadListInfo(const Statement& st) {
  ScreeningListInfo info;
  info.id = st.ColumnInt64(0);
  info.list_version = st.ColumnText(1);
  info.source = st.ColumnText(2);
  info.actor = st.ColumnText(3);
  info.columns = static_cast<int>(st.ColumnInt64(4));
  info.entries = static_cast<int>(st.ColumnInt64(5));
  info.imported_at = absl::FromUnixMicros(st.ColumnInt64(6));
  return info;
}

// Identifies one hit across re-screenings, to keep its first found_at.
std::string HitKey(const ScreeningMatch& m) {
  return absl::StrCat(m.account_id(), "\x1f", m.subject_kind(), "\x1f", m.subject_name(), "\x1f",
                      m.entry_id(), "\x1f", m.entry_name());
}

}  // namespace

absl::StatusOr<ScreeningListInfo> ImportScreeningList(SqliteDb& db, absl::string_view content,
                                                      const screening::CslList& list,
                                                      absl::string_view source,
                                                      absl::string_view actor, absl::Time now) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  ScreeningListInfo info;
  info.list_version = list.version;
  info.source = std::string(source);
  info.actor = std::string(actor);
  info.columns = list.columns;
  info.entries = static_cast<int>(list.entries.size());
  info.imported_at = now;
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db.Cached("INSERT INTO screening_lists(list_version, imported_at_us, "
                                  "source, actor, columns, entries, content) "
                                  "VALUES (?, ?, ?, ?, ?, ?, ?)"));
  st->BindText(1, info.list_version);
  st->BindInt64(2, absl::ToUnixMicros(now));
  st->BindText(3, source);
  st->BindText(4, actor);
  st->BindInt64(5, info.columns);
  st->BindInt64(6, info.entries);
  st->BindBlob(7, content);
  PROV_RETURN_IF_ERROR(st->Run());
  info.id = db.LastInsertRowId();
  PROV_RETURN_IF_ERROR(txn.Commit());
  return info;
}

absl::StatusOr<std::optional<ScreeningListInfo>> LatestScreeningListInfo(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(auto st, db.Prepare(absl::StrCat("SELECT ", kListColumns,
                                                         " FROM screening_lists "
                                                         "ORDER BY id DESC LIMIT 1")));
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::nullopt;
  return ReadListInfo(*st);
}

absl::StatusOr<std::optional<StoredScreeningList>> LoadLatestScreeningList(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kRead));
  PROV_ASSIGN_OR_RETURN(auto st, db.Prepare(absl::StrCat("SELECT ", kListColumns,
                                                         ", content FROM screening_lists "
                                                         "ORDER BY id DESC LIMIT 1")));
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::nullopt;
  StoredScreeningList stored;
  stored.info = ReadListInfo(*st);
  std::string content = st->ColumnBlob(7);
  st.reset();
  PROV_RETURN_IF_ERROR(txn.Commit());
  std::vector<screening::RowError> ignored;  // reported when the list was imported
  absl::StatusOr<screening::CslList> list =
      screening::ParseConsolidatedScreeningList(content, stored.info.source, &ignored);
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

absl::Status ReplaceScreeningHits(SqliteDb& db, const std::vector<ScreeningMatch>& hits,
                                  int64_t kyc_version, absl::string_view list_version,
                                  absl::Time now) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  absl::flat_hash_map<std::string, int64_t> first_found;
  {
    PROV_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT found_at_us, hit FROM screening_hits"));
    while (true) {
      PROV_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      ScreeningMatch old;
      if (!old.ParseFromString(st->ColumnBlob(1))) continue;  // replaced below in any case
      first_found.emplace(HitKey(old), st->ColumnInt64(0));
    }
  }
  PROV_RETURN_IF_ERROR(db.Exec("DELETE FROM screening_hits"));
  PROV_ASSIGN_OR_RETURN(Statement * insert,
                        db.Cached("INSERT INTO screening_hits(account_id, list_version, "
                                  "kyc_version, score, found_at_us, hit) "
                                  "VALUES (?, ?, ?, ?, ?, ?)"));
  for (const ScreeningMatch& hit : hits) {
    auto it = first_found.find(HitKey(hit));
    insert->BindText(1, hit.account_id());
    insert->BindText(2, list_version);
    insert->BindInt64(3, kyc_version);
    insert->BindDouble(4, hit.score());
    insert->BindInt64(5, it != first_found.end() ? it->second : absl::ToUnixMicros(now));
    insert->BindBlob(6, hit.SerializeAsString());
    PROV_RETURN_IF_ERROR(insert->Run());
  }
  return txn.Commit();
}

absl::StatusOr<std::vector<ScreeningMatch>> LoadScreeningHits(SqliteDb& db,
                                                              absl::string_view account_id) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kRead));
  PROV_ASSIGN_OR_RETURN(
      auto st,
      db.Prepare(account_id.empty() ? "SELECT id, hit FROM screening_hits ORDER BY id"
                                    : "SELECT id, hit FROM screening_hits WHERE account_id = ? "
                                      "ORDER BY id"));
  if (!account_id.empty()) st->BindText(1, account_id);
  std::vector<ScreeningMatch> hits;
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    ScreeningMatch hit;
    PROV_RETURN_IF_ERROR(ParseBlob(st->ColumnBlob(1), &hit,
                                   absl::StrCat("screening_hits row ", st->ColumnInt64(0))));
    hits.push_back(std::move(hit));
  }
  st.reset();
  PROV_RETURN_IF_ERROR(txn.Commit());
  return hits;
}

absl::StatusOr<int64_t> SavePolicy(SqliteDb& db, absl::string_view version,
                                   absl::string_view source, absl::string_view yaml,
                                   absl::Time now) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db.Cached("INSERT INTO policies(policy_version, source, loaded_at_us, "
                                  "yaml) VALUES (?, ?, ?, ?)"));
  st->BindText(1, version);
  st->BindText(2, source);
  st->BindInt64(3, absl::ToUnixMicros(now));
  st->BindText(4, yaml);
  PROV_RETURN_IF_ERROR(st->Run());
  int64_t id = db.LastInsertRowId();
  PROV_RETURN_IF_ERROR(txn.Commit());
  return id;
}

absl::Status DeletePolicy(SqliteDb& db, int64_t id) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  PROV_ASSIGN_OR_RETURN(Statement * st, db.Cached("DELETE FROM policies WHERE id = ?"));
  st->BindInt64(1, id);
  PROV_RETURN_IF_ERROR(st->Run());
  return txn.Commit();
}

absl::StatusOr<std::optional<StoredPolicy>> LoadLatestPolicy(SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT id, policy_version, source, loaded_at_us, yaml "
                                            "FROM policies ORDER BY id DESC LIMIT 1"));
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::nullopt;
  StoredPolicy p;
  p.id = st->ColumnInt64(0);
  p.version = st->ColumnText(1);
  p.source = st->ColumnText(2);
  p.loaded_at = absl::FromUnixMicros(st->ColumnInt64(3));
  p.yaml = st->ColumnText(4);
  return p;
}

}  // namespace prov::server
