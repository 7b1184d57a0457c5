// The analysis side of an export: flags (with their evidence chain and case), bundles, links,
// case actions.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/compliance.pb.h"
#include "server/export/export_tables.h"
#include "server/export/table_writer.h"

namespace prov::server::export_internal {
namespace {

using namespace provenance::v1;

std::string Ts(const google::protobuf::Timestamp& t) {
  return TimeText(t.seconds() * 1000000 + t.nanos() / 1000);
}
template <typename C>
std::string Joined(const C& values) {
  return absl::StrJoin(values, ";");
}

}  // namespace

absl::Status ExportFlags(StageContext& ctx) {
  // The evidence chain, one row per step, beside flags.csv (flags.jsonl nests it).
  PROV_ASSIGN_OR_RETURN(
      auto evidence,
      TableWriter::Open(ctx.dir, "flag_evidence",
                        {"flag_id", "step", "kind", "time", "sentence", "link_kind", "account_a",
                         "account_b", "workload_a", "workload_b", "link_weight"},
                        /*jsonl=*/false));
  TableSpec table{"flags",
                  {"flag_id",
                   "rule",
                   "subject",
                   "severity",
                   "status",
                   "disposition",
                   "assignee",
                   "duplicate_of",
                   "case_revision",
                   "case_updated_at",
                   "summary",
                   "policy_version",
                   "kyc_version",
                   "screening_list_version",
                   "bundle_id",
                   "accounts",
                   "datacenters",
                   "nodes",
                   "workloads",
                   "accelerators",
                   "training_flop_low",
                   "training_flop_high",
                   "training_flop_method",
                   "evidence_steps",
                   "first_time",
                   "last_time",
                   "raised_at",
                   "updated_at",
                   "revision"}};
  // cases is the truth for a flag's case (server/store/SCHEMA.md): overlay it.
  auto row = [&](const ExportCursor& st, std::vector<std::string>* csv,
                 nlohmann::json* json) -> absl::Status {
    const std::string flag_id = st.Text(0);
    Flag f;
    PROV_RETURN_IF_ERROR(ParseStored(st.Blob(1), "flags", flag_id, &f));
    const bool has_case = !st.IsNull(2);
    std::string duplicate_of;
    uint64_t case_revision = 0;
    if (has_case) {
      f.set_status(static_cast<FlagStatus>(st.Int64(2)));
      f.set_disposition(static_cast<Disposition>(st.Int64(3)));
      f.set_assignee(st.Text(4));
      duplicate_of = st.Text(5);
      case_revision = static_cast<uint64_t>(st.Int64(6));
      const int64_t updated_us = st.Int64(7);
      *f.mutable_case_updated_at() =
          google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(updated_us);
    }
    *csv = {f.flag_id(),
            f.rule(),
            f.subject(),
            Severity_Name(f.severity()),
            FlagStatus_Name(f.status()),
            Disposition_Name(f.disposition()),
            f.assignee(),
            duplicate_of,
            absl::StrCat(case_revision),
            f.has_case_updated_at() ? Ts(f.case_updated_at()) : "",
            f.summary(),
            f.policy_version(),
            absl::StrCat(f.kyc_version()),
            f.screening_list_version(),
            f.bundle_id(),
            Joined(f.accounts()),
            Joined(f.datacenters()),
            Joined(f.nodes()),
            Joined(f.workloads()),
            Joined(f.accelerators()),
            NumberText(f.training_flop().low()),
            NumberText(f.training_flop().high()),
            f.training_flop().method(),
            absl::StrCat(f.evidence_size()),
            Ts(f.first_time()),
            Ts(f.last_time()),
            Ts(f.raised_at()),
            Ts(f.updated_at()),
            absl::StrCat(f.revision())};
    for (int i = 0; i < f.evidence_size(); ++i) {
      const Evidence& e = f.evidence(i);
      PROV_RETURN_IF_ERROR(
          evidence->Row({f.flag_id(), absl::StrCat(i + 1), e.kind(), Ts(e.time()), e.sentence(),
                         e.has_link() ? e.link().kind() : "", e.link().account_a(),
                         e.link().account_b(), e.link().workload_a(), e.link().workload_b(),
                         e.has_link() ? NumberText(e.link().weight()) : ""},
                        ""));
    }
    *json = ProtoObject(f);
    (*json)["case"] = {{"status", FlagStatus_Name(f.status())},
                       {"disposition", Disposition_Name(f.disposition())},
                       {"assignee", f.assignee()},
                       {"duplicate_of", duplicate_of},
                       {"revision", case_revision},
                       {"recorded", has_case}};
    return absl::OkStatus();
  };
  PROV_RETURN_IF_ERROR(RunStage(
      ctx, "flags", table, "SELECT COUNT(*) FROM flags",
      "SELECT f.flag_id, f.flag, c.status, c.disposition, c.assignee, c.duplicate_of, c.revision, "
      "c.updated_us FROM flags f LEFT JOIN cases c ON c.flag_id = f.flag_id ORDER BY f.flag_id",
      row));
  PROV_RETURN_IF_ERROR(evidence->Close());
  ctx.rows["flag_evidence"] = evidence->rows();
  return absl::OkStatus();
}

absl::Status ExportBundles(StageContext& ctx) {
  TableSpec table{
      "bundles",
      {"bundle_id", "merged_into", "accounts", "datacenters", "regions", "nodes", "workloads",
       "accelerator_models", "accelerator_count", "training_flop_low", "training_flop_high",
       "training_flop_method", "training_accelerator_hours", "flop_rate_per_day", "score",
       "link_count", "first_time", "last_time", "updated_at"}};
  return RunStage(ctx, "bundles", table, "SELECT COUNT(*) FROM bundles",
                  "SELECT bundle_id, updated_us, bundle FROM bundles ORDER BY bundle_id",
                  [](const ExportCursor& st, std::vector<std::string>* csv, nlohmann::json* json) {
                    Bundle b;
                    PROV_RETURN_IF_ERROR(ParseStored(st.Blob(2), "bundles", st.Text(0), &b));
                    *csv = {b.bundle_id(),
                            b.merged_into(),
                            Joined(b.accounts()),
                            Joined(b.datacenters()),
                            Joined(b.regions()),
                            Joined(b.nodes()),
                            Joined(b.workloads()),
                            Joined(b.accelerator_models()),
                            absl::StrCat(b.accelerator_count()),
                            NumberText(b.training_flop().low()),
                            NumberText(b.training_flop().high()),
                            b.training_flop().method(),
                            NumberText(b.training_accelerator_hours()),
                            NumberText(b.flop_rate_per_day()),
                            NumberText(b.score()),
                            absl::StrCat(b.link_count()),
                            Ts(b.first_time()),
                            Ts(b.last_time()),
                            TimeText(st.Int64(1))};
                    *json = ProtoObject(b);
                    (*json)["updated_at"] = TimeText(st.Int64(1));
                    return absl::OkStatus();
                  });
}

absl::Status ExportLinks(StageContext& ctx) {
  TableSpec table{
      "links",
      {"link_key", "kind", "account_a", "account_b", "workload_a", "workload_b", "weight",
       "sentence", "first_time", "last_time", "policy_version", "kyc_version"}};
  return RunStage(ctx, "links", table, "SELECT COUNT(*) FROM links",
                  "SELECT link_key, link FROM links ORDER BY link_key",
                  [](const ExportCursor& st, std::vector<std::string>* csv, nlohmann::json* json) {
                    const std::string key = st.Text(0);
                    Link l;
                    PROV_RETURN_IF_ERROR(ParseStored(st.Blob(1), "links", key, &l));
                    *csv = {key,
                            l.kind(),
                            l.account_a(),
                            l.account_b(),
                            l.workload_a(),
                            l.workload_b(),
                            NumberText(l.weight()),
                            l.sentence(),
                            Ts(l.first_time()),
                            Ts(l.last_time()),
                            l.policy_version(),
                            l.kyc_version()};
                    *json = ProtoObject(l);
                    (*json)["link_key"] = key;
                    return absl::OkStatus();
                  });
}

absl::Status ExportCaseActions(StageContext& ctx) {
  TableSpec table{"case_actions",
                  {"flag_id", "seq", "time", "actor", "action", "from_status", "to_status",
                   "disposition", "assignee", "note", "duplicate_of"}};
  return RunStage(
      ctx, "case_actions", table, "SELECT COUNT(*) FROM case_actions",
      "SELECT flag_id, seq, action FROM case_actions ORDER BY flag_id, seq",
      [](const ExportCursor& st, std::vector<std::string>* csv, nlohmann::json* json) {
        CaseAction a;
        PROV_RETURN_IF_ERROR(ParseStored(st.Blob(2), "case_actions",
                                         absl::StrCat(st.Text(0), "#", st.Int64(1)), &a));
        *csv = {a.flag_id(),
                absl::StrCat(a.seq()),
                Ts(a.time()),
                a.actor(),
                a.action(),
                FlagStatus_Name(a.from_status()),
                FlagStatus_Name(a.to_status()),
                Disposition_Name(a.disposition()),
                a.assignee(),
                a.note(),
                a.duplicate_of()};
        *json = ProtoObject(a);
        return absl::OkStatus();
      });
}

}  // namespace prov::server::export_internal
