#include "tools/provctl/format.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"

namespace prov::provctl {

using provenance::v1::WorkloadClass;
using provenance::v1::WorkloadKind;

std::string FormatHours(double hours) {
  if (!std::isfinite(hours)) return "?";
  return absl::StrFormat("%.1f", hours);
}

std::string FormatFlop(double flop) {
  if (!std::isfinite(flop)) return "?";
  if (flop == 0) return "0";
  // "2.3e+24" -> "2.3e24", "1.0e-03" -> "1.0e-3".
  std::string s = absl::StrFormat("%.1e", flop);
  size_t e = s.find('e');
  std::string mantissa = s.substr(0, e);
  int exponent = std::stoi(s.substr(e + 1));
  return absl::StrCat(mantissa, "e", exponent);
}

std::string FormatFlopRange(const provenance::v1::FlopEstimate& flop) {
  if (flop.low() == 0 && flop.high() == 0) return "0";
  return absl::StrCat(FormatFlop(flop.low()), "..", FormatFlop(flop.high()));
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string KindName(WorkloadKind kind) {
  switch (kind) {
    case provenance::v1::WORKLOAD_KIND_K8S_POD:
      return "pod";
    case provenance::v1::WORKLOAD_KIND_SLURM_JOB:
      return "slurm";
    case provenance::v1::WORKLOAD_KIND_CONTAINER:
      return "container";
    case provenance::v1::WORKLOAD_KIND_BARE_PROCESS:
      return "process";
    default:
      return "-";
  }
}

std::string ClassName(WorkloadClass c) {
  switch (c) {
    case provenance::v1::WORKLOAD_CLASS_TRAINING:
      return "training";
    case provenance::v1::WORKLOAD_CLASS_INFERENCE:
      return "inference";
    default:
      return "unknown";
  }
}

namespace {

std::string Cell(std::string s) {
  if (s.empty()) return "-";
  return absl::StrReplaceAll(s, {{"\n", " "}, {"\r", " "}, {"\t", " "}});
}

}  // namespace

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows,
                        const std::vector<bool>& right_align) {
  std::vector<size_t> width(header.size(), 0);
  std::vector<std::vector<std::string>> cells;
  cells.push_back(header);
  for (const auto& row : rows) {
    std::vector<std::string> r;
    for (size_t i = 0; i < header.size(); ++i) r.push_back(Cell(i < row.size() ? row[i] : ""));
    cells.push_back(std::move(r));
  }
  for (const auto& row : cells) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : cells) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      bool right = i < right_align.size() && right_align[i];
      std::string pad(width[i] - row[i].size(), ' ');
      if (i > 0) line += "  ";
      line += right ? pad + row[i] : row[i] + (i + 1 < row.size() ? pad : "");
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

namespace {
// REJECTING (sending, nothing stored) before SILENT: such a node is silent too, for a reason.
std::string NodeStatus(const provenance::v1::NodeSummary& n) {
  if (n.rejecting()) return "REJECTING";
  return n.silent() ? "SILENT" : "ok";
}
}  // namespace

std::string NodesTable(const provenance::v1::ListNodesResponse& response) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& n : response.nodes()) {
    rows.push_back({n.node_id(), n.hostname(), n.datacenter(), n.region(),
                    absl::StrCat(n.accelerator_count()), absl::StrCat(n.workload_count()),
                    absl::StrCat(n.reports_stored()), absl::StrCat(n.last_seq()),
                    absl::StrCat(n.evidence_gaps()), FormatTime(n.last_seen()), NodeStatus(n)});
  }
  return RenderTable({"NODE", "HOSTNAME", "DATACENTER", "REGION", "ACCEL", "WORKLOADS", "REPORTS",
                      "LAST_SEQ", "GAPS", "LAST_SEEN", "STATUS"},
                     rows,
                     {false, false, false, false, true, true, true, true, true, false, false});
}

