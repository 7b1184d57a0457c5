// The PostgreSQL identity SQL: accounts and KYC versions, screening lists, hits and policies.
#include "server/store/pg/pg_identity_sql.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_array.h"
#include "server/store/repo/parse_blob.h"

namespace prov::server::pg_identity {
namespace {

using provenance::v1::AccountIdentity;
using provenance::v1::ScreeningMatch;

constexpr size_t kRowsPerStatement = 1024;
constexpr char kListColumns[] = "id, list_version, source, actor, columns, entries, imported_at_us";

absl::StatusOr<ScreeningListInfo> ReadListInfo(const PgResult& r, int i) {
  ScreeningListInfo info;
  PROV_ASSIGN_OR_RETURN(info.id, r.Int64(i, 0));
  info.list_version = r.Text(i, 1);
  info.source = r.Text(i, 2);
  info.actor = r.Text(i, 3);
  PROV_ASSIGN_OR_RETURN(int64_t columns, r.Int64(i, 4));
  PROV_ASSIGN_OR_RETURN(int64_t entries, r.Int64(i, 5));
  PROV_ASSIGN_OR_RETURN(int64_t at, r.Int64(i, 6));
  info.columns = static_cast<int>(columns);
  info.entries = static_cast<int>(entries);
  info.imported_at = absl::FromUnixMicros(at);
  return info;
}

}  // namespace

absl::StatusOr<int64_t> LatestKycVersion(PgConn& conn) {
  PROV_ASSIGN_OR_RETURN(PgResult r,
                        conn.Query("SELECT COALESCE(MAX(version), 0) FROM kyc_imports"));
  return r.Int64(0, 0);
}

absl::StatusOr<std::vector<AccountIdentity>> CurrentAccounts(PgConn& conn) {
  PROV_ASSIGN_OR_RETURN(
      PgResult r, conn.Query("SELECT account_id, identity FROM accounts ORDER BY account_id"));
  std::vector<AccountIdentity> accounts(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    PROV_ASSIGN_OR_RETURN(std::string blob, r.Bytes(i, 1));
    PROV_RETURN_IF_ERROR(ParseBlob(blob, &accounts[static_cast<size_t>(i)],
                                   absl::StrCat("accounts row ", r.Text(i, 0))));
  }
  return accounts;
}

absl::StatusOr<std::optional<StoredAccount>> Account(PgConn& conn, absl::string_view account_id) {
  PROV_ASSIGN_OR_RETURN(
      PgResult r,
      conn.Query("SELECT version, identity FROM accounts WHERE account_id = $1", {account_id}));
  if (r.rows() == 0) return std::nullopt;
  StoredAccount out;
  PROV_ASSIGN_OR_RETURN(out.version, r.Int64(0, 0));
  PROV_ASSIGN_OR_RETURN(std::string blob, r.Bytes(0, 1));
  PROV_RETURN_IF_ERROR(ParseBlob(blob, &out.identity, absl::StrCat("accounts row ", account_id)));
  return out;
}

absl::StatusOr<KycImportSummary> InsertKyc(PgConn& conn, const KycImportWrite& write,
                                           int64_t version) {
  KycImportSummary summary;
  summary.version = version;
  summary.accepted = static_cast<uint32_t>(write.accounts->size());
  summary.errors = write.errors;
  summary.content_digest = write.content_digest;
  PROV_RETURN_IF_ERROR(
      conn.Query("INSERT INTO kyc_imports(version, imported_at_us, source, "
                 "actor, content_digest, accepted, errors) "
                 "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                 {version, absl::ToUnixMicros(write.now), write.source, write.actor,
                  write.content_digest, static_cast<int64_t>(summary.accepted),
                  static_cast<int64_t>(summary.errors)})
          .status());
  const std::vector<AccountIdentity>& accounts = *write.accounts;
  PgArray ids, entities, countries, parents, blobs;
  for (size_t start = 0; start < accounts.size(); start += kRowsPerStatement) {
    if (write.cancelled && start > 0 && write.cancelled()) {
      return absl::CancelledError(absl::StrCat("import cancelled while writing (", start, " of ",
                                               accounts.size(), " accounts); rolled back"));
    }
    ids.Clear(), entities.Clear(), countries.Clear(), parents.Clear(), blobs.Clear();
    const size_t end = std::min(accounts.size(), start + kRowsPerStatement);
    for (size_t i = start; i < end; ++i) {
      const AccountIdentity& a = accounts[i];
      ids.AddText(a.account_id());
      entities.AddText(a.legal_entity());
      countries.AddText(a.country_of_incorporation());
      parents.AddText(a.parent_account());
      blobs.AddBytes(a.SerializeAsString());
    }
    const std::string id_list = ids.Finish();
    const std::string blob_list = blobs.Finish();
    PROV_RETURN_IF_ERROR(conn.Query("INSERT INTO account_identities(account_id, version, identity) "
                                    "SELECT a, $1, i FROM unnest($2::text[], $3::bytea[]) "
                                    "AS t(a, i)",
                                    {version, id_list, blob_list})
                             .status());
    PROV_RETURN_IF_ERROR(
        conn.Query("INSERT INTO accounts(account_id, version, legal_entity, country, "
                   "parent_account, identity) SELECT a, $1, e, c, p, i FROM unnest($2::text[], "
                   "$3::text[], $4::text[], $5::text[], $6::bytea[]) AS t(a, e, c, p, i) "
                   "ON CONFLICT (account_id) DO UPDATE SET version = EXCLUDED.version, "
                   "legal_entity = EXCLUDED.legal_entity, country = EXCLUDED.country, "
                   "parent_account = EXCLUDED.parent_account, identity = EXCLUDED.identity",
                   {version, id_list, entities.Finish(), countries.Finish(), parents.Finish(),
                    blob_list})
            .status());
  }
  return summary;
}

