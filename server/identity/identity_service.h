// IdentityServiceImpl: provenance.v1.IdentityService (provctl accounts / screening / policy).
//
//   // provd start-up, after Store::Open has migrated provd.db:
//   PROV_ASSIGN_OR_RETURN(IdentityStartup startup, IdentityServiceImpl::LoadStartup(db_path));
//   engine.OnIdentityChanged(std::move(startup.snapshot));
//   LoadedPolicy current = startup.policy ? *startup.policy : policy_from_flag;
//   PROV_ASSIGN_OR_RETURN(auto identity, IdentityServiceImpl::Create(db_path, clock, &engine,
//                                                                    current));
//   if (!startup.policy) (void)identity->RescreenAll();  // hits follow the policy in force
//   builder.RegisterService(identity.get());
//   // Large files come as ImportAccountsStream / ImportScreeningListStream parts, so the
//   // server's per-message limit stays small (provd: --max-report-bytes + 1 MiB).
//
// Imports: ImportAccounts parses the file (CSV/JSON/JSONL; format from the request or the source
// name), stores a new KYC version (good rows in, bad rows reported as "line N: field F: ..."),
// re-screens every current account against the latest list (policy screening.min_score as the
// threshold), replaces the stored hits, commits all of it in ONE transaction, then calls
// sink->OnIdentityChanged with the new snapshot. The screening itself (CPU work) is done before
// that transaction, on the accounts as they will be after it: this service is the only writer of
// the identity tables (imports are serialized), so the write lock is held only for the writes.
// An accounts import re-screens only the accounts whose records changed (and their reseller
// descendants) when the stored hits were computed by this process against the same list and
// threshold; otherwise, and after every list import, every account is screened.
// ImportScreeningList does the same for a CSL CSV. LoadPolicy parses the YAML (INVALID_ARGUMENT
// with the parser's message naming line and field; nothing stored), stores it, and offers it to
// sink->OnPolicyLoaded; when the sink refuses, the stored row is removed again and the sink's error
// returned. A changed screening threshold re-screens. GetAccount: see
// server/identity/account_view.h; NOT_FOUND for an unknown account.
//
// Bad input never crashes and never touches stored data: whole-file errors, empty lists and
// oversized requests (options.max_import_bytes, 256 MiB; options.max_import_rows records) are
// INVALID_ARGUMENT naming what is wrong. Content must be UTF-8 unless the request names its
// `encoding` (transcoded with ICU first, server/identity/transcode.h); otherwise the first bad
// byte is refused by line and column. Row errors (including the field limits of kyc_parser.h and
// csl_list.h) are listed in the response, which clients treat as a failure (provctl exits 1).
//
// Cancellation: an import stops when its caller goes away or its deadline passes (and when provd
// shuts down, which cancels every call): while queued behind another import (ImportSlot), every
// 256 records while parsing, while screening, every 1024 rows of the write, and just before the
// commit. A cancelled import rolls back (nothing half-imported) and answers CANCELLED.
// The actor recorded with an import is the client certificate's common name under mutual TLS, else
// the gRPC peer address.
//
// Threads: gRPC sync handler threads. Imports queue on import_slot_, then they and policy loads
// are serialized by one mutex, which
// is also held while the sink is called (so snapshots arrive in commit order; the sink must not
// call back into this service). GetAccount reads on a second, read-only connection and never
// waits for an import. Both repositories (IdentityRepository, server/store/repo/identity.h) are
// this object's own, each on its own connection (SQLite: WAL, busy_timeout); provd's ingest
// writer has another. provd hands it SQLite ones; PostgreSQL ones (PgIdentityRepository) work the
// same, and there a KYC import that lost a race with another replica is ABORTED ("retry"). Not
// yet right for several replicas: the partial re-screening trusts hits_basis_, which knows only
// this process's writes (another replica with a different threshold could have stored the hits),
// and each replica's sink hears only its own imports.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "provenance/v1/analysis.grpc.pb.h"
#include "server/access/authenticator.h"
#include "server/analysis/identity_sink.h"
#include "server/identity/import_slot.h"
#include "server/identity/import_stats.h"
#include "server/policy/policy.h"
#include "server/screening/name_frequencies.h"
#include "server/screening/name_normalizer.h"
#include "server/store/repo/identity.h"
#include "server/store/sqlite.h"

