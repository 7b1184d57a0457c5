// Observations through the bytes of the PostgreSQL ingest batch log (observation_record.h): every
// field comes back as it was, and bytes that are not a record are refused, naming why.
#include "server/analysis/observation_record.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "provenance/v1/analysis_state.pb.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Every field set, none to its default.
ReportObservation Full(const std::string& node) {
  ReportObservation r;
  r.node_id = node;
  r.hostname = node + ".example";
  r.datacenter = "fra1";
  r.region = "eu-central";
  r.addresses = {"10.0.0.1", "fe80::1"};
  provenance::v1::AcceleratorFact a;
  a.set_pci_address("0000:3b:00.0");
  a.set_vendor_id(0x10de);
  a.set_device_id(0x2330);
  a.set_vendor("NVIDIA");
  a.set_model("H100");
  a.set_family("hopper");
  a.set_serial("1650123456789");
  a.set_uuid("GPU-1234");
  r.accelerators = {a};
  r.accelerators_unchanged = true;
  r.time_us = 1'760'000'000'123'456;
  r.interval_seconds = 30;
  r.complete = false;
  WorkloadObservation w;
  w.workload_id = "job-7";
  w.account = "acme";
  w.workload_class = 1;
  w.started_us = 1'759'999'000'000'000;
  w.digests = {"sha256:aa", "sha256:bb"};
  w.artifact_digests = {"sha256:cc"};
  w.master_addr = "10.0.0.9";
  w.master_port = 29500;
  w.peers = {{.address = "10.0.0.2",
              .port = 29500,
              .bytes_sent = 1 << 30,
              .bytes_received = -1,
              .interval_seconds = 30}};
  w.listening_ports = {29500, 8080};
  w.activity_pct = 87.5;
  w.accelerators = {"0000:3b:00.0"};
  w.details_unchanged = true;
  w.usage.workload_class = provenance::v1::WORKLOAD_CLASS_TRAINING;
  w.usage.accelerator_count = 8;
  w.usage.accelerator_model = "H100";
  w.usage.accelerator_seconds = 240.5;
  w.usage.flop_low = 1.5e15;
  w.usage.flop_high = 3.25e15;
  w.usage.method = "nvml";
  w.usage.gap_seconds = 12.25;
  r.workloads = {w};
  return r;
}

TEST(ObservationRecordTest, EveryFieldRoundTrips) {
  const std::vector<ReportObservation> batch = {Full("node-1"), Full("node-2")};
  auto decoded = DecodeObservationBatch(EncodeObservationBatch(batch));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->size(), 2u);
  EXPECT_EQ((*decoded)[1].node_id, "node-2");
  const ReportObservation& r = (*decoded)[0];
  const ReportObservation want = Full("node-1");
  EXPECT_EQ(r.node_id, want.node_id);
  EXPECT_EQ(r.hostname, want.hostname);
  EXPECT_EQ(r.datacenter, want.datacenter);
  EXPECT_EQ(r.region, want.region);
  EXPECT_EQ(r.addresses, want.addresses);
  ASSERT_EQ(r.accelerators.size(), 1u);
  EXPECT_EQ(r.accelerators[0].SerializeAsString(), want.accelerators[0].SerializeAsString());
  EXPECT_TRUE(r.accelerators_unchanged);
  EXPECT_EQ(r.time_us, want.time_us);
  EXPECT_EQ(r.interval_seconds, 30u);
  EXPECT_FALSE(r.complete);
  ASSERT_EQ(r.workloads.size(), 1u);
  const WorkloadObservation& w = r.workloads[0];
  const WorkloadObservation& ww = want.workloads[0];
  EXPECT_EQ(w.workload_id, ww.workload_id);
  EXPECT_EQ(w.account, ww.account);
  EXPECT_EQ(w.workload_class, ww.workload_class);
  EXPECT_EQ(w.started_us, ww.started_us);
  EXPECT_EQ(w.digests, ww.digests);
  EXPECT_EQ(w.artifact_digests, ww.artifact_digests);
  EXPECT_EQ(w.master_addr, ww.master_addr);
  EXPECT_EQ(w.master_port, ww.master_port);
  ASSERT_EQ(w.peers.size(), 1u);
  EXPECT_EQ(w.peers[0].address, "10.0.0.2");
  EXPECT_EQ(w.peers[0].port, 29500u);
  EXPECT_EQ(w.peers[0].bytes_sent, 1 << 30);
  EXPECT_EQ(w.peers[0].bytes_received, -1);
  EXPECT_EQ(w.peers[0].interval_seconds, 30u);
  EXPECT_THAT(w.listening_ports, ElementsAre(29500u, 8080u));
  EXPECT_EQ(w.activity_pct, 87.5);
  EXPECT_EQ(w.accelerators, ww.accelerators);
  EXPECT_TRUE(w.details_unchanged);
  EXPECT_EQ(w.usage.workload_class, provenance::v1::WORKLOAD_CLASS_TRAINING);
  EXPECT_EQ(w.usage.accelerator_count, 8u);
  EXPECT_EQ(w.usage.accelerator_model, "H100");
  EXPECT_EQ(w.usage.accelerator_seconds, 240.5);
  EXPECT_EQ(w.usage.flop_low, 1.5e15);
  EXPECT_EQ(w.usage.flop_high, 3.25e15);
  EXPECT_EQ(w.usage.method, "nvml");
  EXPECT_EQ(w.usage.gap_seconds, 12.25);
  // Defaults that mean something survive too: -1 activity (no sample), -1 bytes (not measured).
  ReportObservation sparse;
  sparse.node_id = "n";
  sparse.workloads.push_back(WorkloadObservation{.workload_id = "w"});
  auto back = DecodeObservationBatch(EncodeObservationBatch({sparse}));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[0].workloads[0].activity_pct, -1);
  EXPECT_TRUE((*back)[0].complete);
}

