// Identity records: KYC imports (every version of every account), the current accounts,
// screening lists (raw CSV kept), screening hits and loaded policies. Schema: the version-2
// tables in server/store/SCHEMA.md (kyc_imports, account_identities, accounts, screening_lists,
// screening_hits, policies). The storage is IdentityRepository (server/store/repo/identity.h, on
// SQLite or PostgreSQL); this header adds what needs the parsers (a stored list re-parsed, the
// engine's snapshot), and the older free functions over a SqliteDb, kept for provd's start-up
// tools and tests (their SQL is server/store/sqlite/sqlite_identity_sql.h's):
//
//   PROV_ASSIGN_OR_RETURN(KycImportSummary s,
//                         ImportAccounts(db, parsed, "accounts.csv", "alice", clock.Now()));
//   s.version;                                        // 2 on the second import
//   PROV_ASSIGN_OR_RETURN(IdentitySnapshot snap, LoadIdentitySnapshot(db));   // provd start-up
//
// Every function runs in ONE transaction on the caller's connection (BEGIN IMMEDIATE for writes);
// when the caller already has a transaction open on `db`, the function joins it instead, so a
// caller can make several of them atomic (IdentityServiceImpl imports and re-screens in one).
// An import adds and updates accounts; it never deletes one. Times are absl::Time in, *_us columns
// (Unix microseconds) in the database. Thread-compatible: one thread per SqliteDb at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/identity.pb.h"
#include "server/analysis/identity_sink.h"
#include "server/kyc/kyc_parser.h"
#include "server/screening/csl_list.h"
#include "server/store/repo/identity.h"
#include "server/store/sqlite.h"

namespace prov::server {

// A new kyc_imports version (also when `parsed` had row errors: its good rows are imported and
// its errors counted), one account_identities row per account, and an upsert of `accounts`.
// `cancelled` (optional) is polled every 1024 accounts: CANCELLED, and the caller's transaction
// (or this function's own) is rolled back.
absl::StatusOr<KycImportSummary> ImportAccounts(SqliteDb& db, const kyc::KycParseResult& parsed,
                                                absl::string_view source, absl::string_view actor,
                                                absl::Time now,
                                                const std::function<bool()>& cancelled = {});

// Current accounts, by account_id.
absl::StatusOr<std::vector<provenance::v1::AccountIdentity>> LoadCurrentAccounts(SqliteDb& db);
// The current record of one account, or nullopt.
absl::StatusOr<std::optional<StoredAccount>> LoadAccount(SqliteDb& db,
                                                         absl::string_view account_id);
// The record of an account as imported in `version`, or nullopt (history).
absl::StatusOr<std::optional<provenance::v1::AccountIdentity>> LoadAccountVersion(
    SqliteDb& db, absl::string_view account_id, int64_t version);
// 0 when nothing was imported yet.
absl::StatusOr<int64_t> LatestKycVersion(SqliteDb& db);

// Stores the list as published (raw `content`) with the figures of `list`.
absl::StatusOr<ScreeningListInfo> ImportScreeningList(SqliteDb& db, absl::string_view content,
                                                      const screening::CslList& list,
                                                      absl::string_view source,
                                                      absl::string_view actor, absl::Time now);

struct StoredScreeningList {
  ScreeningListInfo info;
  screening::CslList list;  // re-parsed from the stored content
};
// The latest imported list, re-parsed; nullopt when none was imported. A stored list that no
// longer parses (or whose version differs) is a DATA_LOSS error.
absl::StatusOr<std::optional<StoredScreeningList>> LoadLatestScreeningList(SqliteDb& db);
absl::StatusOr<std::optional<StoredScreeningList>> LoadLatestScreeningList(
    IdentityRepository& repo);
// The latest list's metadata without re-parsing it.
absl::StatusOr<std::optional<ScreeningListInfo>> LatestScreeningListInfo(SqliteDb& db);

// Replaces every stored hit with `hits`. A hit that was already stored (same account, subject
// and entry) keeps its original found_at_us; new ones get `now`.
absl::Status ReplaceScreeningHits(SqliteDb& db,
                                  const std::vector<provenance::v1::ScreeningMatch>& hits,
                                  int64_t kyc_version, absl::string_view list_version,
                                  absl::Time now);
// Hits of one account (or of every account when `account_id` is empty), in stored order.
absl::StatusOr<std::vector<provenance::v1::ScreeningMatch>> LoadScreeningHits(
    SqliteDb& db, absl::string_view account_id);

// Returns the new row's id.
absl::StatusOr<int64_t> SavePolicy(SqliteDb& db, absl::string_view version,
                                   absl::string_view source, absl::string_view yaml,
                                   absl::Time now);
// Removes one saved policy (undoing a SavePolicy whose policy the analysis engine refused).
absl::Status DeletePolicy(SqliteDb& db, int64_t id);
absl::StatusOr<std::optional<StoredPolicy>> LoadLatestPolicy(SqliteDb& db);

// What the analysis engine needs at start-up: latest KYC version, current accounts, the latest
// list's version and the stored hits, read in one transaction.
absl::StatusOr<IdentitySnapshot> LoadIdentitySnapshot(SqliteDb& db);
absl::StatusOr<IdentitySnapshot> LoadIdentitySnapshot(IdentityRepository& repo);
IdentitySnapshot ToIdentitySnapshot(IdentityRows rows);

}  // namespace prov::server
