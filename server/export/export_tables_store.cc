// The ingest and identity side of an export: the usage ledger, workloads, accounts with their
// KYC and screening, the identity and policy versions, the accelerator inventory, the audit log.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/identity.pb.h"
#include "provenance/v1/report.pb.h"
#include "server/export/export_tables.h"
#include "server/export/table_writer.h"

namespace prov::server::export_internal {
namespace {

using namespace provenance::v1;
using nlohmann::json;

std::string Hex4(int64_t v) { return absl::StrFormat("0x%04x", v); }
std::string Int(const ExportCursor& st, int column) { return absl::StrCat(st.Int64(column)); }
std::string Num(const ExportCursor& st, int column) { return NumberText(st.Double(column)); }
std::string Time(const ExportCursor& st, int column) { return TimeText(st.Int64(column)); }

std::string Owners(const AccountIdentity& id) {
  std::vector<std::string> out;
  for (const BeneficialOwner& o : id.beneficial_owners()) {
    out.push_back(o.nationality().empty() ? o.name()
                                          : absl::StrCat(o.name(), " (", o.nationality(), ")"));
  }
  return absl::StrJoin(out, ";");
}

}  // namespace

absl::Status ExportUsage(StageContext& ctx) {
  TableSpec table{"usage_hourly",
                  {"account", "hour", "accelerator_seconds", "training_seconds",
                   "inference_seconds", "flop_low", "flop_high", "method"}};
  return RunStage(
      ctx, "usage", table, "SELECT COUNT(*) FROM account_usage_hourly",
      "SELECT account, hour_us, accelerator_seconds, training_seconds, inference_seconds, "
      "flop_low, flop_high, method FROM account_usage_hourly ORDER BY account, hour_us",
      [&](const ExportCursor& st, std::vector<std::string>* csv, json* j) {
        ctx.See(st.Int64(1));
        *csv = {st.Text(0), Time(st, 1), Num(st, 2), Num(st, 3),
                Num(st, 4), Num(st, 5),  Num(st, 6), st.Text(7)};
        *j = FlatObject(table.columns, *csv, {2, 3, 4, 5, 6});
        return absl::OkStatus();
      });
}

absl::Status ExportWorkloads(StageContext& ctx) {
  TableSpec table{
      "workloads",
      {"node_id", "workload_id", "kind", "account", "attribution_source", "workload_class",
       "class_confidence", "launcher", "accelerator_count", "accelerator_model", "first_seen",
       "last_seen", "accelerator_seconds", "flop_low", "flop_high", "method"}};
  return RunStage(
      ctx, "workloads", table, "SELECT COUNT(*) FROM workloads",
      "SELECT n.node_id, w.workload_id, w.kind, w.account, w.attribution_source, "
      "w.workload_class, w.class_confidence, w.launcher, w.accelerator_count, "
      "w.accelerator_model, w.first_seen_us, w.last_seen_us, w.accelerator_seconds, w.flop_low, "
      "w.flop_high, w.method FROM workloads w JOIN nodes n ON n.id = w.node "
      "ORDER BY n.node_id, w.workload_id",
      [&](const ExportCursor& st, std::vector<std::string>* csv, json* j) {
        ctx.See(st.Int64(10));
        ctx.See(st.Int64(11));
        *csv = {st.Text(0),
                st.Text(1),
                WorkloadKind_Name(static_cast<WorkloadKind>(st.Int64(2))),
                st.Text(3),
                AttributionSource_Name(static_cast<AttributionSource>(st.Int64(4))),
                WorkloadClass_Name(static_cast<WorkloadClass>(st.Int64(5))),
                Num(st, 6),
                st.Text(7),
                Int(st, 8),
                st.Text(9),
                Time(st, 10),
                Time(st, 11),
                Num(st, 12),
                Num(st, 13),
                Num(st, 14),
                st.Text(15)};
        *j = FlatObject(table.columns, *csv, {6, 8, 12, 13, 14});
        return absl::OkStatus();
      });
}

// accounts.{csv,jsonl} nest each account's current screening hits (a merge of two ordered
// scans); screening_hits.{csv,jsonl} list them flat.
absl::Status ExportAccounts(StageContext& ctx) {
  std::string list_version;
  {
    PROV_ASSIGN_OR_RETURN(
        auto st,
        ctx.snapshot.Query("SELECT list_version FROM screening_lists ORDER BY id DESC LIMIT 1"));
    PROV_ASSIGN_OR_RETURN(bool has, st->Next());
    if (has) list_version = st->Text(0);
  }
  PROV_ASSIGN_OR_RETURN(auto hits, ctx.snapshot.Query("SELECT account_id, hit FROM screening_hits "
                                                      "ORDER BY account_id, id"));
  PROV_ASSIGN_OR_RETURN(bool hit_row, hits->Next());
  TableSpec table{"accounts",
                  {"account_id", "kyc_version", "legal_entity", "country_of_incorporation",
                   "parent_account", "is_reseller", "beneficial_owners", "email_domains",
                   "addresses", "screening_list_version", "screening_hits"}};
  PROV_RETURN_IF_ERROR(RunStage(
      ctx, "accounts", table, "SELECT COUNT(*) FROM accounts",
      "SELECT account_id, version, identity FROM accounts ORDER BY account_id",
      [&](const ExportCursor& st, std::vector<std::string>* csv, json* j) -> absl::Status {
        const std::string account = st.Text(0);
        AccountIdentity id;
        PROV_RETURN_IF_ERROR(ParseStored(st.Blob(2), "accounts", account, &id));
        json matches = json::array();
        while (hit_row && hits->Text(0) <= account) {
          if (hits->Text(0) == account) {
            ScreeningMatch m;
            PROV_RETURN_IF_ERROR(ParseStored(hits->Blob(1), "screening_hits", account, &m));
            matches.push_back(ProtoObject(m));
          }
          PROV_ASSIGN_OR_RETURN(hit_row, hits->Next());
        }
        *csv = {account,
                Int(st, 1),
                id.legal_entity(),
                id.country_of_incorporation(),
                id.parent_account(),
                id.is_reseller() ? "true" : "false",
                Owners(id),
                absl::StrJoin(id.email_domains(), ";"),
                absl::StrJoin(id.addresses(), ";"),
                list_version,
                absl::StrCat(matches.size())};
        *j = {{"account_id", account},
              {"kyc_version", st.Int64(1)},
              {"identity", ProtoObject(id)},
              {"screening_list_version", list_version},
              {"screening_hits", std::move(matches)}};
        return absl::OkStatus();
      }));
  TableSpec flat{
      "screening_hits",
      {"account_id", "list_version", "kyc_version", "subject_kind", "subject_name", "entry_id",
       "entry_name", "entry_source", "matched_alias", "score", "reasons", "found_at"}};
  return RunStage(ctx, "screening_hits", flat, "SELECT COUNT(*) FROM screening_hits",
                  "SELECT account_id, found_at_us, hit FROM screening_hits ORDER BY account_id, id",
                  [](const ExportCursor& st, std::vector<std::string>* csv, json* j) {
                    ScreeningMatch m;
                    PROV_RETURN_IF_ERROR(ParseStored(st.Blob(2), "screening_hits", st.Text(0), &m));
                    *csv = {st.Text(0),
                            m.list_version(),
                            absl::StrCat(m.kyc_version()),
                            m.subject_kind(),
                            m.subject_name(),
                            m.entry_id(),
                            m.entry_name(),
                            m.entry_source(),
                            m.matched_alias() ? "true" : "false",
                            NumberText(m.score()),
                            absl::StrJoin(m.reasons(), ";"),
                            Time(st, 1)};
                    *j = ProtoObject(m);
                    (*j)["found_at"] = (*csv)[11];
                    return absl::OkStatus();
                  });
}

absl::Status ExportVersions(StageContext& ctx) {
  TableSpec kyc{
      "kyc_imports",
      {"version", "imported_at", "source", "actor", "content_digest", "accepted", "errors"}};
  PROV_RETURN_IF_ERROR(
      RunStage(ctx, "kyc_imports", kyc, "SELECT COUNT(*) FROM kyc_imports",
               "SELECT version, imported_at_us, source, actor, content_digest, accepted, errors "
               "FROM kyc_imports ORDER BY version",
               [&](const ExportCursor& st, std::vector<std::string>* csv, json* j) {
                 *csv = {Int(st, 0), Time(st, 1), st.Text(2), st.Text(3),
                         st.Text(4), Int(st, 5),  Int(st, 6)};
                 *j = FlatObject(kyc.columns, *csv, {0, 5, 6});
                 return absl::OkStatus();
               }));
  TableSpec lists{"screening_lists",
                  {"id", "list_version", "imported_at", "source", "actor", "columns", "entries"}};
  PROV_RETURN_IF_ERROR(
      RunStage(ctx, "screening_lists", lists, "SELECT COUNT(*) FROM screening_lists",
               "SELECT id, list_version, imported_at_us, source, actor, columns, entries "
               "FROM screening_lists ORDER BY id",
               [&](const ExportCursor& st, std::vector<std::string>* csv, json* j) {
                 *csv = {Int(st, 0), st.Text(1), Time(st, 2), st.Text(3),
                         st.Text(4), Int(st, 5), Int(st, 6)};
                 *j = FlatObject(lists.columns, *csv, {0, 5, 6});
                 return absl::OkStatus();
               }));
  TableSpec policies{"policies", {"id", "policy_version", "source", "loaded_at"}};
  return RunStage(ctx, "policies", policies, "SELECT COUNT(*) FROM policies",
                  "SELECT id, policy_version, source, loaded_at_us, yaml FROM policies ORDER BY id",
                  [&](const ExportCursor& st, std::vector<std::string>* csv, json* j) {
                    *csv = {Int(st, 0), st.Text(1), st.Text(2), Time(st, 3)};
                    *j = FlatObject(policies.columns, *csv, {0});
                    (*j)["yaml"] = st.Text(4);
                    return absl::OkStatus();
                  });
}

absl::Status ExportInventory(StageContext& ctx) {
  // What each node's agent could not send or read and what provd refused of it go with the nodes:
  // an auditor sees how complete each node's evidence is.
  TableSpec nodes{
      "nodes",
      {"node_id", "hostname", "datacenter", "region", "agent_version", "boot_id", "first_seen",
       "last_seen", "last_received", "accelerator_count", "workload_count", "reports_stored",
       "reports_rejected", "last_rejected", "last_rejection", "agent_dropped_reports",
       "agent_unreadable_reports", "agent_strings_repaired", "agent_strings_truncated"}};
  PROV_RETURN_IF_ERROR(RunStage(
      ctx, "nodes", nodes, "SELECT COUNT(*) FROM nodes",
      "SELECT node_id, hostname, datacenter, region, agent_version, boot_id, first_seen_us, "
      "last_seen_us, last_received_us, accelerator_count, workload_count, reports_stored, "
      "reports_rejected, last_rejected_us, last_rejection, agent_dropped_reports, "
      "agent_unreadable_reports, agent_strings_repaired, agent_strings_truncated "
      "FROM nodes ORDER BY node_id",
      [&](const ExportCursor& st, std::vector<std::string>* csv, json* j) {
        ctx.See(st.Int64(6));
        ctx.See(st.Int64(7));
        *csv = {st.Text(0),  st.Text(1),
                st.Text(2),  st.Text(3),
                st.Text(4),  st.Text(5),
                Time(st, 6), Time(st, 7),
                Time(st, 8), Int(st, 9),
                Int(st, 10), Int(st, 11),
                Int(st, 12), st.Int64(13) > 0 ? Time(st, 13) : std::string(),
                st.Text(14), Int(st, 15),
                Int(st, 16), Int(st, 17),
                Int(st, 18)};
        *j = FlatObject(nodes.columns, *csv, {9, 10, 11, 12, 15, 16, 17, 18});
        return absl::OkStatus();
      }));
  TableSpec accel{
      "accelerators",
      {"node_id", "hostname", "datacenter", "region", "pci_address", "vendor_id", "device_id",
       "vendor", "model", "model_known", "uuid", "serial", "first_seen", "last_seen"}};
  return RunStage(
      ctx, "accelerators", accel, "SELECT COUNT(*) FROM accelerators",
      "SELECT n.node_id, n.hostname, n.datacenter, n.region, a.pci_address, a.vendor_id, "
      "a.device_id, a.vendor, a.model, a.model_known, a.uuid, a.serial, a.first_seen_us, "
      "a.last_seen_us, a.accelerator FROM accelerators a JOIN nodes n ON n.id = a.node "
      "ORDER BY n.node_id, a.pci_address",
      [&](const ExportCursor& st, std::vector<std::string>* csv, json* j) -> absl::Status {
        Accelerator a;
        PROV_RETURN_IF_ERROR(ParseStored(st.Blob(14), "accelerators",
                                         absl::StrCat(st.Text(0), "/", st.Text(4)), &a));
        *csv = {st.Text(0),        st.Text(1),
                st.Text(2),        st.Text(3),
                st.Text(4),        Hex4(st.Int64(5)),
                Hex4(st.Int64(6)), st.Text(7),
                st.Text(8),        st.Int64(9) != 0 ? "true" : "false",
                st.Text(10),       st.Text(11),
                Time(st, 12),      Time(st, 13)};
        *j = FlatObject(accel.columns, *csv, {});
        (*j)["model_known"] = st.Int64(9) != 0;
        (*j)["accelerator"] = ProtoObject(a);
        return absl::OkStatus();
      });
}

// Every column the hash covers (time_us exactly), so the chain can be re-checked offline.
absl::Status ExportAuditLog(StageContext& ctx) {
  TableSpec table{"audit_log",
                  {"seq", "time", "time_us", "actor", "action", "payload", "prev_hash", "hash"}};
  return RunStage(ctx, "audit_log", table, "SELECT COUNT(*) FROM audit_log",
                  "SELECT seq, time_us, actor, action, payload, prev_hash, hash FROM audit_log "
                  "ORDER BY seq",
                  [&](const ExportCursor& st, std::vector<std::string>* csv, json* j) {
                    ctx.See(st.Int64(1));
                    *csv = {Int(st, 0), Time(st, 1), Int(st, 1), st.Text(2),
                            st.Text(3), st.Text(4),  st.Text(5), st.Text(6)};
                    *j = FlatObject(table.columns, *csv, {0, 2});
                    return absl::OkStatus();
                  });
}

}  // namespace prov::server::export_internal
