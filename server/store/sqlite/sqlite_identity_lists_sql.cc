// Screening lists, screening hits and policies (accounts are in sqlite_identity_sql.cc).
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/repo/parse_blob.h"
#include "server/store/sqlite/sqlite_identity_sql.h"
#include "server/store/transaction.h"

namespace prov::server::sqlite_identity {
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

}  // namespace

absl::StatusOr<ScreeningListInfo> InsertScreeningList(SqliteDb& db,
                                                      const ScreeningListWrite& write) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  ScreeningListInfo info;
  info.list_version = write.list_version;
  info.source = write.source;
  info.actor = write.actor;
  info.columns = write.columns;
  info.entries = write.entries;
  info.imported_at = write.now;
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db.Cached("INSERT INTO screening_lists(list_version, imported_at_us, "
                                  "source, actor, columns, entries, content) "
                                  "VALUES (?, ?, ?, ?, ?, ?, ?)"));
  st->BindText(1, info.list_version);
  st->BindInt64(2, absl::ToUnixMicros(write.now));
  st->BindText(3, write.source);
  st->BindText(4, write.actor);
  st->BindInt64(5, info.columns);
  st->BindInt64(6, info.entries);
  st->BindBlob(7, write.content);
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

absl::StatusOr<std::optional<std::pair<ScreeningListInfo, std::string>>> LatestScreeningListContent(
    SqliteDb& db) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kRead));
  PROV_ASSIGN_OR_RETURN(auto st, db.Prepare(absl::StrCat("SELECT ", kListColumns,
                                                         ", content FROM screening_lists "
                                                         "ORDER BY id DESC LIMIT 1")));
  PROV_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::nullopt;
  std::pair<ScreeningListInfo, std::string> out{ReadListInfo(*st), st->ColumnBlob(7)};
  st.reset();
  PROV_RETURN_IF_ERROR(txn.Commit());
  return out;
}

absl::Status ReplaceHits(SqliteDb& db, const HitsReplacement& replacement, absl::Time now) {
  if (replacement.hits == nullptr) return absl::InvalidArgumentError("hits: none given");
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  absl::flat_hash_map<std::string, int64_t> first_found;
  {
    PROV_ASSIGN_OR_RETURN(auto st, db.Prepare("SELECT found_at_us, hit FROM screening_hits"));
    while (true) {
      PROV_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      ScreeningMatch old;
      if (!old.ParseFromString(st->ColumnBlob(1))) continue;  // replaced below in any case
      first_found.emplace(ScreeningHitKey(old), st->ColumnInt64(0));
    }
  }
  PROV_RETURN_IF_ERROR(db.Exec("DELETE FROM screening_hits"));
  PROV_ASSIGN_OR_RETURN(Statement * insert,
                        db.Cached("INSERT INTO screening_hits(account_id, list_version, "
                                  "kyc_version, score, found_at_us, hit) "
                                  "VALUES (?, ?, ?, ?, ?, ?)"));
  for (const ScreeningMatch& hit : *replacement.hits) {
    auto it = first_found.find(ScreeningHitKey(hit));
    insert->BindText(1, hit.account_id());
    insert->BindText(2, replacement.list_version);
    insert->BindInt64(3, replacement.kyc_version);
    insert->BindDouble(4, hit.score());
    insert->BindInt64(5, it != first_found.end() ? it->second : absl::ToUnixMicros(now));
    insert->BindBlob(6, hit.SerializeAsString());
    PROV_RETURN_IF_ERROR(insert->Run());
  }
  return txn.Commit();
}

absl::StatusOr<std::vector<ScreeningMatch>> Hits(SqliteDb& db, absl::string_view account_id) {
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

absl::StatusOr<int64_t> InsertPolicy(SqliteDb& db, absl::string_view version,
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

absl::Status RemovePolicy(SqliteDb& db, int64_t id) {
  PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(db, Transaction::kWrite));
  PROV_ASSIGN_OR_RETURN(Statement * st, db.Cached("DELETE FROM policies WHERE id = ?"));
  st->BindInt64(1, id);
  PROV_RETURN_IF_ERROR(st->Run());
  return txn.Commit();
}

absl::StatusOr<std::optional<StoredPolicy>> LatestPolicy(SqliteDb& db) {
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

}  // namespace prov::server::sqlite_identity
