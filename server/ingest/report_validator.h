// ValidateReport: the checks every NodeReport passes before provd stores anything from it.
//
//   ValidatorLimits limits;                       // bounds below; tests may shrink them
//   absl::Status s = ValidateReport(report, clock.Now(), limits);
//   if (!s.ok()) s.message();   // `accelerators[2].pci_address: "zz" is not a PCI address
//   (DDDD:BB:DD.F)` RejectionField(s);          // "accelerators[].pci_address": the metric label
//   for the failure
//
// Every message starts with the field path, then ": ", then what is wrong, so agents' operators
// can find the bad field. Returns INVALID_ARGUMENT on the first failure. Pure: the server time is
// passed in (from the injected Clock), nothing else is read. Safe from any thread.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "provenance/v1/report.pb.h"

namespace prov::server {

// Every string and repeated field of a NodeReport has a bound (issue 14: values of 64 KB in a dozen
// fields, 100,000 node addresses and 50 MB digests were accepted and stored). Ids, names, digests
// and short labels are at most max_id_length bytes; addresses at most max_address_length; free
// text (cgroup path, reasons, details, collector messages) at most max_string_length. Together
// with the frame limit (--max-report-bytes, 4 MiB) this bounds what one report can store. Those
// strings must not contain a NUL byte either (PostgreSQL text cannot store one).
struct ValidatorLimits {
  // node_id, boot_id, workload_id, hostname, datacenter, region, agent_version, node.hardware
  // (SMBIOS uuid, serials, names), accelerator
  // facts, account, pod name/namespace/uid, container ids and runtime, Slurm ids, launcher,
  // digests (cmdline, image, artifact), fact source names, collector names, peer state.
  size_t max_id_length = 256;
  size_t max_address_length =
      255;  // node.addresses[], peers[].remote_address, master_addr (a DNS name)
  size_t max_string_length = 4096;  // cgroup_path, class_reasons[], attribution.detail, messages
  int max_accelerators = 256;       // accelerators, samples
  int max_workloads = 1024;
  int max_node_addresses = 256;
  int max_fact_sources = 64;  // per accelerator
  int max_peers = 1024;       // per workload
  int max_list_items = 4096;  // pids, ports, reasons, digests, container ids per workload
  int max_collector_errors = 256;
  // Agent health counters: per report (strings repaired or cut: a report holds far fewer strings)
  // and cumulative for the agent's spool (spool depth, dropped, unreadable, rejected reports;
  // collector error counts), kept exact in a double and in SQLite's INTEGER.
  uint64_t max_report_counter = 1'000'000;
  uint64_t max_cumulative_counter = uint64_t{1} << 53;
  uint32_t max_interval_seconds = 3600;
  // peers[].interval_bytes_*: at most this rate over the report's interval (800 Gbit/s, twice
  // the fastest NIC in use), and never more than the socket's lifetime counter when both are set.
  uint64_t max_peer_bytes_per_second = uint64_t{100} << 30;
  absl::Duration max_age = absl::Hours(24 * 30);  // spooled reports may arrive late
  absl::Duration max_future = absl::Minutes(10);  // clock skew tolerated
};

absl::Status ValidateReport(const provenance::v1::NodeReport& report, absl::Time server_now,
                            const ValidatorLimits& limits = {});

// The field path of a validation failure with list indexes removed ("accelerators[].pci_address"),
// a bounded set of values for a metric label; "unknown" when the status has no field path.
std::string RejectionField(const absl::Status& status);

// True for "DDDD:BB:DD.F" (hex digits, function 0..7), either case.
bool IsPciAddress(absl::string_view address);

}  // namespace prov::server