namespace prov::server {

// The policy in force, with what GetPolicy shows about it.
struct LoadedPolicy {
  std::shared_ptr<const policy::Policy> policy;  // null: none loaded
  std::string source_name;
  std::string yaml;
  absl::Time loaded_at = absl::UnixEpoch();
};

// Parses `yaml` into a LoadedPolicy (errors are ParsePolicy's, naming line and field).
absl::StatusOr<LoadedPolicy> MakeLoadedPolicy(absl::string_view yaml, absl::string_view source_name,
                                              absl::Time loaded_at);

struct IdentityStartup {
  IdentitySnapshot snapshot;           // what was stored at the last import
  std::optional<LoadedPolicy> policy;  // the latest policy loaded through LoadPolicy, if any
  absl::Status policy_status;          // not OK: a stored policy exists but no longer parses
};

struct IdentityServiceOptions {
  static constexpr size_t kDefaultMaxImportBytes = 256u << 20;
  size_t max_import_bytes = kDefaultMaxImportBytes;  // accounts file or screening list
  absl::Duration busy_timeout = absl::Seconds(10);
  size_t max_reported_errors = 1000;  // row errors listed in a response; the rest are counted
  size_t max_import_rows = 1000000;   // records (rows) in one accounts file or screening list
  // Who may call (provd always sets it): GetAccount/GetPolicy need the viewer role, imports and
  // LoadPolicy the admin role. Null: no checks, the peer is the actor (library tests).
  const Authenticator* auth = nullptr;
  // Population name frequencies for screening (provd --name-frequencies); null: the built-in
  // table. Must outlive the service.
  const screening::NameFrequencies* name_frequencies = nullptr;
};

class ScreeningCache;

class IdentityServiceImpl final : public provenance::v1::IdentityService::Service {
 public:
  static constexpr size_t kMaxPolicyBytes = 4u << 20;

  // Opens two SQLite repositories on `db_path` (read-write and read-only) and applies pending
  // schema migrations (none when provd's Store opened the file first). `sink` may be null (tests).
  static absl::StatusOr<std::unique_ptr<IdentityServiceImpl>> Create(
      const std::string& db_path, const Clock& clock, IdentitySink* sink,
      LoadedPolicy current_policy, IdentityServiceOptions options = {});
  // Over repositories of either engine: `repo` for imports and policies, `reader` for GetAccount
  // (a second connection, so a read never waits for an import; may be the same engine's
  // read-only one).
  static std::unique_ptr<IdentityServiceImpl> Create(std::unique_ptr<IdentityRepository> repo,
                                                     std::unique_ptr<IdentityRepository> reader,
                                                     const Clock& clock, IdentitySink* sink,
                                                     LoadedPolicy current_policy,
                                                     IdentityServiceOptions options = {});
  // The stored identity snapshot and the latest stored policy, for provd start-up.
  static absl::StatusOr<IdentityStartup> LoadStartup(const std::string& db_path);
  static absl::StatusOr<IdentityStartup> LoadStartup(IdentityRepository& repo);

  ~IdentityServiceImpl() override;

  // Screens every current account against the stored list with the threshold of the policy in
  // force, replaces the stored hits and tells the sink. For provd start-up when the policy in
  // force is not the one the stored hits were computed with (e.g. --policy changed min_score).
  absl::StatusOr<IdentitySnapshot> RescreenAll();
  // Another replica loaded `policy` (provd on PostgreSQL, prov_identity): it is the one in force
  // here too, and the stored hits may have been scored by another replica, so the next import
  // re-screens every account instead of trusting this process's record of them.
  void AdoptPolicy(LoadedPolicy policy);

  // Import outcomes for Prometheus (ImportCollector); provd adds start-up quarantine counts.
  ImportStats& stats() { return stats_; }

