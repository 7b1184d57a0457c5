#include "tools/prov-sim/alibaba_trace.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace prov::sim {
namespace {

constexpr char kHeader[] =
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
    "deletion_time,scheduled_time\n";

TEST(AlibabaTraceTest, ParsesGpuPodsAndSkipsCpuOnly) {
  std::string csv = std::string(kHeader) +
                    "openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0\n"
                    "openb-pod-0001,6000,12288,0,0,,LS,Running,10,20,10\n"
                    "openb-pod-0002,6000,12288,8,460,V100M32,BE,Succeeded,100,3700,100\n";
  auto shapes = ParseAlibabaPods(csv, "t.csv");
  ASSERT_TRUE(shapes.ok()) << shapes.status();
  ASSERT_EQ(shapes->size(), 2u);
  EXPECT_EQ((*shapes)[0].name, "openb-pod-0000");
  EXPECT_EQ((*shapes)[0].lifetime_s, 12537496);
  EXPECT_EQ((*shapes)[1].num_gpu, 8u);
  EXPECT_EQ((*shapes)[1].gpu_milli, 460u);
  EXPECT_EQ((*shapes)[1].lifetime_s, 3600);
}

TEST(AlibabaTraceTest, ErrorsNameLineAndColumn) {
  auto bad = ParseAlibabaPods(std::string(kHeader) + "p,1,1,x,1,,LS,Running,0,1,0\n", "t.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "t.csv:2: num_gpu: not a count: 'x'");
  auto header = ParseAlibabaPods("name,foo\np,1\n", "t.csv");
  ASSERT_FALSE(header.ok());
  EXPECT_NE(header.status().message().find("lacks column 'num_gpu'"), std::string::npos);
  auto short_row = ParseAlibabaPods(std::string(kHeader) + "p,1,1\n", "t.csv");
  EXPECT_NE(short_row.status().message().find("t.csv:2: 3 columns"), std::string::npos);
}

TEST(AlibabaTraceTest, MissingFileSaysSo) {
  auto missing = ReadAlibabaPods("/nonexistent/alibaba_gpu_v2023_pods.csv");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("is missing"), std::string::npos);
}

// The real trace, when this machine has it (../shared/data is not part of the product).
TEST(AlibabaTraceTest, ReadsTheRealTraceWhenPresent) {
  const char* src = std::getenv("PROV_SOURCE_DIR");
  std::string path =
      std::string(src ? src : ".") + "/../shared/data/traces/alibaba_gpu_v2023_pods.csv";
  auto shapes = ReadAlibabaPods(path);
  if (absl::IsNotFound(shapes.status())) GTEST_SKIP() << "trace not present: " << path;
  ASSERT_TRUE(shapes.ok()) << shapes.status();
  EXPECT_EQ(shapes->size(), 8152u - 1088u);  // pods minus CPU-only pods
}

}  // namespace
}  // namespace prov::sim
