#include "tools/provctl/format_compliance.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "tools/provctl/format.h"
#include "tools/provctl/format_analysis.h"

namespace prov::provctl {
namespace {

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

}  // namespace

std::string RoleName(provenance::v1::Role role) {
  if (role == provenance::v1::ROLE_UNSPECIFIED) return "-";
  return absl::AsciiStrToLower(provenance::v1::Role_Name(role).substr(std::string("ROLE_").size()));
}

std::string PrincipalText(const provenance::v1::Principal& p) {
  return absl::StrCat(p.actor(), " (", RoleName(p.role()), ", by ", p.method(), ")\n");
}

std::string IssuedTokenText(const provenance::v1::IssueTokenResponse& r) {
  return absl::StrCat("token ", r.info().token_id(), " for ", r.info().name(), " (",
                      RoleName(r.info().role()), "):\n", r.token(),
                      "\nIt is shown only now; provd keeps only its SHA-256.\n");
}

std::string TokensTable(const provenance::v1::ListTokensResponse& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : r.tokens()) {
    rows.push_back({t.token_id(), t.name(), RoleName(t.role()), FormatTime(t.created_at()),
                    t.created_by(), t.revoked() ? FormatTime(t.revoked_at()) : "-",
                    t.has_expires_at() ? FormatTime(t.expires_at()) : "never"});
  }
  return RenderTable({"TOKEN", "NAME", "ROLE", "CREATED", "BY", "REVOKED", "EXPIRES"}, rows);
}

std::string CasesTable(const provenance::v1::ListCasesResponse& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : r.cases()) {
    rows.push_back({c.flag_id(), FlagStatusName(c.status()), DispositionName(c.disposition()),
                    OrDash(c.assignee()),
                    c.has_updated_at() ? FormatTime(c.updated_at()) : std::string("-")});
  }
  return RenderTable({"FLAG", "STATUS", "DISPOSITION", "ASSIGNEE", "CASE UPDATED"}, rows);
}

std::string CaseDetail(const provenance::v1::Case& c) {
  std::string out = absl::StrCat("case of ", c.flag_id(), " (revision ", c.revision(), ")\n");
  absl::StrAppend(&out, "  status:      ", FlagStatusName(c.status()), "\n");
  absl::StrAppend(&out, "  disposition: ", DispositionName(c.disposition()),
                  c.duplicate_of().empty() ? "" : absl::StrCat(" of ", c.duplicate_of()), "\n");
  absl::StrAppend(&out, "  assignee:    ", OrDash(c.assignee()), "\n");
  absl::StrAppend(&out, "  updated:     ",
                  c.has_updated_at() ? FormatTimeUtc(c.updated_at()) : std::string("-"), "\n");
  absl::StrAppend(&out, "\nactions (", c.actions_size(), "):\n");
  for (const auto& a : c.actions()) {
    absl::StrAppend(&out, "  ", a.seq(), ". ", FormatTimeUtc(a.time()), "  ", a.actor(), "  ",
                    a.action());
    if (a.from_status() != a.to_status()) {
      absl::StrAppend(&out, " (", FlagStatusName(a.from_status()), " -> ",
                      FlagStatusName(a.to_status()), ")");
    }
    if (a.disposition() != provenance::v1::DISPOSITION_UNSPECIFIED) {
      absl::StrAppend(&out, " as ", DispositionName(a.disposition()));
    }
    if (!a.duplicate_of().empty()) absl::StrAppend(&out, " of ", a.duplicate_of());
    if (a.action() == "assign") absl::StrAppend(&out, " to ", OrDash(a.assignee()));
    if (!a.note().empty()) absl::StrAppend(&out, ": ", a.note());
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string AuditTable(const provenance::v1::ListAuditEntriesResponse& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : r.entries()) {
    rows.push_back({absl::StrCat(e.seq()), FormatTime(e.time()), e.actor(), e.action(), e.payload(),
                    e.hash().substr(0, 12)});
  }
  return RenderTable({"SEQ", "TIME", "ACTOR", "ACTION", "DETAILS", "HASH"}, rows,
                     {true, false, false, false, false, false});
}

std::string VerifyText(const provenance::v1::VerifyAuditLogResponse& r) {
  std::string out;
  if (r.intact()) {
    absl::StrAppend(&out, "intact: ", r.entries(), " entries, head ", r.head_seq(), " ",
                    r.head_hash(), "\n");
  } else {
    absl::StrAppend(&out, "NOT INTACT: ", r.problems_size(), " problem(s) in ", r.entries(),
                    " entries\n");
    for (const auto& p : r.problems()) absl::StrAppend(&out, "  ", p, "\n");
  }
  if (r.anchor_seq() > 0) {
    absl::StrAppend(&out, "checked against the anchor at entry ", r.anchor_seq(),
                    " (from the newest export or --anchor-seq)\n");
  } else {
    absl::StrAppend(&out, "no anchor yet (no export): truncation at the end cannot be detected\n");
  }
  return out;
}

}  // namespace prov::provctl
