#include "server/cases/case_manager.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "server/auditlog/audit_log.h"
#include "server/store/connection.h"
#include "server/store/schema.h"
#include "server/store/transaction.h"

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
  PROV_ASSIGN_OR_RETURN(auto db, OpenConnection(db_path, SqliteDb::kReadWrite));
  PROV_RETURN_IF_ERROR(MigrateSchema(*db));
  return std::unique_ptr<CaseManager>(new CaseManager(std::move(db), engine, clock));
}

absl::StatusOr<Case> CaseManager::ReadCase(const std::string& flag_id, const Flag& flag,
                                           bool with_actions) {
  Case c;
  c.set_flag_id(flag_id);
  c.set_status(flag.status());
  c.set_disposition(flag.disposition());
  c.set_assignee(flag.assignee());
  PROV_ASSIGN_OR_RETURN(Statement * st,
                        db_->Cached("SELECT status, disposition, assignee, duplicate_of, revision, "
                                    "updated_us FROM cases WHERE flag_id = ?"));
  st->BindText(1, flag_id);
  auto row = st->Step();
  if (row.ok() && *row) {
    c.set_status(static_cast<FlagStatus>(st->ColumnInt64(0)));
    c.set_disposition(static_cast<provenance::v1::Disposition>(st->ColumnInt64(1)));
    c.set_assignee(st->ColumnText(2));
    c.set_duplicate_of(st->ColumnText(3));
    c.set_revision(static_cast<uint64_t>(st->ColumnInt64(4)));
    *c.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(st->ColumnInt64(5));
  }
  st->Reset();
  PROV_RETURN_IF_ERROR(row.status());
  if (!with_actions) return c;
  PROV_ASSIGN_OR_RETURN(
      Statement * actions,
      db_->Cached("SELECT action FROM case_actions WHERE flag_id = ? ORDER BY seq"));
  actions->BindText(1, flag_id);
  while (true) {
    auto more = actions->Step();
    if (!more.ok()) {
      actions->Reset();
      return more.status();
    }
    if (!*more) break;
    if (!c.add_actions()->ParseFromString(actions->ColumnBlob(0))) {
      actions->Reset();
      return absl::DataLossError(absl::StrCat("case_actions of ", flag_id, ": unreadable row"));
    }
  }
  actions->Reset();
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
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  Case current;
  {
    PROV_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(*db_, Transaction::kWrite));
    PROV_ASSIGN_OR_RETURN(current, ReadCase(request.flag_id(), *flag, /*with_actions=*/false));
    if (request.expected_revision() != 0 && request.expected_revision() != current.revision()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "expected_revision: the case of ", request.flag_id(), " is at revision ",
          current.revision(), ", not ", request.expected_revision(), " (someone changed it)"));
    }
    PROV_ASSIGN_OR_RETURN(FlagStatus next, NextCaseStatus(current.status(), request.action()));
    CaseAction action;
    action.set_seq(current.revision() + 1);
    action.set_flag_id(request.flag_id());
    action.set_actor(who.actor());
    action.set_action(request.action());
    action.set_from_status(current.status());
    action.set_to_status(next);
    action.set_note(request.note());
    *action.mutable_time() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
    if (request.action() == "assign") {
      action.set_assignee(request.assignee());
      current.set_assignee(request.assignee());
    }
    if (request.action() == "resolve") {
      action.set_disposition(request.disposition());
      action.set_duplicate_of(request.duplicate_of());
      current.set_disposition(request.disposition());
      current.set_duplicate_of(request.duplicate_of());
    }
    if (request.action() == "reopen") {
      current.set_disposition(provenance::v1::DISPOSITION_UNSPECIFIED);
      current.set_duplicate_of("");
    }
    current.set_status(next);
    current.set_revision(action.seq());
    *current.mutable_updated_at() = action.time();

    PROV_ASSIGN_OR_RETURN(Statement * ins,
                          db_->Cached("INSERT INTO case_actions(flag_id, seq, time_us, actor, "
                                      "action) VALUES (?, ?, ?, ?, ?)"));
    ins->BindText(1, request.flag_id());
    ins->BindInt64(2, static_cast<int64_t>(action.seq()));
    ins->BindInt64(3, absl::ToUnixMicros(now));
    ins->BindText(4, who.actor());
    ins->BindBlob(5, action.SerializeAsString());
    absl::Status ran = ins->Run();
    ins->Reset();
    PROV_RETURN_IF_ERROR(ran);
    PROV_ASSIGN_OR_RETURN(
        Statement * up,
        db_->Cached("INSERT INTO cases(flag_id, status, disposition, assignee, duplicate_of, "
                    "revision, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(flag_id) DO "
                    "UPDATE SET status = excluded.status, disposition = excluded.disposition, "
                    "assignee = excluded.assignee, duplicate_of = excluded.duplicate_of, "
                    "revision = excluded.revision, updated_us = excluded.updated_us"));
    up->BindText(1, request.flag_id());
    up->BindInt64(2, current.status());
    up->BindInt64(3, current.disposition());
    up->BindText(4, current.assignee());
    up->BindText(5, current.duplicate_of());
    up->BindInt64(6, static_cast<int64_t>(current.revision()));
    up->BindInt64(7, absl::ToUnixMicros(now));
    ran = up->Run();
    up->Reset();
    PROV_RETURN_IF_ERROR(ran);
    PROV_RETURN_IF_ERROR(
        AppendAuditEntry(*db_, who.actor(), absl::StrCat("case.", request.action()),
                         AuditPayload({{"flag_id", request.flag_id()},
                                       {"from", StatusWord(action.from_status())},
                                       {"to", StatusWord(next)},
                                       {"disposition", request.action() == "resolve"
                                                           ? DispositionWord(request.disposition())
                                                           : ""},
                                       {"assignee", action.assignee()},
                                       {"duplicate_of", action.duplicate_of()},
                                       {"note", request.note()},
                                       {"case_seq", absl::StrCat(action.seq())}}),
                         now)
            .status());
    PROV_RETURN_IF_ERROR(txn.Commit());
  }
  // Committed: the engine's flag follows (ReconcileEngine repairs it after a crash here).
  PROV_RETURN_IF_ERROR(engine_
                           .SetFlagCase(request.flag_id(), current.status(), current.disposition(),
                                        current.assignee(), now)
                           .status());
  return ReadCase(request.flag_id(), *flag, /*with_actions=*/true);
}

