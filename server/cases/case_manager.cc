#include "server/cases/case_manager.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/store/repo/audit_log.h"
#include "server/store/sqlite/sqlite_cases.h"

namespace prov::server {
namespace {

using google::protobuf::util::TimeUtil;
using provenance::v1::Case;
using provenance::v1::CaseAction;
using provenance::v1::Flag;
using provenance::v1::FlagStatus;

constexpr size_t kMaxNote = 8000;

std::string StatusWord(FlagStatus s) {
  std::string name = provenance::v1::FlagStatus_Name(s);
  return absl::AsciiStrToLower(name.substr(std::string("FLAG_STATUS_").size()));
}

std::string DispositionWord(provenance::v1::Disposition d) {
  std::string name = provenance::v1::Disposition_Name(d);
  return absl::AsciiStrToLower(name.substr(std::string("DISPOSITION_").size()));
}

bool ValidAssignee(const std::string& a) {
  if (a.size() > 64) return false;
  for (char c : a) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' ||
          c == '-' || c == ':')) {
      return false;
    }
  }
  return true;
}

absl::Status Validate(const provenance::v1::UpdateCaseRequest& r) {
  if (r.flag_id().empty()) return absl::InvalidArgumentError("flag_id: is required");
  if (r.note().size() > kMaxNote) {
    return absl::InvalidArgumentError(
        absl::StrCat("note: ", r.note().size(), " bytes is over the limit of ", kMaxNote));
  }
  if (r.action() == "note" && r.note().empty()) {
    return absl::InvalidArgumentError("note: is required for the note action");
  }
  if (r.action() == "assign" && !ValidAssignee(r.assignee())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "assignee: '", r.assignee(), "' must be at most 64 characters of A-Z a-z 0-9 . _ @ - :"));
  }
  if (r.action() == "resolve") {
    if (r.disposition() == provenance::v1::DISPOSITION_UNSPECIFIED ||
        !provenance::v1::Disposition_IsValid(r.disposition())) {
      return absl::InvalidArgumentError(
          "disposition: resolving needs one of confirmed, false_positive, licensed, duplicate");
    }
    if (r.disposition() == provenance::v1::DISPOSITION_DUPLICATE) {
      if (r.duplicate_of().empty()) {
        return absl::InvalidArgumentError("duplicate_of: resolving as duplicate names the flag");
      }
      if (r.duplicate_of() == r.flag_id()) {
        return absl::InvalidArgumentError("duplicate_of: a flag cannot duplicate itself");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FlagStatus> NextCaseStatus(FlagStatus from, const std::string& action) {
  using provenance::v1::FLAG_STATUS_ACKNOWLEDGED;
  using provenance::v1::FLAG_STATUS_ESCALATED;
  using provenance::v1::FLAG_STATUS_OPEN;
  using provenance::v1::FLAG_STATUS_RESOLVED;
  auto refuse = [&](absl::string_view allowed) {
    return absl::FailedPreconditionError(absl::StrCat("action ", action, ": the case is ",
                                                      StatusWord(from), "; ", action,
                                                      " applies to ", allowed, " cases"));
  };
  if (action == "assign" || action == "note") return from;
  if (action == "acknowledge") {
    if (from != FLAG_STATUS_OPEN) return refuse("open");
    return FLAG_STATUS_ACKNOWLEDGED;
  }
  if (action == "escalate") {
    if (from != FLAG_STATUS_OPEN && from != FLAG_STATUS_ACKNOWLEDGED) {
      return refuse("open or acknowledged");
    }
    return FLAG_STATUS_ESCALATED;
  }
  if (action == "resolve") {
    if (from == FLAG_STATUS_RESOLVED) return refuse("open, acknowledged or escalated");
    return FLAG_STATUS_RESOLVED;
  }
  if (action == "reopen") {
    if (from != FLAG_STATUS_RESOLVED) return refuse("resolved");
    return FLAG_STATUS_OPEN;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "action: '", action, "' is not one of acknowledge, escalate, resolve, reopen, assign, note"));
}

absl::StatusOr<std::unique_ptr<CaseManager>> CaseManager::Open(const std::string& db_path,
                                                               AnalysisEngine& engine,
                                                               const Clock& clock) {
  PROV_ASSIGN_OR_RETURN(auto repository, SqliteCaseRepository::Open(db_path));
  return std::make_unique<CaseManager>(std::move(repository), engine, clock);
}

absl::StatusOr<Case> CaseManager::ReadCase(const std::string& flag_id, const Flag& flag,
                                           bool with_actions) {
  Case c;
  c.set_flag_id(flag_id);
  c.set_status(flag.status());
  c.set_disposition(flag.disposition());
  c.set_assignee(flag.assignee());
  PROV_ASSIGN_OR_RETURN(std::optional<StoredCase> stored, cases_->Get(flag_id));
  if (stored.has_value()) {
    c.set_status(static_cast<FlagStatus>(stored->status));
    c.set_disposition(static_cast<provenance::v1::Disposition>(stored->disposition));
    c.set_assignee(stored->assignee);
    c.set_duplicate_of(stored->duplicate_of);
    c.set_revision(stored->revision);
    *c.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(stored->updated_us);
  }
  if (!with_actions) return c;
  PROV_ASSIGN_OR_RETURN(std::vector<std::string> actions, cases_->Actions(flag_id));
  for (const std::string& bytes : actions) {
    if (!c.add_actions()->ParseFromString(bytes)) {
      return absl::DataLossError(absl::StrCat("case_actions of ", flag_id, ": unreadable row"));
    }
  }
  return c;
}

absl::StatusOr<Case> CaseManager::Update(const provenance::v1::Principal& who,
                                         const provenance::v1::UpdateCaseRequest& request) {
  PROV_RETURN_IF_ERROR(Validate(request));
  auto flag = engine_.Read([&](const Analyzer& a) -> std::optional<Flag> {
    const Flag* f = a.flag(request.flag_id());
    return f == nullptr ? std::nullopt : std::optional<Flag>(*f);
  });
  if (!flag.has_value()) {
    return absl::NotFoundError(absl::StrCat("flag_id: no flag ", request.flag_id()));
  }
  // Issue 9: clearing a weak screening match is a recorded decision about a person; it needs the
  // reason ("not the listed John Johnson, DOB differs").
  if (request.action() == "resolve" &&
      request.disposition() == provenance::v1::DISPOSITION_FALSE_POSITIVE &&
      absl::StartsWith(flag->rule(), "screening_review:") && request.note().empty()) {
    return absl::InvalidArgumentError(
        "note: clearing a screening review (false_positive) needs the reason, e.g. \"not the "
        "listed person: date of birth differs\"");
  }
  if (!request.duplicate_of().empty()) {
    const bool exists =
        engine_.Read([&](const Analyzer& a) { return a.flag(request.duplicate_of()) != nullptr; });
    if (!exists) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate_of: no flag ", request.duplicate_of()));
    }
  }
  absl::MutexLock lock(&update_mu_);
  const absl::Time now = clock_.Now();
  const int64_t now_us = absl::ToUnixMicros(now);
  // Decided inside the repository's transaction, from the case as committed (on any replica).
  auto decide = [&](const std::optional<StoredCase>& stored) -> absl::StatusOr<CaseChange> {
    const uint64_t revision = stored.has_value() ? stored->revision : 0;
    if (request.expected_revision() != 0 && request.expected_revision() != revision) {
      return absl::FailedPreconditionError(
          absl::StrCat("expected_revision: the case of ", request.flag_id(), " is at revision ",
                       revision, ", not ", request.expected_revision(), " (someone changed it)"));
    }
    CaseChange change;
    StoredCase& next = change.after;
    if (stored.has_value()) {
      next = *stored;
    } else {
      next.flag_id = request.flag_id();
      next.status = flag->status();
      next.disposition = flag->disposition();
      next.assignee = flag->assignee();
    }
    const auto from = static_cast<FlagStatus>(next.status);
    PROV_ASSIGN_OR_RETURN(FlagStatus to, NextCaseStatus(from, request.action()));
    CaseAction action;
    action.set_seq(revision + 1);
    action.set_flag_id(request.flag_id());
    action.set_actor(who.actor());
    action.set_action(request.action());
    action.set_from_status(from);
    action.set_to_status(to);
    action.set_note(request.note());
    *action.mutable_time() = TimeUtil::MicrosecondsToTimestamp(now_us);
    if (request.action() == "assign") {
      action.set_assignee(request.assignee());
      next.assignee = request.assignee();
    }
    if (request.action() == "resolve") {
      action.set_disposition(request.disposition());
      action.set_duplicate_of(request.duplicate_of());
      next.disposition = request.disposition();
      next.duplicate_of = request.duplicate_of();
    }
    if (request.action() == "reopen") {
      next.disposition = provenance::v1::DISPOSITION_UNSPECIFIED;
      next.duplicate_of.clear();
    }
    next.status = to;
    next.revision = action.seq();
    next.updated_us = now_us;
    change.time_us = now_us;
    change.actor = who.actor();
    change.action = action.SerializeAsString();
    change.audit_action = absl::StrCat("case.", request.action());
    change.audit_payload =
        AuditPayload({{"flag_id", request.flag_id()},
                      {"from", StatusWord(from)},
                      {"to", StatusWord(to)},
                      {"disposition",
                       request.action() == "resolve" ? DispositionWord(request.disposition()) : ""},
                      {"assignee", action.assignee()},
                      {"duplicate_of", action.duplicate_of()},
                      {"note", request.note()},
                      {"case_seq", absl::StrCat(action.seq())}});
    return change;
  };
  PROV_ASSIGN_OR_RETURN(StoredCase after, cases_->Apply(request.flag_id(), decide));
  if (on_committed_) on_committed_(request.flag_id());
  // Committed: the engine's flag follows (ReconcileEngine repairs it after a crash here).
  PROV_RETURN_IF_ERROR(engine_
                           .SetFlagCase(request.flag_id(), static_cast<FlagStatus>(after.status),
                                        static_cast<provenance::v1::Disposition>(after.disposition),
                                        after.assignee, now)
                           .status());
  return ReadCase(request.flag_id(), *flag, /*with_actions=*/true);
}

absl::StatusOr<Case> CaseManager::Get(const std::string& flag_id) {
  auto flag = engine_.Read([&](const Analyzer& a) -> std::optional<Flag> {
    const Flag* f = a.flag(flag_id);
    return f == nullptr ? std::nullopt : std::optional<Flag>(*f);
  });
  if (!flag.has_value()) return absl::NotFoundError(absl::StrCat("flag_id: no flag ", flag_id));
  // The case and its actions are two reads: an update of this replica between them would show
  // N+1 actions at revision N.
  absl::MutexLock lock(&update_mu_);
  return ReadCase(flag_id, *flag, /*with_actions=*/true);
}

std::vector<Case> CaseManager::List(const provenance::v1::ListCasesRequest& request) const {
  provenance::v1::ListFlagsRequest filter;
  filter.set_status(request.status());
  const uint32_t limit = request.limit() == 0 ? 1000 : request.limit();
  std::vector<Flag> flags = engine_.Read([&](const Analyzer& a) { return a.ListFlags(filter); });
  std::vector<Case> out;
  for (const Flag& f : flags) {
    if (!request.assignee().empty() && f.assignee() != request.assignee()) continue;
    Case c;
    c.set_flag_id(f.flag_id());
    c.set_status(f.status());
    c.set_disposition(f.disposition());
    c.set_assignee(f.assignee());
    if (f.has_case_updated_at()) *c.mutable_updated_at() = f.case_updated_at();
    out.push_back(std::move(c));
    if (out.size() >= limit) break;
  }
  return out;
}

absl::Status CaseManager::ReconcileEngine() {
  absl::MutexLock lock(&update_mu_);
  PROV_ASSIGN_OR_RETURN(std::vector<StoredCase> stored, cases_->List());
  for (const StoredCase& c : stored) {
    const bool missed = engine_.Read([&](const Analyzer& a) {
      const Flag* f = a.flag(c.flag_id);
      return f != nullptr && TimeUtil::TimestampToMicroseconds(f->case_updated_at()) < c.updated_us;
    });
    if (!missed) continue;
    PROV_RETURN_IF_ERROR(engine_
                             .SetFlagCase(c.flag_id, static_cast<FlagStatus>(c.status),
                                          static_cast<provenance::v1::Disposition>(c.disposition),
                                          c.assignee, absl::FromUnixMicros(c.updated_us))
                             .status());
  }
  return absl::OkStatus();
}

}  // namespace prov::server