absl::StatusOr<std::optional<ScreeningListInfo>> LatestScreeningListInfo(PgConn& conn) {
  PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query(absl::StrCat("SELECT ", kListColumns,
                                                            " FROM screening_lists "
                                                            "ORDER BY id DESC LIMIT 1")));
  if (r.rows() == 0) return std::nullopt;
  return ReadListInfo(r, 0);
}

absl::StatusOr<std::optional<std::pair<ScreeningListInfo, std::string>>> LatestScreeningListContent(
    PgConn& conn) {
  PROV_ASSIGN_OR_RETURN(PgResult r, conn.Query(absl::StrCat("SELECT ", kListColumns,
                                                            ", content FROM screening_lists "
                                                            "ORDER BY id DESC LIMIT 1")));
  if (r.rows() == 0) return std::nullopt;
  PROV_ASSIGN_OR_RETURN(ScreeningListInfo info, ReadListInfo(r, 0));
  PROV_ASSIGN_OR_RETURN(std::string content, r.Bytes(0, 7));
  return std::make_pair(std::move(info), std::move(content));
}

absl::StatusOr<ScreeningListInfo> InsertScreeningList(PgConn& conn,
                                                      const ScreeningListWrite& write) {
  ScreeningListInfo info;
  info.list_version = write.list_version;
  info.source = write.source;
  info.actor = write.actor;
  info.columns = write.columns;
  info.entries = write.entries;
  info.imported_at = write.now;
  PROV_ASSIGN_OR_RETURN(
      PgResult r,
      conn.Query("INSERT INTO screening_lists(list_version, imported_at_us, source, "
                 "actor, columns, entries, content) VALUES ($1, $2, $3, $4, $5, $6, "
                 "$7) RETURNING id",
                 {info.list_version, absl::ToUnixMicros(write.now), info.source, info.actor,
                  info.columns, info.entries, PgParam::Bytes(write.content)}));
  PROV_ASSIGN_OR_RETURN(info.id, r.Int64(0, 0));
  return info;
}

