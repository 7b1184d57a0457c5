// IdentityServiceImpl: account and screening-list imports, and re-screening after them.
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/grpc/streamed_parts.h"
#include "common/status_macros.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/identity/identity_service.h"
#include "server/identity/identity_store.h"
#include "server/identity/screening_cache.h"
#include "server/identity/service_util.h"
#include "server/identity/transcode.h"
#include "server/store/repo/audit_log.h"

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

// What a failed import answers, counted by what went wrong.
grpc::Status Failed(ImportStats& stats, absl::string_view kind, const absl::Status& status,
                    absl::string_view prefix) {
  ImportResult result = ImportResult::kFailed;
  if (status.code() == absl::StatusCode::kCancelled) {
    result = ImportResult::kCancelled;
  } else if (status.code() == absl::StatusCode::kInvalidArgument) {
    result = ImportResult::kRefused;
  }
  stats.Count(kind, result, 0);
  return grpc::Status(ToGrpc(status).error_code(), absl::StrCat(prefix, status.message()));
}

// The slot is released when this goes out of scope.
class SlotHold {
 public:
  explicit SlotHold(ImportSlot& slot) : slot_(slot) {}
  ~SlotHold() { slot_.Release(); }
  SlotHold(const SlotHold&) = delete;
  SlotHold& operator=(const SlotHold&) = delete;

 private:
  ImportSlot& slot_;
};

constexpr absl::string_view kAccounts = "accounts";
constexpr absl::string_view kList = "screening_list";

absl::Status CancelledStatus(absl::string_view when) {
  return absl::CancelledError(absl::StrCat("import cancelled ", when,
                                           " (the caller went away, its deadline passed or "
                                           "provd is shutting down)"));
}

}  // namespace

grpc::Status IdentityServiceImpl::ImportAccountsStream(
    grpc::ServerContext* context, grpc::ServerReader<ImportAccountsRequest>* reader,
    ImportAccountsResponse* response) {
  std::string actor;
  if (auto s = Authorize(context, provenance::v1::ROLE_ADMIN, &actor); !s.ok()) return s;
  ImportAccountsRequest request;
  if (grpc::Status s = ReadParts(reader, options_.max_import_bytes, &request); !s.ok()) {
    stats_.Count(kAccounts, ImportResult::kRefused, 0);
    return s;
  }
  return ImportAccounts(context, &request, response);
}

grpc::Status IdentityServiceImpl::ImportScreeningListStream(
    grpc::ServerContext* context, grpc::ServerReader<ImportScreeningListRequest>* reader,
    ImportScreeningListResponse* response) {
  std::string actor;
  if (auto s = Authorize(context, provenance::v1::ROLE_ADMIN, &actor); !s.ok()) return s;
  ImportScreeningListRequest request;
  if (grpc::Status s = ReadParts(reader, options_.max_import_bytes, &request); !s.ok()) {
    stats_.Count(kList, ImportResult::kRefused, 0);
    return s;
  }
  return ImportScreeningList(context, &request, response);
}

