// IdentityServiceImpl: account and screening-list imports, and re-screening after them.
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/auditlog/audit_log.h"
#include "server/identity/identity_service.h"
#include "server/identity/identity_store.h"
#include "server/identity/screening_cache.h"
#include "server/identity/service_util.h"
#include "server/store/transaction.h"

namespace prov::server {
namespace {

using google::protobuf::util::MessageDifferencer;
using provenance::v1::AccountIdentity;
using provenance::v1::ImportAccountsRequest;
using provenance::v1::ImportAccountsResponse;
using provenance::v1::ImportScreeningListRequest;
using provenance::v1::ImportScreeningListResponse;

grpc::Status TooLarge(absl::string_view what, size_t size, size_t limit) {
  return grpc::Status(
      grpc::StatusCode::INVALID_ARGUMENT,
      absl::StrCat(what, ": ", size, " bytes; the limit is ", limit, " bytes; nothing imported"));
}

absl::StatusOr<kyc::KycFormat> RequestFormat(const ImportAccountsRequest& request) {
  std::string format = absl::AsciiStrToLower(request.format());
  if (format == "csv") return kyc::KycFormat::kCsv;
  if (format == "json") return kyc::KycFormat::kJson;
  if (format == "jsonl" || format == "ndjson") return kyc::KycFormat::kJsonLines;
  if (!format.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("format: unknown \"", request.format(), "\" (want csv, json or jsonl)"));
  }
  absl::StatusOr<kyc::KycFormat> from_name = kyc::KycFormatFromPath(request.source_name());
  if (!from_name.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "format: not given and not known from source_name: ", from_name.status().message()));
  }
  return from_name;
}

// Adds up to `max` messages, then one line counting the rest.
template <typename Errors, typename Add>
void AddErrors(const Errors& errors, size_t max, Add add) {
  for (size_t i = 0; i < errors.size() && i < max; ++i) add(errors[i].message);
  if (errors.size() > max) add(absl::StrCat("... and ", errors.size() - max, " more errors"));
}

// The accounts after an import: `imported` replaces records with the same id and adds the rest.
std::vector<AccountIdentity> MergeAccounts(std::vector<AccountIdentity> current,
                                           const std::vector<AccountIdentity>& imported) {
  absl::flat_hash_map<std::string, size_t> index;
  for (size_t i = 0; i < current.size(); ++i) index[current[i].account_id()] = i;
  for (const AccountIdentity& a : imported) {
    auto it = index.find(a.account_id());
    if (it != index.end()) {
      current[it->second] = a;
    } else {
      index[a.account_id()] = current.size();
      current.push_back(a);
    }
  }
  return current;
}

// Ids of the imported records that are new or differ from the current ones.
absl::flat_hash_set<std::string> ChangedAccounts(const std::vector<AccountIdentity>& current,
                                                 const std::vector<AccountIdentity>& imported) {
  absl::flat_hash_map<std::string, const AccountIdentity*> by_id;
  for (const AccountIdentity& a : current) by_id[a.account_id()] = &a;
  absl::flat_hash_set<std::string> changed;
  for (const AccountIdentity& a : imported) {
    auto it = by_id.find(a.account_id());
    if (it == by_id.end() || !MessageDifferencer::Equals(*it->second, a)) {
      changed.insert(a.account_id());
    }
  }
  return changed;
}

}  // namespace

