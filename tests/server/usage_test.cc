#include "server/ledger/usage.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;
using testing::MakeReport;

constexpr double kH100Peak = 989e12;

NodeReport Report() { return MakeReport("n", "b", 1, absl::FromUnixSeconds(1'700'000'000)); }

TEST(UsageTest, TensorActivityAndDefaultUtilizationMixed) {
  // Accelerator 0 has tensor_activity 0.5, accelerator 1 none: default 0.30 applies.
  auto usage = ComputeUsage(Report(), AcceleratorCatalog::Builtin(), {});
  ASSERT_EQ(usage.size(), 1u);
  const WorkloadUsage& u = usage[0];
  EXPECT_EQ(u.workload_id, "k8s:pod-1");
  EXPECT_EQ(u.account, "acme");
  EXPECT_EQ(u.accelerator_count, 2u);
  EXPECT_EQ(u.accelerator_model, "H100 SXM5 80GB");
  EXPECT_DOUBLE_EQ(u.accelerator_seconds, 20);
  EXPECT_DOUBLE_EQ(u.flop_high, 20 * kH100Peak);
  EXPECT_DOUBLE_EQ(u.flop_low, 10 * kH100Peak * 0.5 + 10 * kH100Peak * 0.30);
  EXPECT_EQ(u.method, "accel_seconds*peak*default_util(0.30) + accel_seconds*peak*tensor_activity");
}

TEST(UsageTest, ComputeUsageIntoOverwritesReusedElements) {
  std::vector<WorkloadUsage> out(3);
  for (WorkloadUsage& stale : out) {
    stale = {.workload_id = "old",
             .account = "old",
             .accelerator_count = 9,
             .accelerator_model = "old",
             .accelerator_seconds = 9,
             .flop_low = 9,
             .flop_high = 9,
             .method = "old"};
  }
  ComputeUsageInto(Report(), AcceleratorCatalog::Builtin(), {}, &out);
  const std::vector<WorkloadUsage> fresh =
      ComputeUsage(Report(), AcceleratorCatalog::Builtin(), {});
  ASSERT_EQ(out.size(), 1u) << "resized to the report's workloads";
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(out[0].workload_id, fresh[0].workload_id);
  EXPECT_EQ(out[0].account, fresh[0].account);
  EXPECT_EQ(out[0].workload_class, fresh[0].workload_class);
  EXPECT_EQ(out[0].accelerator_count, fresh[0].accelerator_count);
  EXPECT_EQ(out[0].accelerator_model, fresh[0].accelerator_model);
  EXPECT_DOUBLE_EQ(out[0].accelerator_seconds, fresh[0].accelerator_seconds);
  EXPECT_DOUBLE_EQ(out[0].flop_low, fresh[0].flop_low);
  EXPECT_DOUBLE_EQ(out[0].flop_high, fresh[0].flop_high);
  EXPECT_EQ(out[0].method, fresh[0].method);
  EXPECT_EQ(out[0].method,
            "accel_seconds*peak*default_util(0.30) + accel_seconds*peak*tensor_activity");
}

TEST(UsageTest, OnlyTensorActivity) {
  NodeReport r = Report();
  r.mutable_samples(1)->set_tensor_activity(0.25);
  auto usage = ComputeUsage(r, AcceleratorCatalog::Builtin(), {});
  EXPECT_DOUBLE_EQ(usage[0].flop_low, 10 * kH100Peak * 0.75);
  EXPECT_EQ(usage[0].method, "accel_seconds*peak*tensor_activity");
}

TEST(UsageTest, ConfigurableDefaultUtilization) {
  NodeReport r = Report();
  r.clear_samples();
  auto usage = ComputeUsage(r, AcceleratorCatalog::Builtin(), {.default_utilization = 0.4});
  EXPECT_DOUBLE_EQ(usage[0].flop_low, 20 * kH100Peak * 0.4);
  EXPECT_EQ(usage[0].method, "accel_seconds*peak*default_util(0.40)");
}

TEST(UsageTest, UnknownPeakCountsSecondsButNoFlop) {
  NodeReport r = Report();
  for (auto& a : *r.mutable_accelerators()) {
    a.set_vendor_id(0x1234);  // not in the catalog
    a.set_device_id(0x0001);
    a.clear_model();
  }
  auto usage = ComputeUsage(r, AcceleratorCatalog::Builtin(), {});
  EXPECT_DOUBLE_EQ(usage[0].accelerator_seconds, 20);
  EXPECT_DOUBLE_EQ(usage[0].flop_low, 0);
  EXPECT_DOUBLE_EQ(usage[0].flop_high, 0);
  EXPECT_EQ(usage[0].method, "unknown_peak");
  EXPECT_EQ(usage[0].accelerator_model, "unknown 1234:0001");
}

TEST(UsageTest, CatalogFromFileDrivesThePeak) {
  auto catalog = AcceleratorCatalog::Parse(
      "vendor_id\tdevice_id\tvendor\tmodel\tfamily\tkind\tpeak_tflops\tmemory_gib\n"
      "0x10de\t0x2330\tnvidia\tTest GPU\thopper\taccelerator\t100\t80\n",
      "test");
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  NodeReport r = Report();
  r.clear_samples();
  auto usage = ComputeUsage(r, *catalog, {});
  EXPECT_DOUBLE_EQ(usage[0].flop_high, 20 * 100e12);
  EXPECT_EQ(usage[0].accelerator_model, "Test GPU");
}

TEST(UsageTest, UnattributedAndNoAccelerators) {
  NodeReport r = Report();
  auto* w = r.add_workloads();
  w->set_workload_id("proc:b:42:1");
  auto usage = ComputeUsage(r, AcceleratorCatalog::Builtin(), {});
  ASSERT_EQ(usage.size(), 2u);
  EXPECT_EQ(usage[1].account, kUnattributedAccount);
  EXPECT_DOUBLE_EQ(usage[1].accelerator_seconds, 0);
  EXPECT_EQ(usage[1].accelerator_count, 0u);
  EXPECT_EQ(usage[1].method, "");
}

TEST(UsageTest, AddressesMatchCaseInsensitively) {
  NodeReport r = Report();
  r.mutable_workloads(0)->set_accelerator_pci_addresses(0, "0000:3B:00.0");
  auto usage = ComputeUsage(r, AcceleratorCatalog::Builtin(), {});
  EXPECT_EQ(usage[0].accelerator_count, 2u);
}

TEST(UsageTest, ManyAcceleratorsMatchCaseInsensitivelyToo) {
  // Past 32 accelerators the lookup switches from a scan to an index: same results.
  NodeReport r = Report();
  for (int i = 0; i < 40; ++i) {
    auto* a = r.add_accelerators();
    *a = r.accelerators(0);
    a->set_pci_address(absl::StrFormat("0001:%02x:00.0", i + 0xa0));
    r.mutable_workloads(0)->add_accelerator_pci_addresses(
        absl::AsciiStrToUpper(absl::StrFormat("0001:%02x:00.0", i + 0xa0)));
  }
  r.mutable_workloads(0)->set_accelerator_pci_addresses(0, "0000:3B:00.0");
  r.mutable_workloads(0)->add_accelerator_pci_addresses("0002:00:00.0");  // names none: skipped
  auto usage = ComputeUsage(r, AcceleratorCatalog::Builtin(), {});
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].accelerator_count, 42u);
  EXPECT_DOUBLE_EQ(usage[0].accelerator_seconds, 420);
  // Only the first accelerator has a sample with tensor_activity (0.5); 41 use the default.
  EXPECT_DOUBLE_EQ(usage[0].flop_low, 10 * kH100Peak * (0.5 + 41 * 0.30));
}

TEST(UsageTest, DefaultMethodFollowsTheOptionsBetweenCalls) {
  NodeReport r = Report();
  r.clear_samples();
  EXPECT_EQ(ComputeUsage(r, AcceleratorCatalog::Builtin(), {.default_utilization = 0.4})[0].method,
            "accel_seconds*peak*default_util(0.40)");
  EXPECT_EQ(ComputeUsage(r, AcceleratorCatalog::Builtin(), {.default_utilization = 0.2})[0].method,
            "accel_seconds*peak*default_util(0.20)");
}

TEST(UsageTest, MergeMethods) {
  EXPECT_EQ(MergeMethods("", "a"), "a");
  EXPECT_EQ(MergeMethods("a", ""), "a");
  EXPECT_EQ(MergeMethods("a", "a"), "a");
  EXPECT_EQ(MergeMethods("b", "a"), "a + b");
  EXPECT_EQ(MergeMethods("a + b", "c + a"), "a + b + c");
  EXPECT_EQ(DefaultUtilizationMethod(0.3), "accel_seconds*peak*default_util(0.30)");
}

}  // namespace
}  // namespace prov::server
