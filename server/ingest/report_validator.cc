#include "server/ingest/report_validator.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;

// A PCI address (DDDD:BB:DD.F, any case) as its 9 hex digits in one integer; -1 when the text is
// not a PCI address. Equal keys <=> the addresses are equal ignoring case.
int64_t PciKey(absl::string_view a) {
  if (!IsPciAddress(a)) return -1;
  int64_t key = 0;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11}) {
    const char c = absl::ascii_tolower(static_cast<unsigned char>(a[i]));
    key = key * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return key;
}

// The report's accelerator addresses, for "names no accelerator" checks without lowercase copies
// or hashing: at most limits.max_accelerators keys, sorted once all are added.
class AddressSet {
 public:
  // False when the key is already in the set.
  bool Add(int64_t key) {
    if (std::find(keys_.begin(), keys_.end(), key) != keys_.end()) return false;
    keys_.push_back(key);
    return true;
  }
  void Seal() { std::sort(keys_.begin(), keys_.end()); }
  bool Contains(absl::string_view address) const {
    const int64_t key = PciKey(address);
    return key >= 0 && std::binary_search(keys_.begin(), keys_.end(), key);
  }

 private:
  absl::InlinedVector<int64_t, 16> keys_;
};

// A field path, formatted only when a check fails (validation runs for every report, so the
// happy path must not build strings): "list[index].name[sub]".
struct Path {
  absl::string_view list;
  int index = -1;
  absl::string_view name;
  int sub = -1;
  Path(const char* field) : list(field) {}  // NOLINT: implicit from a plain field name
  Path(absl::string_view l, int i, absl::string_view n = {}, int s = -1)
      : list(l), index(i), name(n), sub(s) {}
  std::string str() const {
    std::string out(list);
    if (index >= 0) absl::StrAppend(&out, "[", index, "]");
    if (!name.empty()) absl::StrAppend(&out, index >= 0 ? "." : "", name);
    if (sub >= 0) absl::StrAppend(&out, "[", sub, "]");
    return out;
  }
};

absl::Status Invalid(const Path& field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field.str(), ": ", what));
}

std::string Quote(absl::string_view value) {
  // Shows at most 64 bytes of an offending value, escaped, so messages stay short and printable.
  std::string shown(value.substr(0, 64));
  std::string escaped = absl::CHexEscape(shown);
  return absl::StrCat("\"", escaped, value.size() > 64 ? "...\"" : "\"");
}

absl::Status CheckString(const Path& field, absl::string_view value, size_t max) {
  if (value.size() > max) {
    return Invalid(field, absl::StrFormat("is %d bytes long (at most %d)", value.size(), max));
  }
  // U+0000 is valid UTF-8 (proto3 parses it) but no agent writes it, and PostgreSQL text cannot
  // hold it: stored, one report would fail every batch it shares on a PostgreSQL store.
  if (const size_t nul = value.find('\0'); nul != absl::string_view::npos) {
    return Invalid(field, absl::StrFormat("contains a NUL byte (at byte %d)", nul));
  }
  return absl::OkStatus();
}

absl::Status CheckId(const Path& field, absl::string_view value, size_t max) {
  if (value.empty()) return Invalid(field, "must not be empty");
  return CheckString(field, value, max);
}

absl::Status CheckRange(const Path& field, double value, double low, double high) {
  if (!std::isfinite(value) || value < low || value > high) {
    return Invalid(field, absl::StrFormat("%g is out of range [%g, %g]", value, low, high));
  }
  return absl::OkStatus();
}

absl::Status CheckCount(const Path& field, int count, int max) {
  if (count > max)
    return Invalid(field, absl::StrFormat("has %d entries (at most %d)", count, max));
  return absl::OkStatus();
}

absl::Status CheckCounter(const Path& field, uint64_t value, uint64_t max) {
  if (value > max) return Invalid(field, absl::StrFormat("%u is above %u", value, max));
  return absl::OkStatus();
}