absl::StatusOr<Case> CaseManager::Get(const std::string& flag_id) {
  auto flag = engine_.Read([&](const Analyzer& a) -> std::optional<Flag> {
    const Flag* f = a.flag(flag_id);
    return f == nullptr ? std::nullopt : std::optional<Flag>(*f);
  });
  if (!flag.has_value()) return absl::NotFoundError(absl::StrCat("flag_id: no flag ", flag_id));
  absl::MutexLock lock(&mu_);
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
  absl::MutexLock lock(&mu_);
  PROV_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT flag_id, status, disposition, assignee, "
                                              "updated_us FROM cases"));
  while (true) {
    PROV_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    const std::string id = st->ColumnText(0);
    const int64_t updated_us = st->ColumnInt64(4);
    const bool missed = engine_.Read([&](const Analyzer& a) {
      const Flag* f = a.flag(id);
      return f != nullptr && TimeUtil::TimestampToMicroseconds(f->case_updated_at()) < updated_us;
    });
    if (!missed) continue;
    PROV_RETURN_IF_ERROR(
        engine_
            .SetFlagCase(id, static_cast<FlagStatus>(st->ColumnInt64(1)),
                         static_cast<provenance::v1::Disposition>(st->ColumnInt64(2)),
                         st->ColumnText(3), absl::FromUnixMicros(updated_us))
            .status());
  }
  return absl::OkStatus();
}

}  // namespace prov::server