grpc::Status IdentityServiceImpl::ImportAccounts(grpc::ServerContext* context,
                                                 const ImportAccountsRequest* request,
                                                 ImportAccountsResponse* response) {
  std::string actor;
  if (auto s = Authorize(context, provenance::v1::ROLE_ADMIN, &actor); !s.ok()) return s;
  const std::string prefix = "nothing imported: ";
  if (request->content().size() > options_.max_import_bytes) {
    stats_.Count(kAccounts, ImportResult::kRefused, 0);
    return TooLarge("content", request->content().size(), options_.max_import_bytes);
  }
  absl::StatusOr<kyc::KycFormat> format = RequestFormat(*request);
  if (!format.ok()) return Failed(stats_, kAccounts, format.status(), "");
  const std::string source = request->source_name().empty() ? "accounts" : request->source_name();
  absl::StatusOr<std::string> utf8 = TranscodeToUtf8(request->content(), request->encoding());
  if (!utf8.ok()) {
    return Failed(
        stats_, kAccounts,
        absl::Status(utf8.status().code(), absl::StrCat(source, ": ", utf8.status().message())),
        prefix);
  }
  const std::function<bool()> cancelled = [context] { return context->IsCancelled(); };
  kyc::KycParseOptions parse_options;
  parse_options.max_rows = options_.max_import_rows;
  parse_options.cancelled = cancelled;
  // Parsing needs no lock: a slow file does not hold up other calls.
  absl::StatusOr<kyc::KycParseResult> parsed = kyc::ParseKyc(*utf8, *format, source, parse_options);
  if (!parsed.ok()) return Failed(stats_, kAccounts, parsed.status(), prefix);
  if (!import_slot_.Acquire(cancelled)) {
    return Failed(stats_, kAccounts, CancelledStatus("while waiting for another import"), prefix);
  }
  SlotHold hold(import_slot_);
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  KycImportSummary summary;
  IdentitySnapshot snapshot;
  absl::Status done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    // Screen the accounts as they will be after the import, before taking the write lock.
    PROV_ASSIGN_OR_RETURN(int64_t latest, repo_->LatestKycVersion());
    PROV_ASSIGN_OR_RETURN(std::vector<AccountIdentity> current, repo_->CurrentAccounts());
    PROV_ASSIGN_OR_RETURN(const ScreeningCache* cache, StoredListScreenerLocked());
    std::optional<Reuse> reuse;
    if (cache != nullptr && hits_basis_ == Basis(cache)) {  // the stored hits are still valid
      reuse.emplace();
      reuse->changed = ChangedAccounts(current, parsed->accounts);
      PROV_ASSIGN_OR_RETURN(reuse->stored, repo_->ScreeningHits(""));
    }
    const std::string basis = Basis(cache);
    hits_basis_.clear();  // unknown until this import commits
    snapshot = ScreenLocked(MergeAccounts(std::move(current), parsed->accounts), latest + 1, cache,
                            reuse.has_value() ? &*reuse : nullptr, &cancelled);
    if (cancelled()) return CancelledStatus("while screening");
    // One transaction: the new version, the hits screened above and the audit entry. A version
    // other than latest + 1 (another writer imported meanwhile) is ABORTED, nothing written.
    KycImportWrite write;
    write.accounts = &parsed->accounts;
    write.source = source;
    write.actor = actor;
    write.content_digest = parsed->content_digest;
    write.errors = static_cast<uint32_t>(parsed->errors.size());
    write.now = now;
    write.expected_version = snapshot.kyc_version;
    write.hits = &snapshot.screening;
    write.list_version = snapshot.screening_list_version;
    write.audit = [&](const KycImportSummary& s) {
      return AuditRecord{.actor = actor,
                         .action = "kyc.import",
                         .payload = AuditPayload({{"kyc_version", absl::StrCat(s.version)},
                                                  {"source", source},
                                                  {"accepted", absl::StrCat(s.accepted)},
                                                  {"content_sha256", s.content_digest}}),
                         .at = now};
    };
    // The last point of no return: a caller gone by now gets nothing half-imported.
    write.cancelled = cancelled;
    PROV_ASSIGN_OR_RETURN(summary, repo_->ImportKyc(write));
    hits_basis_ = basis;
    return absl::OkStatus();
  }();
  if (!done.ok()) return Failed(stats_, kAccounts, done, prefix);
  stats_.Count(kAccounts, parsed->errors.empty() ? ImportResult::kOk : ImportResult::kPartial,
               parsed->errors.size());
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
  const std::string prefix = "nothing imported; the current list is kept: ";
  if (request->content().size() > options_.max_import_bytes) {
    stats_.Count(kList, ImportResult::kRefused, 0);
    return TooLarge("content", request->content().size(), options_.max_import_bytes);
  }
  const std::string source =
      request->source_name().empty() ? "consolidated.csv" : request->source_name();
  // Stored as UTF-8: the stored list is parsed again (at start-up) without an encoding.
  absl::StatusOr<std::string> content = TranscodeToUtf8(request->content(), request->encoding());
  if (!content.ok()) {
    return Failed(stats_, kList,
                  absl::Status(content.status().code(),
                               absl::StrCat(source, ": ", content.status().message())),
                  prefix);
  }
  const std::function<bool()> cancelled = [context] { return context->IsCancelled(); };
  screening::CslParseOptions parse_options;
  parse_options.max_rows = options_.max_import_rows;
  parse_options.cancelled = cancelled;
  std::vector<screening::RowError> row_errors;
  absl::StatusOr<screening::CslList> list =
      screening::ParseConsolidatedScreeningList(*content, source, &row_errors, parse_options);
  if (!list.ok()) return Failed(stats_, kList, list.status(), prefix);
  if (list->entries.empty()) {
    return Failed(stats_, kList,
                  absl::InvalidArgumentError(
                      absl::StrCat(source, ": no valid entries (", row_errors.size(),
                                   " rows rejected", row_errors.empty() ? "" : ", first: ",
                                   row_errors.empty() ? "" : row_errors[0].message, ")")),
                  prefix);
  }
  if (!import_slot_.Acquire(cancelled)) {
    return Failed(stats_, kList, CancelledStatus("while waiting for another import"), prefix);
  }
  SlotHold hold(import_slot_);
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  ScreeningListInfo info;
  IdentitySnapshot snapshot;
  absl::Status done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    PROV_ASSIGN_OR_RETURN(int64_t kyc_version, repo_->LatestKycVersion());
    PROV_ASSIGN_OR_RETURN(std::vector<AccountIdentity> current, repo_->CurrentAccounts());
    // A screener over the list just parsed (the one about to be stored), before the write lock.
    auto fresh = std::make_unique<ScreeningCache>(*list, normalizer_, ScreeningThreshold(),
                                                  options_.name_frequencies, ScreeningDay());
    if (cancelled()) return CancelledStatus("while indexing the list");
    snapshot = ScreenLocked(std::move(current), kyc_version, fresh.get(), nullptr, &cancelled);
    if (cancelled()) return CancelledStatus("while screening");
    hits_basis_.clear();  // unknown until this import commits
    ScreeningListWrite write;
    write.content = *content;
    write.list_version = list->version;
    write.columns = list->columns;
    write.entries = static_cast<int>(list->entries.size());
    write.source = source;
    write.actor = actor;
    write.now = now;
    write.expected_kyc_version = snapshot.kyc_version;
    write.hits = HitsReplacement{.hits = &snapshot.screening,
                                 .kyc_version = snapshot.kyc_version,
                                 .list_version = snapshot.screening_list_version};
    write.audit = AuditRecord{.actor = actor,
                              .action = "screening.import",
                              .payload = AuditPayload({{"list_version", list->version},
                                                       {"source", source},
                                                       {"entries", absl::StrCat(write.entries)}}),
                              .at = now};
    write.cancelled = cancelled;
    PROV_ASSIGN_OR_RETURN(info, repo_->ImportScreeningList(write));
    hits_basis_ = Basis(fresh.get());
    cache_ = std::move(fresh);
    return absl::OkStatus();
  }();
  if (!done.ok()) return Failed(stats_, kList, done, prefix);
  stats_.Count(kList, row_errors.empty() ? ImportResult::kOk : ImportResult::kPartial,
               row_errors.size());
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
