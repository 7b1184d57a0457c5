#include "common/proto_strings.h"

#include <string>

#include "common/sha256.h"
#include "common/utf8.h"
#include "gtest/gtest.h"
#include "provenance/v1/report.pb.h"

namespace prov {
namespace {

using provenance::v1::NodeReport;

const char kBad[] = "10.20.0.\xff\xfe";

TEST(ProtoStringsTest, RepairsNestedRepeatedAndMapStringsSoTheReportParsesBack) {
  NodeReport report;
  report.mutable_node()->set_hostname("gpu-\xc3");
  auto* w = report.add_workloads();
  w->mutable_distributed()->set_master_addr(kBad);
  w->add_class_reasons("ok");
  w->add_class_reasons("bad \x80");
  (*report.add_accelerators()->mutable_fact_sources())["uu\xffid"] =
      provenance::v1::FACT_SOURCE_NVML;

  StringRepairs r = RepairStrings(&report, StringPolicy{});
  EXPECT_EQ(r.repaired, 4u);
  EXPECT_EQ(r.truncated, 0u);
  EXPECT_EQ(w->distributed().master_addr(), "10.20.0.\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(w->class_reasons(0), "ok");
  EXPECT_TRUE(IsValidUtf8(w->class_reasons(1)));
  EXPECT_EQ(r.fields.front(), "provenance.v1.NodeIdentity.hostname");

  NodeReport back;
  ASSERT_TRUE(back.ParseFromString(report.SerializeAsString()));
  EXPECT_EQ(back.workloads(0).distributed().master_addr(), w->distributed().master_addr());
}

TEST(ProtoStringsTest, UnrepairedReportDoesNotParseBack) {
  // The failure the repair exists for (issue 14): proto3 writes the bytes, then refuses them.
  NodeReport report;
  report.add_workloads()->mutable_distributed()->set_master_addr(kBad);
  NodeReport back;
  EXPECT_FALSE(back.ParseFromString(report.SerializeAsString()));
}

TEST(ProtoStringsTest, LimitsAndRawDigest) {
  StringPolicy policy;
  policy.default_max_bytes = 16;
  policy.max_bytes["provenance.v1.Workload.cgroup_path"] = 64;
  policy.raw_digest_field["provenance.v1.DistributedMarkers.master_addr"] =
      "master_addr_raw_sha256";
  NodeReport report;
  auto* w = report.add_workloads();
  w->set_cgroup_path(std::string(100, 'c'));
  w->set_pod_name(std::string(17, 'p'));
  w->set_launcher("torchrun");
  w->mutable_distributed()->set_master_addr(kBad);
  auto* ok = report.add_workloads();
  ok->mutable_distributed()->set_master_addr("10.0.0.1");

  StringRepairs r = RepairStrings(&report, policy);
  EXPECT_EQ(r.repaired, 1u);
  EXPECT_EQ(r.truncated, 2u);
  EXPECT_EQ(w->cgroup_path().size(), 64u);
  EXPECT_EQ(w->pod_name().size(), 16u);
  EXPECT_EQ(w->launcher(), "torchrun");
  EXPECT_EQ(w->distributed().master_addr_raw_sha256(), Sha256Hex(kBad));
  EXPECT_EQ(ok->distributed().master_addr_raw_sha256(), "") << "only repaired values get one";
}

}  // namespace
}  // namespace prov
