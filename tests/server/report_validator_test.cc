#include "server/ingest/report_validator.h"

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;
using testing::MakeReport;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

NodeReport Valid() { return MakeReport("node-1", "boot-a", 1, kNow); }

// Applies a mutation to a valid report and returns the validation message.
std::string Message(const std::function<void(NodeReport&)>& mutate,
                    const ValidatorLimits& limits = {}) {
  NodeReport r = Valid();
  mutate(r);
  absl::Status s = ValidateReport(r, kNow, limits);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  return std::string(s.message());
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(ReportValidatorTest, AcceptsAValidReport) {
  EXPECT_TRUE(ValidateReport(Valid(), kNow).ok());
  NodeReport no_workloads = Valid();
  no_workloads.clear_workloads();
  no_workloads.clear_samples();
  no_workloads.clear_accelerators();
  EXPECT_TRUE(ValidateReport(no_workloads, kNow).ok()) << "a node without accelerators is fine";
}

TEST(ReportValidatorTest, NodeIdentity) {
  EXPECT_EQ(Message([](NodeReport& r) { r.clear_node(); }), "node: is missing");
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_node()->clear_node_id(); }),
            "node.node_id: must not be empty");
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_node()->clear_boot_id(); }),
            "node.boot_id: must not be empty");
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_node()->set_node_id(std::string(300, 'n')); }),
            "node.node_id: is 300 bytes long (at most 256)");
  EXPECT_TRUE(StartsWith(
      Message([](NodeReport& r) { r.mutable_node()->set_hostname(std::string(5000, 'h')); }),
      "node.hostname: "));
}

TEST(ReportValidatorTest, SeqIntervalAndTime) {
  EXPECT_EQ(Message([](NodeReport& r) { r.set_seq(0); }), "seq: must be >= 1");
  EXPECT_EQ(Message([](NodeReport& r) { r.set_interval_seconds(0); }),
            "interval_seconds: 0 is out of range [1, 3600]");
  EXPECT_EQ(Message([](NodeReport& r) { r.set_interval_seconds(3601); }),
            "interval_seconds: 3601 is out of range [1, 3600]");
  EXPECT_EQ(Message([](NodeReport& r) { r.clear_collected_at(); }), "collected_at: is missing");
  EXPECT_TRUE(StartsWith(
      Message([](NodeReport& r) { r.mutable_collected_at()->set_seconds(1'700'000'000 + 3600); }),
      "collected_at: "));
  EXPECT_NE(Message([](NodeReport& r) {
              r.mutable_collected_at()->set_seconds(1'700'000'000 + 3600);
            }).find("in the future"),
            std::string::npos);
  EXPECT_NE(Message([](NodeReport& r) {
              r.mutable_collected_at()->set_seconds(1'700'000'000 - 40 * 86400);
            }).find("older than"),
            std::string::npos);
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_collected_at()->set_nanos(-1); }),
            "collected_at: is not a valid timestamp");
  // Inside the window: a little skew ahead, and a spooled report from yesterday.
  NodeReport r = Valid();
  r.mutable_collected_at()->set_seconds(1'700'000'000 + 60);
  EXPECT_TRUE(ValidateReport(r, kNow).ok());
  r.mutable_collected_at()->set_seconds(1'700'000'000 - 86400);
  EXPECT_TRUE(ValidateReport(r, kNow).ok());
}

TEST(ReportValidatorTest, PciAddresses) {
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_accelerators(1)->set_pci_address("zz"); }),
            "accelerators[1].pci_address: \"zz\" is not a PCI address (DDDD:BB:DD.F)");
  EXPECT_EQ(
      Message([](NodeReport& r) { r.mutable_accelerators(1)->set_pci_address("0000:3b:00.0"); }),
      "accelerators[1].pci_address: \"0000:3b:00.0\" appears twice");
  EXPECT_TRUE(IsPciAddress("0000:3b:00.7"));
  EXPECT_TRUE(IsPciAddress("ABCD:EF:1F.0"));
  EXPECT_FALSE(IsPciAddress("0000:3b:00.8"));
  EXPECT_FALSE(IsPciAddress("0000:3b:0g.0"));
  EXPECT_FALSE(IsPciAddress("00000:3b:00.0"));
  EXPECT_FALSE(IsPciAddress(""));
  // Control bytes in a bad value are escaped in the message.
  EXPECT_EQ(Message([](NodeReport& r) {
              r.mutable_accelerators(0)->set_pci_address(std::string("\x01\n", 2));
            }),
            "accelerators[0].pci_address: \"\\x01\\n\" is not a PCI address (DDDD:BB:DD.F)");
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_accelerators(0)->set_vendor_id(0x10000); }),
            "accelerators[0].vendor_id: exceeds 0xffff");
}

