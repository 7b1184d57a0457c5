// Exercises the real dlopen path of LoadNvml against tests/agent/fake_nvml (a C library exporting
// the NVML symbols we dlsym), so the loader, symbol binding and struct layouts are tested without
// a GPU.
#include "agent/nvml/nvml_dl.h"

#include <cstdlib>

#include "gtest/gtest.h"
#include "tests/agent/fixture_tree.h"

namespace prov::agent {
namespace {

class NvmlDlTest : public ::testing::Test {
 protected:
  void TearDown() override { ::unsetenv("FAKE_NVML_FIXTURE"); }
  testing::FixtureTree t_;
};

TEST_F(NvmlDlTest, ReadsEveryFieldThroughDlopen) {
  t_.Write(
      "nvml.txt",
      "device 0000:3b:00.0\nuuid GPU-11111111-2222-3333-4444-555555555555\nserial 1650923010001\n"
      "part 692-2G520-0200-000\nname NVIDIA H100 80GB HBM3\nmemory 85520809984 1048576000\n"
      "util 93\npower 612345\nenergy 987654321\nminor 2\nprocess 4242 1000000000\nprocess 4243 5\n"
      "device 0000:3c:00.0\nminor 3\n");
  ::setenv("FAKE_NVML_FIXTURE", t_.Path("nvml.txt").c_str(), 1);
  auto nvml = LoadNvml(FAKE_NVML_LIBRARY);
  ASSERT_TRUE(nvml.ok()) << nvml.status();
  EXPECT_EQ(*(*nvml)->DeviceCount(), 2u);
  auto info = (*nvml)->DeviceInfo("0000:3b:00.0");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->uuid, "GPU-11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(info->serial, "1650923010001");
  EXPECT_EQ(info->board_part_number, "692-2G520-0200-000");
  EXPECT_EQ(info->name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(info->memory_total_bytes, 85520809984u);
  EXPECT_EQ(info->memory_used_bytes, 1048576000u);
  EXPECT_EQ(info->utilization_gpu_pct, 93u);
  EXPECT_EQ(info->power_milliwatts, 612345u);
  EXPECT_EQ(info->energy_millijoules, 987654321u);
  EXPECT_EQ(info->minor_number, 2);
  ASSERT_EQ(info->compute_processes.size(), 2u);
  EXPECT_EQ(info->compute_processes[0].pid, 4242u);
  EXPECT_EQ(info->compute_processes[0].used_memory_bytes, 1000000000u);
  EXPECT_EQ(info->compute_processes[1].pid, 4243u);

  // A board that refuses optional fields: they stay empty, never invented.
  auto bare = (*nvml)->DeviceInfo("0000:3c:00.0");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->uuid, "");
  EXPECT_FALSE(bare->energy_millijoules.has_value());
  EXPECT_EQ(bare->minor_number, 3);

  EXPECT_TRUE(absl::IsNotFound((*nvml)->DeviceInfo("0000:99:00.0").status()));
}

TEST_F(NvmlDlTest, NoDriverIsUnavailableWithReason) {
  auto nvml = LoadNvml(FAKE_NVML_LIBRARY);  // FAKE_NVML_FIXTURE unset: driver not loaded
  ASSERT_FALSE(nvml.ok());
  EXPECT_TRUE(absl::IsUnavailable(nvml.status()));
  EXPECT_NE(nvml.status().message().find("nvmlInit_v2 failed: Driver Not Loaded"),
            std::string::npos)
      << nvml.status();
}

TEST_F(NvmlDlTest, MissingLibraryOrSymbols) {
  auto missing = LoadNvml(t_.Path("libnvidia-ml.so.1"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot load"), std::string::npos);
  auto libc = LoadNvml("libc.so.6");  // a real library without NVML symbols
  ASSERT_FALSE(libc.ok());
  EXPECT_NE(libc.status().message().find("lacks symbol nvmlInit_v2"), std::string::npos)
      << libc.status();
}

}  // namespace
}  // namespace prov::agent