namespace {
// The node's SMBIOS identity and its changes (old -> new, when), or a line saying none was seen.
std::string HardwareIdentity(const provenance::v1::NodeHardwareIdentity& id) {
  if (!id.has_hardware())
    return "\nhardware identity: none reported (DMI unreadable to the agent)\n";
  const auto& hw = id.hardware();
  auto cell = [](const std::string& v) { return v.empty() ? std::string("-") : v; };
  std::string out =
      absl::StrCat("\nhardware identity (since ", FormatTime(id.since()), ", boot ",
                   cell(id.since_boot_id()), ")\n",
                   RenderTable({"FIELD", "VALUE"}, {{"system_uuid", cell(hw.system_uuid())},
                                                    {"board_serial", cell(hw.board_serial())},
                                                    {"product_serial", cell(hw.product_serial())},
                                                    {"chassis_serial", cell(hw.chassis_serial())},
                                                    {"product_name", cell(hw.product_name())},
                                                    {"sys_vendor", cell(hw.sys_vendor())},
                                                    {"board_name", cell(hw.board_name())}}));
  if (id.changes_total() == 0) return out;
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : id.changes()) {
    rows.push_back({FormatTime(c.changed_at()), c.field(),
                    absl::StrCat(c.old_value(), " -> ", c.new_value()), cell(c.boot_id()),
                    c.has_previous_seen() ? FormatTime(c.previous_seen()) : "-"});
  }
  absl::StrAppend(
      &out, "\n", id.changes_total(),
      " hardware identity changes (newest first; another machine under this node id, "
      "or a replaced board)\n",
      RenderTable({"CHANGED_AT", "FIELD", "OLD -> NEW", "BOOT", "PREVIOUS_REPORT"}, rows));
  return out;
}
}  // namespace

std::string NodeDetail(const provenance::v1::GetNodeResponse& response) {
  const auto& n = response.node();
  std::string out = RenderTable(
      {"FIELD", "VALUE"},
      {{"node", n.node_id()},
       {"hostname", n.hostname()},
       {"datacenter", n.datacenter()},
       {"region", n.region()},
       {"agent_version", n.agent_version()},
       {"boot_id", n.boot_id()},
       {"first_seen", FormatTime(n.first_seen())},
       {"last_seen", FormatTime(n.last_seen())},
       {"last_seq", absl::StrCat(n.last_seq())},
       {"reports_stored", absl::StrCat(n.reports_stored())},
       {"evidence_gaps", absl::StrCat(n.evidence_gaps())},
       {"evidence_gap_seconds", absl::StrFormat("%.0f", n.evidence_gap_seconds())},
       {"reports_rejected", absl::StrCat(n.reports_rejected())},
       {"last_rejected", n.has_last_rejected() ? FormatTime(n.last_rejected()) : "-"},
       {"last_rejection", n.last_rejection().empty() ? "-" : n.last_rejection()},
       {"rejecting_since", n.has_rejecting_since() ? FormatTime(n.rejecting_since()) : "-"},
       {"status", NodeStatus(n)},
       // The agent's own account of what it could not send or read (its newest report).
       {"agent_health_as_of",
        n.agent_health().has_as_of() ? FormatTime(n.agent_health().as_of()) : "-"},
       {"agent_spool_depth", absl::StrCat(n.agent_health().spool_depth())},
       {"agent_dropped", absl::StrCat(n.agent_health().dropped_reports())},
       {"agent_unreadable", absl::StrCat(n.agent_health().unreadable_reports())},
       {"agent_rejected", absl::StrCat(n.agent_health().rejected_reports())},
       {"collector_errors", absl::StrCat(n.agent_health().collector_errors())},
       {"nvml_available", n.agent_health().nvml_available() ? "yes" : "no"},
       {"strings_repaired", absl::StrCat(n.agent_health().strings_repaired())},
       {"strings_truncated", absl::StrCat(n.agent_health().strings_truncated())}});
  absl::StrAppend(&out, HardwareIdentity(n.hardware()));
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : response.accelerators()) {
    // MODEL is provd's catalog name for the PCI ID; REPORTED the agent's, marked when they differ.
    std::string reported = a.reported_name().empty() ? "-" : a.reported_name();
    if (a.name_disagrees()) absl::StrAppend(&reported, " (disagrees)");
    rows.push_back({a.pci_address(), a.vendor(), a.model_known() ? a.model() : "(unknown model)",
                    absl::StrFormat("0x%04x:0x%04x", a.vendor_id(), a.device_id()), reported,
                    a.uuid(), a.serial()});
  }
  absl::StrAppend(&out, "\n", response.accelerators_size(), " accelerators\n");
  if (!rows.empty()) {
    absl::StrAppend(
        &out, RenderTable({"PCI", "VENDOR", "MODEL", "IDS", "REPORTED", "UUID", "SERIAL"}, rows));
  }
  rows.clear();
  for (const auto& g : response.evidence_gaps()) {
    rows.push_back({FormatTime(g.start()), FormatTime(g.end()),
                    absl::StrFormat("%.0f", g.gap_seconds()),
                    absl::StrCat(g.claimed_interval_seconds()), g.boot_id(), absl::StrCat(g.seq()),
                    FormatHours(g.accelerator_hours())});
  }
  if (!rows.empty()) {
    absl::StrAppend(
        &out, "\n", rows.size(),
        " evidence gaps (newest first; no report in between, compute estimated)\n",
        RenderTable({"START", "END", "GAP_S", "CLAIMED_S", "BOOT", "SEQ", "EST_ACCEL_HOURS"}, rows,
                    {false, false, true, true, false, true, true}));
  }
  return out;
}