TEST(ReportValidatorTest, AddressesMatchIgnoringCaseAndExactFormat) {
  NodeReport r = Valid();
  r.mutable_accelerators(0)->set_pci_address("0000:3B:00.0");
  r.mutable_workloads(0)->set_accelerator_pci_addresses(0, "0000:3b:00.0");
  EXPECT_TRUE(ValidateReport(r, kNow).ok()) << "upper- and lowercase name the same accelerator";
  EXPECT_EQ(
      Message([](NodeReport& r) { r.mutable_accelerators(1)->set_pci_address("0000:3B:00.0"); }),
      "accelerators[1].pci_address: \"0000:3B:00.0\" appears twice");
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_samples(0)->set_pci_address("0000-3b:00.0"); }),
            "samples[0].pci_address: \"0000-3b:00.0\" names no accelerator in this report");
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_samples(0)->set_pci_address("0000:3b:00.1"); }),
            "samples[0].pci_address: \"0000:3b:00.1\" names no accelerator in this report");
}

TEST(ReportValidatorTest, Samples) {
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_samples(0)->set_pci_address("0000:99:00.0"); }),
            "samples[0].pci_address: \"0000:99:00.0\" names no accelerator in this report");
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_samples(1)->set_utilization_pct(100.5); }),
            "samples[1].utilization_pct: 100.5 is out of range [0, 100]");
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_samples(1)->set_utilization_pct(-1); }),
            "samples[1].utilization_pct: -1 is out of range [0, 100]");
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_samples(0)->set_tensor_activity(1.5); }),
            "samples[0].tensor_activity: 1.5 is out of range [0, 1]");
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_samples(0)->set_tensor_activity(NAN); }),
            "samples[0].tensor_activity: nan is out of range [0, 1]");
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_samples(0)->set_power_watts(-3); }),
            "samples[0].power_watts: -3 is out of range [0, 1e+06]");
}

TEST(ReportValidatorTest, Workloads) {
  EXPECT_EQ(Message([](NodeReport& r) {
              r.mutable_workloads(0)->set_accelerator_pci_addresses(1, "0000:99:00.0");
            }),
            "workloads[0].accelerator_pci_addresses[1]: \"0000:99:00.0\" names no accelerator "
            "in this report");
  EXPECT_EQ(Message([](NodeReport& r) { *r.add_workloads() = r.workloads(0); }),
            "workloads[1].workload_id: \"k8s:pod-1\" appears twice");
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_workloads(0)->clear_workload_id(); }),
            "workloads[0].workload_id: must not be empty");
  EXPECT_EQ(Message([](NodeReport& r) { r.mutable_workloads(0)->set_class_confidence(2); }),
            "workloads[0].class_confidence: 2 is out of range [0, 1]");
  EXPECT_EQ(Message([](NodeReport& r) {
              r.mutable_workloads(0)->mutable_attribution()->set_confidence(-0.1);
            }),
            "workloads[0].attribution.confidence: -0.1 is out of range [0, 1]");
  EXPECT_EQ(Message([](NodeReport& r) {
              r.mutable_workloads(0)->set_cgroup_path(std::string(5000, 'c'));
            }),
            "workloads[0].cgroup_path: is 5000 bytes long (at most 4096)");
}