  grpc::Status ImportAccounts(grpc::ServerContext* context,
                              const provenance::v1::ImportAccountsRequest* request,
                              provenance::v1::ImportAccountsResponse* response) override;
  grpc::Status ImportScreeningList(grpc::ServerContext* context,
                                   const provenance::v1::ImportScreeningListRequest* request,
                                   provenance::v1::ImportScreeningListResponse* response) override;
  // The streamed forms: authorized before a byte is read, parts joined up to max_import_bytes,
  // then exactly the unary import.
  grpc::Status ImportAccountsStream(
      grpc::ServerContext* context,
      grpc::ServerReader<provenance::v1::ImportAccountsRequest>* reader,
      provenance::v1::ImportAccountsResponse* response) override;
  grpc::Status ImportScreeningListStream(
      grpc::ServerContext* context,
      grpc::ServerReader<provenance::v1::ImportScreeningListRequest>* reader,
      provenance::v1::ImportScreeningListResponse* response) override;
  grpc::Status GetAccount(grpc::ServerContext* context,
                          const provenance::v1::GetAccountRequest* request,
                          provenance::v1::GetAccountResponse* response) override;
  grpc::Status LoadPolicy(grpc::ServerContext* context,
                          const provenance::v1::LoadPolicyRequest* request,
                          provenance::v1::LoadPolicyResponse* response) override;
  grpc::Status GetPolicy(grpc::ServerContext* context,
                         const provenance::v1::GetPolicyRequest* request,
                         provenance::v1::GetPolicyResponse* response) override;

 private:
  // OK and the caller's actor, or UNAUTHENTICATED / PERMISSION_DENIED.
  grpc::Status Authorize(grpc::ServerContext* context, provenance::v1::Role need,
                         std::string* actor) const;
  IdentityServiceImpl(const Clock& clock, IdentitySink* sink, LoadedPolicy policy,
                      IdentityServiceOptions options, std::unique_ptr<IdentityRepository> repo,
                      std::unique_ptr<IdentityRepository> reader);

  // The screener over the latest stored list (cached by list version and threshold), or null
  // when no list was imported yet.
  absl::StatusOr<const ScreeningCache*> StoredListScreenerLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What an accounts import may keep: the ids whose records changed, and the stored hits (valid
  // for every other account because they were computed against the same list and threshold).
  struct Reuse {
    absl::flat_hash_set<std::string> changed;
    std::vector<provenance::v1::ScreeningMatch> stored;
  };
  // A snapshot of `accounts` (sorted by id) with their hits against `cache` (none when null);
  // with `reuse`, only the changed accounts and their reseller descendants are screened again.
  // CPU work only, done before the write transaction so provd's ingest writer never waits on it.
  // `cancelled`: polled while screening; once it returns true the snapshot is incomplete and the
  // caller must not store it (imports check their context right after).
  IdentitySnapshot ScreenLocked(std::vector<provenance::v1::AccountIdentity> accounts,
                                int64_t kyc_version, const ScreeningCache* cache,
                                const Reuse* reuse = nullptr,
                                const std::function<bool()>* cancelled = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // "<list version>@<threshold>", or "none" without a list.
  static std::string Basis(const ScreeningCache* cache);
  // Re-screens the current accounts against the stored list and replaces the stored hits
  // (LoadPolicy when the threshold changed).
  absl::StatusOr<IdentitySnapshot> RescreenStoredLocked(absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  double ScreeningThreshold() const;
  // Today on provd's clock (UTC, "YYYY-MM-DD"): listings that ended before it match nothing.
  std::string ScreeningDay() const;
  void Notify(IdentitySnapshot snapshot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  IdentitySink* const sink_;
  const IdentityServiceOptions options_;
  screening::NameNormalizer normalizer_;

  ImportStats stats_;
  // Imports queue here (not on mu_), so a queued import whose caller went away stops waiting.
  ImportSlot import_slot_;
  absl::Mutex mu_;  // serializes imports and policy loads
  std::unique_ptr<IdentityRepository> repo_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ScreeningCache> cache_ ABSL_GUARDED_BY(mu_);
  // Basis() of the stored hits as this process last committed them; empty when unknown (at
  // start, or after a failed write), in which case the next import screens every account.
  std::string hits_basis_ ABSL_GUARDED_BY(mu_);

  absl::Mutex read_mu_;
  std::unique_ptr<IdentityRepository> reader_ ABSL_GUARDED_BY(read_mu_);

  mutable absl::Mutex policy_mu_;
  LoadedPolicy policy_ ABSL_GUARDED_BY(policy_mu_);
};

}  // namespace prov::server