std::string WorkloadsTable(const provenance::v1::ListWorkloadsResponse& response) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : response.workloads()) {
    rows.push_back(
        {w.workload_id(), w.node_id(), w.datacenter(), KindName(w.kind()), w.account(),
         absl::StrFormat("%s(%.2f)", ClassName(w.workload_class()), w.class_confidence()),
         absl::StrCat(w.accelerator_count(), "x ", Cell(w.accelerator_model())),
         FormatHours(w.accelerator_hours()), FormatFlopRange(w.flop()), FormatTime(w.last_seen())});
  }
  return RenderTable({"WORKLOAD", "NODE", "DATACENTER", "KIND", "ACCOUNT", "CLASS", "ACCELERATORS",
                      "ACCEL_HOURS", "FLOP", "LAST_SEEN"},
                     rows, {false, false, false, false, false, false, false, true, true, false});
}

std::string UsageTable(const provenance::v1::GetAccountUsageResponse& response) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : response.accounts()) {
    rows.push_back({a.account(), FormatHours(a.accelerator_hours()),
                    FormatHours(a.training_accelerator_hours()),
                    FormatHours(a.inference_accelerator_hours()), FormatFlopRange(a.flop()),
                    absl::StrCat(a.workloads()), absl::StrCat(a.nodes()),
                    FormatHours(a.gap_accelerator_hours()), absl::StrJoin(a.datacenters(), ","),
                    a.flop().method()});
  }
  return RenderTable({"ACCOUNT", "ACCEL_HOURS", "TRAINING_H", "INFERENCE_H", "FLOP", "WORKLOADS",
                      "NODES", "GAP_H", "DATACENTERS", "METHOD"},
                     rows, {false, true, true, true, true, true, true, true, false, false});
}

std::string ServerStatusText(const provenance::v1::GetServerStatusResponse& r) {
  std::string out =
      absl::StrCat("replica   ", r.replica(), r.leading() ? " (leader)" : " (standby)", "\n");
  absl::StrAppend(&out, "store     ", r.store(), "\n");
  if (r.leader().empty()) {
    absl::StrAppend(&out, "leader    none elected\n");
  } else {
    absl::StrAppend(&out, "leader    ", r.leader(), ", term ", r.leader_term(), ", since ",
                    FormatTime(r.leader_since()), "\n");
  }
  absl::StrAppend(&out, "analysis  ", r.analysis_behind_reports(), " reports behind ingest");
  if (r.analysis_behind_batches() > 0) {
    absl::StrAppend(&out, " (", r.analysis_behind_batches(), " batches, oldest ",
                    absl::StrFormat("%.1f", r.analysis_lag_seconds()), " s)");
  }
  absl::StrAppend(&out, "\n\n");
  std::vector<std::vector<std::string>> rows;
  for (const auto& rep : r.replicas()) {
    rows.push_back({rep.name(), rep.address(), rep.version(), FormatTime(rep.started_at()),
                    FormatTime(rep.last_seen()), rep.leading() ? "yes" : ""});
  }
  absl::StrAppend(
      &out, RenderTable({"REPLICA", "ADDRESS", "VERSION", "STARTED", "LAST_SEEN", "LEADER"}, rows,
                        {false, false, false, false, false, false}));
  return out;
}

}  // namespace prov::provctl
