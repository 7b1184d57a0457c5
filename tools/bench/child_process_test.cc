#include "tools/bench/child_process.h"

#include <cstdlib>
#include <filesystem>

#include "gtest/gtest.h"

namespace prov::bench {
namespace {

std::string TempDir() {
  std::string dir = (std::filesystem::temp_directory_path() / "prov-bench-test-XXXXXX").string();
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  return dir;
}

TEST(ChildProcessTest, MissingBinaryIsNamed) {
  auto child = ChildProcess::Start("/nonexistent/provd", {}, "/dev/null");
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().message().find("/nonexistent/provd"), std::string::npos);
}

TEST(ChildProcessTest, ReadsThePortTheChildWrites) {
  const std::string dir = TempDir();
  const std::string port_file = dir + "/p";
  auto child = ChildProcess::Start("/bin/sh",
                                   {"-c", "echo 4321 > " + port_file + ".tmp && mv " + port_file +
                                              ".tmp " + port_file + " && exec sleep 60"},
                                   dir + "/log");
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<int> port = WaitForPortFile(port_file, absl::Seconds(30), **child);
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ(*port, 4321);
  EXPECT_TRUE((*child)->Running());
  EXPECT_TRUE((*child)->Stop(absl::Seconds(10)).ok());  // SIGTERM ends sleep
  EXPECT_FALSE((*child)->Running());
  std::filesystem::remove_all(dir);
}

TEST(ChildProcessTest, ChildThatDiesBeforeListeningIsReported) {
  const std::string dir = TempDir();
  auto child = ChildProcess::Start("/bin/sh", {"-c", "exit 3"}, dir + "/log");
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<int> port = WaitForPortFile(dir + "/p", absl::Seconds(30), **child);
  ASSERT_FALSE(port.ok());
  EXPECT_EQ(port.status().code(), absl::StatusCode::kUnavailable);
  absl::Status stop = (*child)->Stop(absl::Seconds(1));
  EXPECT_FALSE(stop.ok());
  EXPECT_NE(stop.message().find("exited with status 3"), std::string::npos) << stop;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace prov::bench
