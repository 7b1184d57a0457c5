// Construction, start-up loading, GetAccount and the policy calls; imports are in
// identity_service_import.cc.
#include "server/identity/identity_service.h"

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "server/identity/account_view.h"
#include "server/identity/identity_store.h"
#include "server/identity/screening_cache.h"
#include "server/identity/service_util.h"
#include "server/store/connection.h"
#include "server/store/repo/audit_log.h"
#include "server/store/sqlite/sqlite_identity.h"

namespace prov::server {

absl::StatusOr<LoadedPolicy> MakeLoadedPolicy(absl::string_view yaml, absl::string_view source_name,
                                              absl::Time loaded_at) {
  PROV_ASSIGN_OR_RETURN(policy::Policy parsed, policy::ParsePolicy(yaml, source_name));
  LoadedPolicy loaded;
  loaded.policy = std::make_shared<const policy::Policy>(std::move(parsed));
  loaded.source_name = std::string(source_name);
  loaded.yaml = std::string(yaml);
  loaded.loaded_at = loaded_at;
  return loaded;
}

absl::StatusOr<std::unique_ptr<IdentityServiceImpl>> IdentityServiceImpl::Create(
    const std::string& db_path, const Clock& clock, IdentitySink* sink, LoadedPolicy current_policy,
    IdentityServiceOptions options) {
  PROV_ASSIGN_OR_RETURN(auto repo, SqliteIdentityRepository::Open(db_path, options.busy_timeout));
  PROV_ASSIGN_OR_RETURN(auto reader,
                        OpenConnection(db_path, SqliteDb::kReadOnly, options.busy_timeout));
  return Create(std::move(repo), std::make_unique<SqliteIdentityRepository>(std::move(reader)),
                clock, sink, std::move(current_policy), options);
}

std::unique_ptr<IdentityServiceImpl> IdentityServiceImpl::Create(
    std::unique_ptr<IdentityRepository> repo, std::unique_ptr<IdentityRepository> reader,
    const Clock& clock, IdentitySink* sink, LoadedPolicy current_policy,
    IdentityServiceOptions options) {
  return std::unique_ptr<IdentityServiceImpl>(new IdentityServiceImpl(
      clock, sink, std::move(current_policy), options, std::move(repo), std::move(reader)));
}

IdentityServiceImpl::IdentityServiceImpl(const Clock& clock, IdentitySink* sink,
                                         LoadedPolicy policy, IdentityServiceOptions options,
                                         std::unique_ptr<IdentityRepository> repo,
                                         std::unique_ptr<IdentityRepository> reader)
    : clock_(clock),
      sink_(sink),
      options_(options),
      repo_(std::move(repo)),
      reader_(std::move(reader)),
      policy_(std::move(policy)) {}

IdentityServiceImpl::~IdentityServiceImpl() = default;

absl::StatusOr<IdentityStartup> IdentityServiceImpl::LoadStartup(const std::string& db_path) {
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadOnly, absl::Seconds(10)));
  SqliteIdentityRepository repo(std::move(db));
  return LoadStartup(repo);
}

absl::StatusOr<IdentityStartup> IdentityServiceImpl::LoadStartup(IdentityRepository& repo) {
  IdentityStartup startup;
  PROV_ASSIGN_OR_RETURN(startup.snapshot, LoadIdentitySnapshot(repo));
  PROV_ASSIGN_OR_RETURN(std::optional<StoredPolicy> stored, repo.LatestPolicy());
  if (stored.has_value()) {
    absl::StatusOr<LoadedPolicy> loaded =
        MakeLoadedPolicy(stored->yaml, stored->source, stored->loaded_at);
    if (loaded.ok()) {
      startup.policy = *std::move(loaded);
    } else {
      startup.policy_status = absl::Status(
          loaded.status().code(), absl::StrCat("stored policy ", stored->version, " from ",
                                               stored->source, ": ", loaded.status().message()));
    }
  }
  return startup;
}

std::string IdentityServiceImpl::ScreeningDay() const {
  return absl::FormatTime("%Y-%m-%d", clock_.Now(), absl::UTCTimeZone());
}

double IdentityServiceImpl::ScreeningThreshold() const {
  absl::MutexLock lock(&policy_mu_);
  return policy_.policy != nullptr ? policy_.policy->screening.min_score
                                   : screening::ScreenerOptions{}.threshold;
}

grpc::Status IdentityServiceImpl::Authorize(grpc::ServerContext* context, provenance::v1::Role need,
                                            std::string* actor) const {
  if (options_.auth == nullptr) {
    *actor = Actor(*context);
    return grpc::Status::OK;
  }
  Principal who;
  grpc::Status s = options_.auth->Require(context, need, &who);
  *actor = who.actor();
  return s;
}