TEST(ObservationRecordTest, AnEmptyBatchIsEmpty) {
  auto decoded = DecodeObservationBatch(EncodeObservationBatch({}));
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->empty());
}

TEST(ObservationRecordTest, BytesThatAreNotARecordAreRefused) {
  auto garbage = DecodeObservationBatch(std::string("\xff\xff\xff\xff\x0f", 5));
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(garbage.status().message()), HasSubstr("do not parse"));

  provenance::v1::ObservationBatch bad;
  auto* w = bad.add_reports()->add_workloads();
  w->set_workload_id("job-1");
  w->mutable_usage()->set_workload_class(9999);
  auto refused = DecodeObservationBatch(bad.SerializeAsString());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("job-1"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("9999"));
}

// Node events (a replica's rejection and refusal rounds, forwarded to the leader): every field
// back as it was, "since" unset included, and a record of them is not a batch of observations.
TEST(ObservationRecordTest, NodeEventsRoundTrip) {
  NodeEvent rejections;
  rejections.kind = NodeEvent::Kind::kRejections;
  rejections.node_id = "gpu-7";
  rejections.time = absl::FromUnixMicros(1'760'000'000'123'456);
  rejections.count = 3;
  rejections.total = 41;
  rejections.detail = "seq jumped back";
  NodeEvent located;
  located.kind = NodeEvent::Kind::kLocationVerdict;
  located.node_id = "gpu-8";
  located.time = absl::FromUnixMicros(1'760'000'100'000'000);
  located.since = absl::FromUnixMicros(1'760'000'000'000'000);
  located.detail = "contradicted";
  located.location.datacenter = "fra1";
  located.location.proof_required = true;
  located.location.summary = "contradicted by two landmarks";
  located.location.sentences = {"lm-1: 3 ms", "lm-2: 4 ms"};
  located.location.landmarks = {"lm-1", "lm-2"};
  located.location.needed_landmark = "lm-9";

  auto decoded = DecodeLoggedRecord(EncodeNodeEvents({rejections, located}));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->observations.empty());
  ASSERT_EQ(decoded->events.size(), 2u);
  const NodeEvent& a = decoded->events[0];
  EXPECT_EQ(a.kind, NodeEvent::Kind::kRejections);
  EXPECT_EQ(a.node_id, "gpu-7");
  EXPECT_EQ(a.time, rejections.time);
  EXPECT_EQ(a.count, 3);
  EXPECT_EQ(a.total, 41);
  EXPECT_EQ(a.since, absl::InfinitePast());
  EXPECT_EQ(a.detail, "seq jumped back");
  const NodeEvent& b = decoded->events[1];
  EXPECT_EQ(b.kind, NodeEvent::Kind::kLocationVerdict);
  EXPECT_EQ(b.since, located.since);
  EXPECT_EQ(b.location.datacenter, "fra1");
  EXPECT_TRUE(b.location.proof_required);
  EXPECT_EQ(b.location.summary, "contradicted by two landmarks");
  EXPECT_THAT(b.location.sentences, ElementsAre("lm-1: 3 ms", "lm-2: 4 ms"));
  EXPECT_THAT(b.location.landmarks, ElementsAre("lm-1", "lm-2"));
  EXPECT_EQ(b.location.needed_landmark, "lm-9");

  // Observations decode from the same kind of record, with no events.
  auto observations = DecodeLoggedRecord(EncodeObservationBatch({Full("n-1")}));
  ASSERT_TRUE(observations.ok());
  EXPECT_EQ(observations->observations.size(), 1u);
  EXPECT_TRUE(observations->events.empty());

  auto only = DecodeObservationBatch(EncodeNodeEvents({rejections}));
  ASSERT_FALSE(only.ok());
  EXPECT_EQ(only.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(only.status().message()), HasSubstr("node events"));
}

TEST(ObservationRecordTest, ANodeEventOfAnUnknownKindIsRefused) {
  provenance::v1::ObservationBatch bad;
  auto* e = bad.add_node_events();
  e->set_kind(77);
  e->set_node_id("gpu-3");
  auto refused = DecodeLoggedRecord(bad.SerializeAsString());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("gpu-3"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("unknown kind 77"));
}

}  // namespace
}  // namespace prov::server