TEST(ReportValidatorTest, DuplicateWorkloadIdsInSmallAndLargeReports) {
  // Up to 32 workloads are compared pairwise, more through a hash set: same answer either way.
  for (int n : {5, 32, 33, 200}) {
    NodeReport r = Valid();
    for (int i = 1; i < n; ++i) {
      auto* w = r.add_workloads();
      *w = r.workloads(0);
      w->set_workload_id(absl::StrCat("k8s:pod-", i + 1));
    }
    EXPECT_TRUE(ValidateReport(r, kNow).ok()) << n << " distinct workloads";
    r.mutable_workloads(n - 1)->set_workload_id("k8s:pod-3");
    absl::Status s = ValidateReport(r, kNow);
    EXPECT_EQ(s.message(),
              absl::StrCat("workloads[", n - 1, "].workload_id: \"k8s:pod-3\" appears twice"))
        << n << " workloads";
  }
}

TEST(ReportValidatorTest, BoundedCounts) {
  ValidatorLimits limits;
  limits.max_accelerators = 1;
  EXPECT_EQ(Message([](NodeReport&) {}, limits), "accelerators: has 2 entries (at most 1)");
  limits = {};
  limits.max_workloads = 0;
  EXPECT_EQ(Message([](NodeReport&) {}, limits), "workloads: has 1 entries (at most 0)");
  limits = {};
  limits.max_list_items = 2;
  EXPECT_EQ(Message(
                [](NodeReport& r) {
                  for (int i = 0; i < 3; ++i) r.mutable_workloads(0)->add_pids(i);
                },
                limits),
            "workloads[0].pids: has 3 entries (at most 2)");
}