grpc::Status IdentityServiceImpl::ImportAccounts(grpc::ServerContext* context,
                                                 const ImportAccountsRequest* request,
                                                 ImportAccountsResponse* response) {
  std::string actor;
  if (auto s = Authorize(context, provenance::v1::ROLE_ADMIN, &actor); !s.ok()) return s;
  if (request->content().size() > options_.max_import_bytes) {
    return TooLarge("content", request->content().size(), options_.max_import_bytes);
  }
  absl::StatusOr<kyc::KycFormat> format = RequestFormat(*request);
  if (!format.ok()) return ToGrpc(format.status());
  const std::string source = request->source_name().empty() ? "accounts" : request->source_name();
  // Parsing needs no lock: a slow file does not hold up other calls.
  absl::StatusOr<kyc::KycParseResult> parsed = kyc::ParseKyc(request->content(), *format, source);
  if (!parsed.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("nothing imported: ", parsed.status().message()));
  }
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  KycImportSummary summary;
  IdentitySnapshot snapshot;
  absl::Status done = [&]() -> absl::Status {
    // Screen the accounts as they will be after the import, before taking the write lock.
    PROV_ASSIGN_OR_RETURN(int64_t latest, LatestKycVersion(*db_));
    PROV_ASSIGN_OR_RETURN(std::vector<AccountIdentity> current, LoadCurrentAccounts(*db_));
    PROV_ASSIGN_OR_RETURN(const ScreeningCache* cache, StoredListScreenerLocked());
    std::optional<Reuse> reuse;
    if (cache != nullptr && hits_basis_ == Basis(cache)) {  // the stored hits are still valid
      reuse.emplace();
      reuse->changed = ChangedAccounts(current, parsed->accounts);
      PROV_ASSIGN_OR_RETURN(reuse->stored, LoadScreeningHits(*db_, ""));
    }
    const std::string basis = Basis(cache);
    hits_basis_.clear();  // unknown until this import commits
    snapshot = ScreenLocked(MergeAccounts(std::move(current), parsed->accounts), latest + 1, cache,
                            reuse.has_value() ? &*reuse : nullptr);
    PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
    PROV_ASSIGN_OR_RETURN(summary, server::ImportAccounts(*db_, *parsed, source, actor, now));
    if (summary.version != snapshot.kyc_version) {  // the screening above used stale accounts
      return absl::AbortedError(absl::StrCat("another writer imported KYC version ",
                                             summary.version - 1, " meanwhile; retry"));
    }
    PROV_RETURN_IF_ERROR(ReplaceScreeningHits(*db_, snapshot.screening, snapshot.kyc_version,
                                              snapshot.screening_list_version, now));
    PROV_RETURN_IF_ERROR(
        AppendAuditEntry(*db_, actor, "kyc.import",
                         AuditPayload({{"kyc_version", absl::StrCat(summary.version)},
                                       {"source", source},
                                       {"accepted", absl::StrCat(summary.accepted)},
                                       {"content_sha256", summary.content_digest}}),
                         now)
            .status());
    PROV_RETURN_IF_ERROR(txn.Commit());
    hits_basis_ = basis;
    return absl::OkStatus();
  }();
  if (!done.ok()) {
    return grpc::Status(ToGrpc(done).error_code(),
                        absl::StrCat("nothing imported: ", done.message()));
  }
  response->set_kyc_version(summary.version);
  response->set_accepted(summary.accepted);
  response->set_content_digest(summary.content_digest);
  AddErrors(parsed->errors, options_.max_reported_errors,
            [&](const std::string& e) { response->add_errors(e); });
  Notify(std::move(snapshot));
  return grpc::Status::OK;
}

grpc::Status IdentityServiceImpl::ImportScreeningList(grpc::ServerContext* context,
                                                      const ImportScreeningListRequest* request,
                                                      ImportScreeningListResponse* response) {
  std::string actor;
  if (auto s = Authorize(context, provenance::v1::ROLE_ADMIN, &actor); !s.ok()) return s;
  if (request->content().size() > options_.max_import_bytes) {
    return TooLarge("content", request->content().size(), options_.max_import_bytes);
  }
  const std::string source =
      request->source_name().empty() ? "consolidated.csv" : request->source_name();
  std::vector<screening::RowError> row_errors;
  absl::StatusOr<screening::CslList> list =
      screening::ParseConsolidatedScreeningList(request->content(), source, &row_errors);
  if (!list.ok()) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("nothing imported; the current list is kept: ", list.status().message()));
  }
  if (list->entries.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat(source, ": no valid entries (", row_errors.size(),
                                     " rows rejected", row_errors.empty() ? "" : ", first: ",
                                     row_errors.empty() ? "" : row_errors[0].message,
                                     "); nothing imported; the current list is kept"));
  }
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  ScreeningListInfo info;
  IdentitySnapshot snapshot;
  absl::Status done = [&]() -> absl::Status {
    PROV_ASSIGN_OR_RETURN(int64_t kyc_version, LatestKycVersion(*db_));
    PROV_ASSIGN_OR_RETURN(std::vector<AccountIdentity> current, LoadCurrentAccounts(*db_));
    // A screener over the list just parsed (the one about to be stored), before the write lock.
    auto fresh = std::make_unique<ScreeningCache>(*list, normalizer_, ScreeningThreshold(),
                                                  options_.name_frequencies);
    snapshot = ScreenLocked(std::move(current), kyc_version, fresh.get());
    hits_basis_.clear();  // unknown until this import commits
    PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
    PROV_ASSIGN_OR_RETURN(
        info, server::ImportScreeningList(*db_, request->content(), *list, source, actor, now));
    PROV_RETURN_IF_ERROR(ReplaceScreeningHits(*db_, snapshot.screening, snapshot.kyc_version,
                                              snapshot.screening_list_version, now));
    PROV_RETURN_IF_ERROR(AppendAuditEntry(*db_, actor, "screening.import",
                                          AuditPayload({{"list_version", info.list_version},
                                                        {"source", source},
                                                        {"entries", absl::StrCat(info.entries)}}),
                                          now)
                             .status());
    PROV_RETURN_IF_ERROR(txn.Commit());
    hits_basis_ = Basis(fresh.get());
    cache_ = std::move(fresh);
    return absl::OkStatus();
  }();
  if (!done.ok()) {
    return grpc::Status(
        ToGrpc(done).error_code(),
        absl::StrCat("nothing imported; the current list is kept: ", done.message()));
  }
  response->set_list_version(info.list_version);
  response->set_entries(static_cast<uint32_t>(info.entries));
  response->set_columns(static_cast<uint32_t>(info.columns));
  response->set_hits(static_cast<uint32_t>(snapshot.screening.size()));
  AddErrors(row_errors, options_.max_reported_errors,
            [&](const std::string& e) { response->add_errors(e); });
  Notify(std::move(snapshot));
  return grpc::Status::OK;
}

}  // namespace prov::server