absl::Status CheckNode(const NodeReport& report, const ValidatorLimits& limits) {
  if (!report.has_node()) return Invalid("node", "is missing");
  const auto& node = report.node();
  PROV_RETURN_IF_ERROR(CheckId("node.node_id", node.node_id(), limits.max_id_length));
  PROV_RETURN_IF_ERROR(CheckId("node.boot_id", node.boot_id(), limits.max_id_length));
  PROV_RETURN_IF_ERROR(CheckString("node.hostname", node.hostname(), limits.max_id_length));
  PROV_RETURN_IF_ERROR(CheckString("node.datacenter", node.datacenter(), limits.max_id_length));
  PROV_RETURN_IF_ERROR(CheckString("node.region", node.region(), limits.max_id_length));
  PROV_RETURN_IF_ERROR(
      CheckString("node.agent_version", node.agent_version(), limits.max_id_length));
  PROV_RETURN_IF_ERROR(
      CheckString("node.location_responder", node.location_responder(), limits.max_address_length));
  PROV_RETURN_IF_ERROR(
      CheckCount("node.addresses", node.addresses_size(), limits.max_node_addresses));
  for (int i = 0; i < node.addresses_size(); ++i) {
    PROV_RETURN_IF_ERROR(
        CheckString({"node.addresses", i}, node.addresses(i), limits.max_address_length));
  }
  if (node.has_hardware()) {
    const auto& hw = node.hardware();
    for (const auto& [name, value] : {std::pair<const char*, const std::string*>{
                                          "node.hardware.system_uuid", &hw.system_uuid()},
                                      {"node.hardware.product_serial", &hw.product_serial()},
                                      {"node.hardware.board_serial", &hw.board_serial()},
                                      {"node.hardware.chassis_serial", &hw.chassis_serial()},
                                      {"node.hardware.product_name", &hw.product_name()},
                                      {"node.hardware.sys_vendor", &hw.sys_vendor()},
                                      {"node.hardware.board_name", &hw.board_name()}}) {
      PROV_RETURN_IF_ERROR(CheckString(name, *value, limits.max_id_length));
    }
    PROV_RETURN_IF_ERROR(
        CheckCount("node.hardware.fact_sources", hw.fact_sources_size(), limits.max_fact_sources));
    for (const auto& [fact, source] : hw.fact_sources()) {
      PROV_RETURN_IF_ERROR(CheckString("node.hardware.fact_sources", fact, limits.max_id_length));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTime(const NodeReport& report, absl::Time now, const ValidatorLimits& limits) {
  if (report.seq() < 1) return Invalid("seq", "must be >= 1");
  if (report.seq() > static_cast<uint64_t>(INT64_MAX)) {
    return Invalid("seq", absl::StrFormat("%d exceeds 2^63-1", report.seq()));
  }
  if (report.interval_seconds() < 1 || report.interval_seconds() > limits.max_interval_seconds) {
    return Invalid("interval_seconds",
                   absl::StrFormat("%d is out of range [1, %d]", report.interval_seconds(),
                                   limits.max_interval_seconds));
  }
  if (!report.has_collected_at()) return Invalid("collected_at", "is missing");
  const auto& ts = report.collected_at();
  if (ts.seconds() < google::protobuf::util::TimeUtil::kTimestampMinSeconds ||
      ts.seconds() > google::protobuf::util::TimeUtil::kTimestampMaxSeconds || ts.nanos() < 0 ||
      ts.nanos() > 999999999) {
    return Invalid("collected_at", "is not a valid timestamp");
  }
  absl::Time collected = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  if (collected > now + limits.max_future) {
    return Invalid("collected_at",
                   absl::StrCat(absl::FormatTime(collected), " is in the future (server time ",
                                absl::FormatTime(now), ")"));
  }
  if (collected < now - limits.max_age) {
    return Invalid("collected_at", absl::StrCat(absl::FormatTime(collected), " is older than ",
                                                absl::FormatDuration(limits.max_age),
                                                " (server time ", absl::FormatTime(now), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckAccelerators(const NodeReport& report, const ValidatorLimits& limits,
                               AddressSet* addresses) {
  PROV_RETURN_IF_ERROR(
      CheckCount("accelerators", report.accelerators_size(), limits.max_accelerators));
  for (int i = 0; i < report.accelerators_size(); ++i) {
    const auto& a = report.accelerators(i);
    const int64_t key = PciKey(a.pci_address());
    if (key < 0) {
      return Invalid({"accelerators", i, "pci_address"},
                     absl::StrCat(Quote(a.pci_address()), " is not a PCI address (DDDD:BB:DD.F)"));
    }
    if (!addresses->Add(key)) {
      return Invalid({"accelerators", i, "pci_address"},
                     absl::StrCat(Quote(a.pci_address()), " appears twice"));
    }
    if (a.vendor_id() > 0xffff) return Invalid({"accelerators", i, "vendor_id"}, "exceeds 0xffff");
    if (a.device_id() > 0xffff) return Invalid({"accelerators", i, "device_id"}, "exceeds 0xffff");
    for (const auto& [name, value] :
         {std::pair<const char*, const std::string*>{"vendor", &a.vendor()},
          {"model", &a.model()},
          {"family", &a.family()},
          {"uuid", &a.uuid()},
          {"serial", &a.serial()},
          {"board_part_number", &a.board_part_number()},
          {"driver", &a.driver()},
          {"reported_name", &a.reported_name()}}) {
      PROV_RETURN_IF_ERROR(CheckString({"accelerators", i, name}, *value, limits.max_id_length));
    }
    PROV_RETURN_IF_ERROR(CheckCount({"accelerators", i, "fact_sources"}, a.fact_sources_size(),
                                    limits.max_fact_sources));
    for (const auto& [fact, source] : a.fact_sources()) {
      PROV_RETURN_IF_ERROR(
          CheckString({"accelerators", i, "fact_sources"}, fact, limits.max_id_length));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSamples(const NodeReport& report, const ValidatorLimits& limits,
                          const AddressSet& addresses) {
  PROV_RETURN_IF_ERROR(CheckCount("samples", report.samples_size(), limits.max_accelerators));
  for (int i = 0; i < report.samples_size(); ++i) {
    const auto& s = report.samples(i);
    if (!addresses.Contains(s.pci_address())) {
      return Invalid({"samples", i, "pci_address"},
                     absl::StrCat(Quote(s.pci_address()), " names no accelerator in this report"));
    }
    if (s.has_utilization_pct()) {
      PROV_RETURN_IF_ERROR(
          CheckRange({"samples", i, "utilization_pct"}, s.utilization_pct(), 0, 100));
    }
    if (s.has_tensor_activity()) {
      PROV_RETURN_IF_ERROR(
          CheckRange({"samples", i, "tensor_activity"}, s.tensor_activity(), 0, 1));
    }
    if (s.has_power_watts()) {
      PROV_RETURN_IF_ERROR(CheckRange({"samples", i, "power_watts"}, s.power_watts(), 0, 1e6));
    }
  }
  return absl::OkStatus();
}

// A peer's byte counters over the interval: at most max_peer_bytes_per_second x the interval,
// and no more than the socket's lifetime counter when the agent sent both.
absl::Status CheckPeerBytes(const provenance::v1::NetPeer& peer, uint32_t interval_seconds,
                            const ValidatorLimits& limits, int i, int j) {
  const uint64_t max = limits.max_peer_bytes_per_second * interval_seconds;
  for (const auto& [name, has, value, has_total, total] :
       {std::tuple<const char*, bool, uint64_t, bool, uint64_t>{
            "interval_bytes_sent", peer.has_interval_bytes_sent(), peer.interval_bytes_sent(),
            peer.has_bytes_sent(), peer.bytes_sent()},
        {"interval_bytes_received", peer.has_interval_bytes_received(),
         peer.interval_bytes_received(), peer.has_bytes_received(), peer.bytes_received()}}) {
    if (!has) continue;
    if (value > max) {
      return Invalid(
          {"workloads", i, "peers", j},
          absl::StrFormat("%s is %d bytes, more than %d in a %d s interval (%d bytes/s)", name,
                          value, max, interval_seconds, limits.max_peer_bytes_per_second));
    }
    if (has_total && value > total) {
      return Invalid({"workloads", i, "peers", j},
                     absl::StrFormat("%s is %d bytes, more than the socket's lifetime counter (%d)",
                                     name, value, total));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckWorkload(const provenance::v1::Workload& w, int i, const ValidatorLimits& limits,
                           const AddressSet& addresses, uint32_t interval_seconds) {
  PROV_RETURN_IF_ERROR(
      CheckId({"workloads", i, "workload_id"}, w.workload_id(), limits.max_id_length));
  for (int j = 0; j < w.accelerator_pci_addresses_size(); ++j) {
    const std::string& address = w.accelerator_pci_addresses(j);
    if (!addresses.Contains(address)) {
      return Invalid({"workloads", i, "accelerator_pci_addresses", j},
                     absl::StrCat(Quote(address), " names no accelerator in this report"));
    }
  }
  PROV_RETURN_IF_ERROR(
      CheckRange({"workloads", i, "attribution.confidence"}, w.attribution().confidence(), 0, 1));
  PROV_RETURN_IF_ERROR(
      CheckRange({"workloads", i, "class_confidence"}, w.class_confidence(), 0, 1));
  PROV_RETURN_IF_ERROR(CheckString({"workloads", i, "attribution.account"},
                                   w.attribution().account(), limits.max_id_length));
  PROV_RETURN_IF_ERROR(CheckCount({"workloads", i, "peers"}, w.peers_size(), limits.max_peers));
  for (const auto& [name, count] :
       {std::pair<const char*, int>{"pids", w.pids_size()},
        {"listening_ports", w.listening_ports_size()},
        {"class_reasons", w.class_reasons_size()},
        {"container_ids", w.container_ids_size()},
        {"artifact_digests", w.artifact_digests_size()},
        {"accelerator_pci_addresses", w.accelerator_pci_addresses_size()}}) {
    PROV_RETURN_IF_ERROR(CheckCount({"workloads", i, name}, count, limits.max_list_items));
  }
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string*>{"cgroup_path", &w.cgroup_path()},
        {"attribution.detail", &w.attribution().detail()}}) {
    PROV_RETURN_IF_ERROR(CheckString({"workloads", i, name}, *value, limits.max_string_length));
  }
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string*>{"launcher", &w.launcher()},
        {"pod_uid", &w.pod_uid()},
        {"pod_name", &w.pod_name()},
        {"pod_namespace", &w.pod_namespace()},
        {"container_runtime", &w.container_runtime()},
        {"slurm_job_id", &w.slurm_job_id()},
        {"slurm_step", &w.slurm_step()},
        {"cmdline_digest", &w.cmdline_digest()},
        {"image_digest", &w.image_digest()}}) {
    PROV_RETURN_IF_ERROR(CheckString({"workloads", i, name}, *value, limits.max_id_length));
  }
  PROV_RETURN_IF_ERROR(CheckString({"workloads", i, "distributed.master_addr"},
                                   w.distributed().master_addr(), limits.max_address_length));
  for (int j = 0; j < w.class_reasons_size(); ++j) {
    PROV_RETURN_IF_ERROR(CheckString({"workloads", i, "class_reasons", j}, w.class_reasons(j),
                                     limits.max_string_length));
  }
  for (int j = 0; j < w.container_ids_size(); ++j) {
    PROV_RETURN_IF_ERROR(CheckString({"workloads", i, "container_ids", j}, w.container_ids(j),
                                     limits.max_id_length));
  }
  for (int j = 0; j < w.artifact_digests_size(); ++j) {
    PROV_RETURN_IF_ERROR(CheckString({"workloads", i, "artifact_digests", j}, w.artifact_digests(j),
                                     limits.max_id_length));
  }
  for (int j = 0; j < w.peers_size(); ++j) {
    const auto& peer = w.peers(j);
    if (peer.remote_address().size() > limits.max_address_length) {
      return Invalid({"workloads", i, "peers", j},
                     absl::StrFormat("remote_address is %d bytes long (at most %d)",
                                     peer.remote_address().size(), limits.max_address_length));
    }
    if (peer.state().size() > limits.max_id_length) {
      return Invalid({"workloads", i, "peers", j},
                     absl::StrFormat("state is %d bytes long (at most %d)", peer.state().size(),
                                     limits.max_id_length));
    }
    PROV_RETURN_IF_ERROR(CheckPeerBytes(peer, interval_seconds, limits, i, j));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsPciAddress(absl::string_view a) {
  // DDDD:BB:DD.F
  if (a.size() != 12 || a[4] != ':' || a[7] != ':' || a[10] != '.') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(a[i]))) return false;
  }
  return a[11] >= '0' && a[11] <= '7';
}

absl::Status ValidateReport(const NodeReport& report, absl::Time server_now,
                            const ValidatorLimits& limits) {
  PROV_RETURN_IF_ERROR(CheckNode(report, limits));
  PROV_RETURN_IF_ERROR(CheckTime(report, server_now, limits));
  AddressSet addresses;
  PROV_RETURN_IF_ERROR(CheckAccelerators(report, limits, &addresses));
  addresses.Seal();
  PROV_RETURN_IF_ERROR(CheckSamples(report, limits, addresses));
  PROV_RETURN_IF_ERROR(CheckCount("workloads", report.workloads_size(), limits.max_workloads));
  // Duplicate workload ids: pairwise for the usual handful (no allocation), a hash set beyond.
  constexpr int kPairwiseMax = 32;
  absl::flat_hash_set<absl::string_view> workload_ids;
  for (int i = 0; i < report.workloads_size(); ++i) {
    const auto& w = report.workloads(i);
    PROV_RETURN_IF_ERROR(CheckWorkload(w, i, limits, addresses, report.interval_seconds()));
    bool duplicate = false;
    if (report.workloads_size() <= kPairwiseMax) {
      for (int j = 0; j < i && !duplicate; ++j) {
        duplicate = report.workloads(j).workload_id() == w.workload_id();
      }
    } else {
      duplicate = !workload_ids.insert(w.workload_id()).second;
    }
    if (duplicate) {
      return Invalid({"workloads", i, "workload_id"},
                     absl::StrCat(Quote(w.workload_id()), " appears twice"));
    }
  }
  if (report.has_health()) {
    const auto& health = report.health();
    PROV_RETURN_IF_ERROR(CheckCount("health.collector_errors", health.collector_errors_size(),
                                    limits.max_collector_errors));
    for (int i = 0; i < health.collector_errors_size(); ++i) {
      const auto& e = health.collector_errors(i);
      PROV_RETURN_IF_ERROR(CheckString({"health.collector_errors", i, "collector"}, e.collector(),
                                       limits.max_id_length));
      PROV_RETURN_IF_ERROR(CheckString({"health.collector_errors", i, "message"}, e.message(),
                                       limits.max_string_length));
      PROV_RETURN_IF_ERROR(CheckCounter({"health.collector_errors", i, "count"}, e.count(),
                                        limits.max_cumulative_counter));
    }
    PROV_RETURN_IF_ERROR(CheckCounter("health.strings_repaired", health.strings_repaired(),
                                      limits.max_report_counter));
    PROV_RETURN_IF_ERROR(CheckCounter("health.strings_truncated", health.strings_truncated(),
                                      limits.max_report_counter));
    PROV_RETURN_IF_ERROR(
        CheckCounter("health.spool_depth", health.spool_depth(), limits.max_cumulative_counter));
    PROV_RETURN_IF_ERROR(CheckCounter("health.dropped_reports", health.dropped_reports(),
                                      limits.max_cumulative_counter));
    PROV_RETURN_IF_ERROR(CheckCounter("health.unreadable_reports", health.unreadable_reports(),
                                      limits.max_cumulative_counter));
    PROV_RETURN_IF_ERROR(CheckCounter("health.rejected_reports", health.rejected_reports(),
                                      limits.max_cumulative_counter));
    PROV_RETURN_IF_ERROR(CheckRange("health.cpu_seconds", health.cpu_seconds(), 0, 1e12));
  }
  return absl::OkStatus();
}

std::string RejectionField(const absl::Status& status) {
  absl::string_view message = status.message();
  size_t colon = message.find(": ");
  if (colon == absl::string_view::npos || colon == 0) return "unknown";
  std::string field;
  bool in_index = false;
  for (char c : message.substr(0, colon)) {
    if (c == '[') {
      in_index = true;
      field.push_back('[');
    } else if (c == ']') {
      in_index = false;
      field.push_back(']');
    } else if (!in_index) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.') {
        return "unknown";
      }
      field.push_back(c);
    }
  }
  return field;
}

}  // namespace prov::server