// Issue 14: 64 KB values in a dozen fields, 100,000 node addresses and a 50 MB artifact digest were
// accepted and stored. Every string and list now has a documented bound.
TEST(ReportValidatorTest, EveryStringFieldIsBounded) {
  const std::string big(65536, 'x');
  struct Case {
    const char* expected;
    std::function<void(NodeReport&)> mutate;
  };
  const std::vector<Case> cases = {
      {"node.hostname: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_node()->set_hostname(big); }},
      {"node.addresses[0]: is 65536 bytes long (at most 255)",
       [&](NodeReport& r) { r.mutable_node()->add_addresses(big); }},
      {"accelerators[0].fact_sources: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) {
         (*r.mutable_accelerators(0)->mutable_fact_sources())[big] =
             provenance::v1::FACT_SOURCE_NVML;
       }},
      {"workloads[0].pod_uid: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_workloads(0)->set_pod_uid(big); }},
      {"workloads[0].container_runtime: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_workloads(0)->set_container_runtime(big); }},
      {"workloads[0].slurm_job_id: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_workloads(0)->set_slurm_job_id(big); }},
      {"workloads[0].slurm_step: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_workloads(0)->set_slurm_step(big); }},
      {"workloads[0].cmdline_digest: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_workloads(0)->set_cmdline_digest(big); }},
      {"workloads[0].image_digest: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_workloads(0)->set_image_digest(big); }},
      {"workloads[0].launcher: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_workloads(0)->set_launcher(big); }},
      {"workloads[0].distributed.master_addr: is 65536 bytes long (at most 255)",
       [&](NodeReport& r) { r.mutable_workloads(0)->mutable_distributed()->set_master_addr(big); }},
      {"workloads[0].container_ids[1]: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) {
         r.mutable_workloads(0)->add_container_ids("c1");
         r.mutable_workloads(0)->add_container_ids(big);
       }},
      {"workloads[0].artifact_digests[0]: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_workloads(0)->add_artifact_digests(big); }},
      {"workloads[0].peers[0]: remote_address is 65536 bytes long (at most 255)",
       [&](NodeReport& r) { r.mutable_workloads(0)->add_peers()->set_remote_address(big); }},
      {"workloads[0].peers[0]: state is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_workloads(0)->add_peers()->set_state(big); }},
      {"node.hardware.system_uuid: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_node()->mutable_hardware()->set_system_uuid(big); }},
      {"node.hardware.board_serial: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_node()->mutable_hardware()->set_board_serial(big); }},
      {"node.hardware.chassis_serial: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_node()->mutable_hardware()->set_chassis_serial(big); }},
      {"node.hardware.product_name: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_node()->mutable_hardware()->set_product_name(big); }},
      {"node.hardware.fact_sources: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) {
         (*r.mutable_node()->mutable_hardware()->mutable_fact_sources())[big] =
             provenance::v1::FACT_SOURCE_DMI_SYSFS;
       }},
      {"health.collector_errors[0].collector: is 65536 bytes long (at most 256)",
       [&](NodeReport& r) { r.mutable_health()->add_collector_errors()->set_collector(big); }},
      {"health.collector_errors[0].message: is 65536 bytes long (at most 4096)",
       [&](NodeReport& r) { r.mutable_health()->add_collector_errors()->set_message(big); }},
  };
  for (const Case& c : cases) EXPECT_EQ(Message(c.mutate), c.expected);
  // Legitimate values still pass: a sha256 digest, an IPv6 peer, a container id.
  NodeReport ok = Valid();
  auto* w = ok.mutable_workloads(0);
  w->add_artifact_digests("sha256:" + std::string(64, 'a'));
  w->add_container_ids("containerd://" + std::string(64, 'c'));
  w->add_peers()->set_remote_address("2001:db8:ffff:ffff:ffff:ffff:255.255.255.255");
  ok.mutable_node()->add_addresses("10.0.0.7");
  auto* hw = ok.mutable_node()->mutable_hardware();
  hw->set_system_uuid("4c4c4544-0042-3510-8052-b4c04f384d32");
  hw->set_board_serial(".7X2Y3Z2.CNFCP0012300AB.");
  (*hw->mutable_fact_sources())["system_uuid"] = provenance::v1::FACT_SOURCE_DMI_SYSFS;
  EXPECT_TRUE(ValidateReport(ok, kNow).ok());
}

// A NUL byte is valid UTF-8, so it parses; it is refused in the strings provd stores as text
// (PostgreSQL text cannot hold one, so a stored one would fail every batch it shares).
TEST(ReportValidatorTest, StringsWithANulByteAreRefused) {
  const std::string nul("ab\0cd", 5);
  EXPECT_EQ(Message([&](NodeReport& r) { r.mutable_node()->set_hostname(nul); }),
            "node.hostname: contains a NUL byte (at byte 2)");
  EXPECT_EQ(Message([&](NodeReport& r) { r.mutable_node()->set_boot_id(nul); }),
            "node.boot_id: contains a NUL byte (at byte 2)");
  EXPECT_EQ(Message([&](NodeReport& r) { r.mutable_node()->set_location_responder(nul); }),
            "node.location_responder: contains a NUL byte (at byte 2)");
  EXPECT_EQ(Message([&](NodeReport& r) {
              r.mutable_node()->set_location_responder(std::string(300, 'x'));
            }),
            "node.location_responder: is 300 bytes long (at most 255)");
  EXPECT_EQ(Message([&](NodeReport& r) { r.mutable_workloads(0)->set_launcher(nul); }),
            "workloads[0].launcher: contains a NUL byte (at byte 2)");
  EXPECT_EQ(
      Message([&](NodeReport& r) { r.mutable_node()->mutable_hardware()->set_board_serial(nul); }),
      "node.hardware.board_serial: contains a NUL byte (at byte 2)");
}

TEST(ReportValidatorTest, EveryListIsBounded) {
  EXPECT_EQ(Message([](NodeReport& r) {
              for (int i = 0; i < 100000; ++i) r.mutable_node()->add_addresses("10.0.0.1");
            }),
            "node.addresses: has 100000 entries (at most 256)");
  EXPECT_EQ(Message([](NodeReport& r) {
              for (int i = 0; i < 1025; ++i) r.mutable_workloads(0)->add_peers();
            }),
            "workloads[0].peers: has 1025 entries (at most 1024)");
  EXPECT_EQ(Message([](NodeReport& r) {
              auto* sources = r.mutable_accelerators(0)->mutable_fact_sources();
              for (int i = 0; i < 65; ++i) (*sources)[absl::StrCat("f", i)] = {};
            }),
            "accelerators[0].fact_sources: has 65 entries (at most 64)");
  EXPECT_EQ(Message([](NodeReport& r) {
              for (int i = 0; i < 4097; ++i) r.mutable_workloads(0)->add_artifact_digests("d");
            }),
            "workloads[0].artifact_digests: has 4097 entries (at most 4096)");
  EXPECT_EQ(Message([](NodeReport& r) {
              for (int i = 0; i < 257; ++i) r.mutable_health()->add_collector_errors();
            }),
            "health.collector_errors: has 257 entries (at most 256)");
}

TEST(ReportValidatorTest, SeqMustFitTheStoresInteger) {
  EXPECT_EQ(Message([](NodeReport& r) { r.set_seq(uint64_t{1} << 63); }),
            "seq: 9223372036854775808 exceeds 2^63-1");
  NodeReport r = Valid();
  r.set_seq(INT64_MAX);
  EXPECT_TRUE(ValidateReport(r, kNow).ok()) << "the jump bound is the store's (--max-seq-jump)";
}

TEST(ReportValidatorTest, HealthCountersAreBounded) {
  NodeReport r = Valid();
  r.mutable_health()->set_strings_repaired(1'000'000);
  r.mutable_health()->set_unreadable_reports(uint64_t{1} << 53);
  EXPECT_TRUE(ValidateReport(r, kNow).ok());
  r.mutable_health()->set_strings_repaired(1'000'001);
  EXPECT_EQ(ValidateReport(r, kNow).message(), "health.strings_repaired: 1000001 is above 1000000");
  r = Valid();
  r.mutable_health()->set_dropped_reports(~uint64_t{0});
  EXPECT_EQ(ValidateReport(r, kNow).message(),
            "health.dropped_reports: 18446744073709551615 is above 9007199254740992");
}

// Issue 9: a peer's bytes over the interval are bounded by a link rate and by the socket's own
// lifetime counter; realistic volumes (a coordinator's GBs, a tracker's KBs, none at all) pass.
TEST(ReportValidatorTest, PeerByteCountersAreBounded) {
  auto peer = [](NodeReport& r) {
    r.set_interval_seconds(60);
    return r.mutable_workloads(0)->add_peers();
  };
  NodeReport ok = Valid();
  auto* p = peer(ok);
  p->set_bytes_sent(uint64_t{40} << 30);
  p->set_interval_bytes_sent(uint64_t{16} << 30);  // a parameter server: 16 GiB a minute
  p->set_interval_bytes_received(uint64_t{16} << 30);
  peer(ok)->set_interval_bytes_sent(1 << 20);  // a tracker
  peer(ok);                                    // an old agent: no counters
  EXPECT_TRUE(ValidateReport(ok, kNow).ok()) << ValidateReport(ok, kNow);
  EXPECT_EQ(
      Message([&](NodeReport& r) { peer(r)->set_interval_bytes_received(uint64_t{1} << 50); }),
      "workloads[0].peers[0]: interval_bytes_received is 1125899906842624 bytes, more than "
      "6442450944000 in a 60 s interval (107374182400 bytes/s)");
  EXPECT_EQ(Message([&](NodeReport& r) {
              auto* q = peer(r);
              q->set_bytes_sent(1000);
              q->set_interval_bytes_sent(1001);
            }),
            "workloads[0].peers[0]: interval_bytes_sent is 1001 bytes, more than the socket's "
            "lifetime counter (1000)");
  EXPECT_EQ(RejectionField(ValidateReport(
                [&] {
                  NodeReport r = Valid();
                  peer(r)->set_interval_bytes_sent(uint64_t{1} << 60);
                  return r;
                }(),
                kNow)),
            "workloads[].peers[]");
}

TEST(ReportValidatorTest, RejectionFieldStripsIndexes) {
  EXPECT_EQ(RejectionField(absl::InvalidArgumentError(
                "accelerators[2].pci_address: \"zz\" is not a PCI address (DDDD:BB:DD.F)")),
            "accelerators[].pci_address");
  EXPECT_EQ(
      RejectionField(absl::InvalidArgumentError("workloads[0].accelerator_pci_addresses[13]: x")),
      "workloads[].accelerator_pci_addresses[]");
  EXPECT_EQ(RejectionField(absl::InvalidArgumentError("seq: must be >= 1")), "seq");
  EXPECT_EQ(RejectionField(absl::InvalidArgumentError("no field here")), "unknown");
}

}  // namespace
}  // namespace prov::server
