#include "tools/provctl/format_analysis.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "tools/provctl/format.h"

namespace prov::provctl {
namespace {

using provenance::v1::Bundle;
using provenance::v1::Flag;

bool IsSet(const google::protobuf::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

std::string Range(const google::protobuf::Timestamp& first,
                  const google::protobuf::Timestamp& last) {
  if (!IsSet(first) && !IsSet(last)) return "-";
  return absl::StrCat(FormatTimeUtc(first), " .. ", FormatTimeUtc(last));
}

void AppendField(std::string* out, absl::string_view name, absl::string_view value) {
  absl::StrAppendFormat(out, "%-14s %s\n", absl::StrCat(name, ":"), value.empty() ? "-" : value);
}

void AppendBundleSummary(std::string* out, const Bundle& b) {
  AppendField(out, "bundle",
              b.merged_into().empty()
                  ? b.bundle_id()
                  : absl::StrCat(b.bundle_id(), " (merged into ", b.merged_into(), ")"));
  AppendField(out, "accounts", JoinOrDash(b.accounts()));
  AppendField(out, "datacenters", JoinOrDash(b.datacenters()));
  AppendField(out, "regions", JoinOrDash(b.regions()));
  AppendField(out, "nodes", JoinOrDash(b.nodes()));
  AppendField(out, "accelerators",
              absl::StrCat(b.accelerator_count(), " (", JoinOrDash(b.accelerator_models()), ")"));
  AppendField(out, "training FLOP", FormatFlopWithMethod(b.training_flop()));
  AppendField(out, "training h", FormatHours(b.training_accelerator_hours()));
  AppendField(out, "FLOP per day", FormatFlop(b.flop_rate_per_day()));
  AppendField(out, "score", absl::StrFormat("%.2f (%u links)", b.score(), b.link_count()));
  AppendField(out, "evidence time", Range(b.first_time(), b.last_time()));
}

}  // namespace

std::string SeverityName(provenance::v1::Severity severity) {
  switch (severity) {
    case provenance::v1::SEVERITY_INFO:
      return "info";
    case provenance::v1::SEVERITY_LOW:
      return "low";
    case provenance::v1::SEVERITY_MEDIUM:
      return "medium";
    case provenance::v1::SEVERITY_HIGH:
      return "high";
    case provenance::v1::SEVERITY_CRITICAL:
      return "critical";
    default:
      return "-";
  }
}

std::string DispositionName(provenance::v1::Disposition d) {
  if (d == provenance::v1::DISPOSITION_UNSPECIFIED) return "-";
  return absl::AsciiStrToLower(
      provenance::v1::Disposition_Name(d).substr(std::string("DISPOSITION_").size()));
}

std::string FlagStatusName(provenance::v1::FlagStatus status) {
  switch (status) {
    case provenance::v1::FLAG_STATUS_OPEN:
      return "open";
    case provenance::v1::FLAG_STATUS_ACKNOWLEDGED:
      return "acknowledged";
    case provenance::v1::FLAG_STATUS_ESCALATED:
      return "escalated";
    case provenance::v1::FLAG_STATUS_RESOLVED:
      return "resolved";
    default:
      return "-";
  }
}

std::string FormatTimeUtc(const google::protobuf::Timestamp& t) {
  if (!IsSet(t)) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string FormatFlopWithMethod(const provenance::v1::FlopEstimate& flop) {
  if (flop.low() == 0 && flop.high() == 0 && flop.method().empty()) return "-";
  std::string range = FormatFlopRange(flop);
  return flop.method().empty() ? range : absl::StrCat(range, " (", flop.method(), ")");
}

std::string FlagsTable(const provenance::v1::ListFlagsResponse& response) {
  std::vector<std::vector<std::string>> rows;
  for (const Flag& f : response.flags()) {
    rows.push_back({f.flag_id(), SeverityName(f.severity()), FlagStatusName(f.status()), f.rule(),
                    f.subject(), JoinOrDash(f.accounts(), ","),
                    f.has_training_flop() ? FormatFlopRange(f.training_flop()) : "-",
                    FormatTime(f.updated_at()), f.summary()});
  }
  return RenderTable(
      {"FLAG", "SEVERITY", "STATUS", "RULE", "SUBJECT", "ACCOUNTS", "FLOP", "UPDATED", "SUMMARY"},
      rows, {false, false, false, false, false, false, true, false, false});
}

std::string FlagLine(const Flag& f) {
  return absl::StrCat(FormatTimeUtc(f.updated_at()), "  ", f.flag_id(), " rev ", f.revision(), "  ",
                      SeverityName(f.severity()), "  ", FlagStatusName(f.status()), "  ", f.rule(),
                      "  ", f.subject(), "  ", f.summary());
}

std::string LinkLine(const provenance::v1::Link& l) {
  std::string between = absl::StrCat(l.account_a(), " <-> ", l.account_b());
  if (!l.workload_a().empty() || !l.workload_b().empty()) {
    absl::StrAppend(&between, " (", l.workload_a(), " <-> ", l.workload_b(), ")");
  }
  std::string line = absl::StrFormat("%s %.2f  %s: %s", l.kind(), l.weight(), between,
                                     l.sentence().empty() ? "-" : l.sentence());
  if (IsSet(l.first_time()))
    absl::StrAppend(&line, " [", Range(l.first_time(), l.last_time()), "]");
  if (!l.kyc_version().empty()) absl::StrAppend(&line, " [KYC version ", l.kyc_version(), "]");
  return line;
}

std::string FlagDetail(const provenance::v1::GetFlagResponse& response) {
  const Flag& f = response.flag();
  std::string out;
  AppendField(&out, "flag", absl::StrCat(f.flag_id(), " (revision ", f.revision(), ")"));
  AppendField(&out, "summary", f.summary());
  AppendField(&out, "rule", f.rule());
  AppendField(&out, "subject", f.subject());
  AppendField(&out, "severity", SeverityName(f.severity()));
  AppendField(&out, "status", FlagStatusName(f.status()));
  if (f.disposition() != provenance::v1::DISPOSITION_UNSPECIFIED) {
    AppendField(&out, "disposition", DispositionName(f.disposition()));
  }
  AppendField(&out, "assignee", f.assignee().empty() ? "-" : f.assignee());
  AppendField(&out, "policy", f.policy_version());
  AppendField(&out, "KYC version", f.kyc_version() == 0 ? "-" : absl::StrCat(f.kyc_version()));
  AppendField(&out, "list version", f.screening_list_version());
  AppendField(&out, "evidence time", Range(f.first_time(), f.last_time()));
  AppendField(&out, "raised", FormatTimeUtc(f.raised_at()));
  AppendField(&out, "updated", FormatTimeUtc(f.updated_at()));
  AppendField(&out, "training FLOP",
              f.has_training_flop() ? FormatFlopWithMethod(f.training_flop()) : "-");
  AppendField(&out, "accounts", JoinOrDash(f.accounts()));
  AppendField(&out, "datacenters", JoinOrDash(f.datacenters()));
  AppendField(&out, "nodes", JoinOrDash(f.nodes()));
  AppendField(&out, "workloads", JoinOrDash(f.workloads()));
  AppendField(&out, "accelerators", JoinOrDash(f.accelerators()));
  absl::StrAppend(&out, "\nevidence (", f.evidence_size(), "):\n");
  int n = 0;
  for (const auto& e : f.evidence()) {
    absl::StrAppendFormat(&out, "  %d. [%s] %s%s\n", ++n, e.kind(),
                          IsSet(e.time()) ? absl::StrCat(FormatTimeUtc(e.time()), "  ") : "",
                          e.sentence().empty() ? "-" : e.sentence());
    if (e.has_link()) absl::StrAppend(&out, "     link: ", LinkLine(e.link()), "\n");
  }
  if (response.has_bundle()) {
    absl::StrAppend(&out, "\n");
    AppendBundleSummary(&out, response.bundle());
  } else if (!f.bundle_id().empty()) {
    absl::StrAppend(&out, "\n");
    AppendField(&out, "bundle", f.bundle_id());
  }
  return out;
}

std::string BundlesTable(const provenance::v1::ListBundlesResponse& response) {
  std::vector<std::vector<std::string>> rows;
  for (const Bundle& b : response.bundles()) {
    rows.push_back({b.bundle_id(), JoinOrDash(b.accounts(), ","), JoinOrDash(b.datacenters(), ","),
                    absl::StrCat(b.workloads_size()), absl::StrCat(b.accelerator_count()),
                    FormatFlopRange(b.training_flop()), FormatHours(b.training_accelerator_hours()),
                    absl::StrFormat("%.2f", b.score()), FormatTime(b.last_time()),
                    b.merged_into()});
  }
  return RenderTable({"BUNDLE", "ACCOUNTS", "DATACENTERS", "WORKLOADS", "ACCEL", "TRAINING_FLOP",
                      "TRAINING_H", "SCORE", "LAST_EVIDENCE", "MERGED_INTO"},
                     rows, {false, false, false, true, true, true, true, true, false, false});
}

std::string BundleDetail(const provenance::v1::GetBundleResponse& response) {
  std::string out;
  const Bundle& b = response.bundle();
  AppendBundleSummary(&out, b);
  absl::StrAppend(&out, "\nworkloads (", b.workloads_size(), "):\n");
  for (const auto& w : b.workloads()) absl::StrAppend(&out, "  ", w, "\n");
  absl::StrAppend(&out, "\nlinks (", response.links_size(), "):\n");
  for (const auto& l : response.links()) absl::StrAppend(&out, "  ", LinkLine(l), "\n");
  absl::StrAppend(&out, "\nflags (", response.flags_size(), "):\n");
  for (const Flag& f : response.flags()) {
    absl::StrAppend(&out, "  ", f.flag_id(), "  ", SeverityName(f.severity()), "  ",
                    FlagStatusName(f.status()), "  ", f.rule(), "  ", f.summary(), "\n");
  }
  return out;
}

}  // namespace prov::provctl