absl::Status ReplaceHits(PgConn& conn, const HitsReplacement& replacement, absl::Time now) {
  if (replacement.hits == nullptr) return absl::InvalidArgumentError("hits: none given");
  absl::flat_hash_map<std::string, int64_t> first_found;
  {
    PROV_ASSIGN_OR_RETURN(PgResult r,
                          conn.Query("SELECT found_at_us, hit FROM screening_hits ORDER BY id"));
    for (int i = 0; i < r.rows(); ++i) {
      PROV_ASSIGN_OR_RETURN(std::string blob, r.Bytes(i, 1));
      ScreeningMatch old;
      if (!old.ParseFromString(blob)) continue;  // replaced below in any case
      PROV_ASSIGN_OR_RETURN(int64_t found, r.Int64(i, 0));
      first_found.emplace(ScreeningHitKey(old), found);
    }
  }
  PROV_RETURN_IF_ERROR(conn.Query("DELETE FROM screening_hits").status());
  const std::vector<ScreeningMatch>& hits = *replacement.hits;
  PgArray accounts, scores, found, blobs;
  for (size_t start = 0; start < hits.size(); start += kRowsPerStatement) {
    accounts.Clear(), scores.Clear(), found.Clear(), blobs.Clear();
    const size_t end = std::min(hits.size(), start + kRowsPerStatement);
    for (size_t i = start; i < end; ++i) {
      auto it = first_found.find(ScreeningHitKey(hits[i]));
      accounts.AddText(hits[i].account_id());
      scores.AddDouble(hits[i].score());
      found.Add(it != first_found.end() ? it->second : absl::ToUnixMicros(now));
      blobs.AddBytes(hits[i].SerializeAsString());
    }
    // WITH ORDINALITY keeps the hits' order in their identity ids (LoadScreeningHits' order).
    PROV_RETURN_IF_ERROR(
        conn.Query("INSERT INTO screening_hits(account_id, list_version, kyc_version, score, "
                   "found_at_us, hit) SELECT a, $1, $2, s, f, h FROM unnest($3::text[], "
                   "$4::float8[], $5::bigint[], $6::bytea[]) WITH ORDINALITY AS t(a, s, f, h, n) "
                   "ORDER BY n",
                   {replacement.list_version, replacement.kyc_version, accounts.Finish(),
                    scores.Finish(), found.Finish(), blobs.Finish()})
            .status());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ScreeningMatch>> Hits(PgConn& conn, absl::string_view account_id) {
  absl::StatusOr<PgResult> r =
      account_id.empty()
          ? conn.Query("SELECT id, hit FROM screening_hits ORDER BY id")
          : conn.Query("SELECT id, hit FROM screening_hits WHERE account_id = $1 ORDER BY id",
                       {account_id});
  if (!r.ok()) return r.status();
  std::vector<ScreeningMatch> hits(static_cast<size_t>(r->rows()));
  for (int i = 0; i < r->rows(); ++i) {
    PROV_ASSIGN_OR_RETURN(std::string blob, r->Bytes(i, 1));
    PROV_RETURN_IF_ERROR(ParseBlob(blob, &hits[static_cast<size_t>(i)],
                                   absl::StrCat("screening_hits row ", r->Text(i, 0))));
  }
  return hits;
}

absl::StatusOr<std::optional<StoredPolicy>> LatestPolicy(PgConn& conn) {
  PROV_ASSIGN_OR_RETURN(PgResult r,
                        conn.Query("SELECT id, policy_version, source, loaded_at_us, yaml "
                                   "FROM policies ORDER BY id DESC LIMIT 1"));
  if (r.rows() == 0) return std::nullopt;
  StoredPolicy p;
  PROV_ASSIGN_OR_RETURN(p.id, r.Int64(0, 0));
  p.version = r.Text(0, 1);
  p.source = r.Text(0, 2);
  PROV_ASSIGN_OR_RETURN(int64_t at, r.Int64(0, 3));
  p.loaded_at = absl::FromUnixMicros(at);
  p.yaml = r.Text(0, 4);
  return p;
}

}  // namespace prov::server::pg_identity