grpc::Status IdentityServiceImpl::GetAccount(grpc::ServerContext* context,
                                             const provenance::v1::GetAccountRequest* request,
                                             provenance::v1::GetAccountResponse* response) {
  std::string actor;
  if (auto s = Authorize(context, provenance::v1::ROLE_VIEWER, &actor); !s.ok()) return s;
  if (request->account_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "account_id: must not be empty");
  }
  absl::StatusOr<std::optional<provenance::v1::GetAccountResponse>> view;
  {
    absl::MutexLock lock(&read_mu_);
    view = LoadAccountView(*reader_, request->account_id());
  }
  if (!view.ok()) return ToGrpc(view.status());
  if (!view->has_value()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("account ", request->account_id(),
                                     ": no KYC record, screening hit, bundle or flag"));
  }
  *response = **std::move(view);
  return grpc::Status::OK;
}

grpc::Status IdentityServiceImpl::GetPolicy(grpc::ServerContext* context,
                                            const provenance::v1::GetPolicyRequest* /*request*/,
                                            provenance::v1::GetPolicyResponse* response) {
  std::string actor;
  if (auto s = Authorize(context, provenance::v1::ROLE_VIEWER, &actor); !s.ok()) return s;
  absl::MutexLock lock(&policy_mu_);
  if (policy_.policy == nullptr) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no policy loaded");
  }
  response->set_policy_version(policy_.policy->version);
  response->set_source_name(policy_.source_name);
  response->set_yaml(policy_.yaml);
  SetTimestamp(policy_.loaded_at, response->mutable_loaded_at());
  return grpc::Status::OK;
}

void IdentityServiceImpl::AdoptPolicy(LoadedPolicy policy) {
  absl::MutexLock lock(&mu_);
  hits_basis_.clear();
  absl::MutexLock policy_lock(&policy_mu_);
  policy_ = std::move(policy);
}

grpc::Status IdentityServiceImpl::LoadPolicy(grpc::ServerContext* context,
                                             const provenance::v1::LoadPolicyRequest* request,
                                             provenance::v1::LoadPolicyResponse* response) {
  std::string actor;
  if (auto s = Authorize(context, provenance::v1::ROLE_ADMIN, &actor); !s.ok()) return s;
  if (request->yaml().size() > kMaxPolicyBytes) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("yaml: ", request->yaml().size(), " bytes; the limit is ",
                                     kMaxPolicyBytes, " bytes"));
  }
  std::string source = request->source_name().empty() ? "policy.yaml" : request->source_name();
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  absl::StatusOr<LoadedPolicy> loaded = MakeLoadedPolicy(request->yaml(), source, now);
  if (!loaded.ok()) return ToGrpc(loaded.status());
  const double old_threshold = ScreeningThreshold();
  absl::StatusOr<int64_t> id = repo_->SavePolicy(
      loaded->policy->version, source, loaded->yaml, now,
      AuditRecord{.actor = actor,
                  .action = "policy.load",
                  .payload = AuditPayload({{"policy_version", loaded->policy->version},
                                           {"source", source},
                                           {"yaml_sha256", Sha256Hex(loaded->yaml)}}),
                  .at = now});
  if (!id.ok()) return ToGrpc(id.status());
  if (sink_ != nullptr) {
    absl::Status applied = sink_->OnPolicyLoaded(loaded->policy);
    if (!applied.ok()) {
      absl::Status undone = repo_->DeletePolicy(
          *id, AuditRecord{.actor = "provd",
                           .action = "policy.refused",
                           .payload = AuditPayload({{"policy_version", loaded->policy->version},
                                                    {"reason", std::string(applied.message())}}),
                           .at = clock_.Now()});
      std::string note =
          undone.ok() ? "" : absl::StrCat(" (and removing it failed: ", undone.message(), ")");
      return grpc::Status(ToGrpc(applied).error_code(),
                          absl::StrCat("the analysis engine refused policy ",
                                       loaded->policy->version, ": ", applied.message(), note));
    }
  }
  response->set_policy_version(loaded->policy->version);
  const double threshold = loaded->policy->screening.min_score;
  {
    absl::MutexLock policy_lock(&policy_mu_);
    policy_ = *std::move(loaded);
  }
  if (threshold != old_threshold) {  // the hits depend on the threshold
    absl::Status rescreened = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
      hits_basis_.clear();
      // Screens outside any transaction; the hits are replaced in one write transaction.
      PROV_ASSIGN_OR_RETURN(IdentitySnapshot snapshot, RescreenStoredLocked(now));
      hits_basis_ = Basis(cache_.get());
      Notify(std::move(snapshot));
      return absl::OkStatus();
    }();
    if (!rescreened.ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          absl::StrCat("policy ", response->policy_version(),
                                       " is loaded, but re-screening with its min_score failed "
                                       "(the stored hits are the old ones): ",
                                       rescreened.message()));
    }
  }
  return grpc::Status::OK;
}

}  // namespace prov::server
