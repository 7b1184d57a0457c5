#include "tools/bench/process_tree_cpu.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace prov::bench {
namespace {

// A /proc/<pid>/stat line: comm with a space and a ')', then ppid, utime, stime, cutime, cstime.
std::string Stat(int pid, int ppid, int utime, int stime, int cutime, int cstime) {
  return absl::StrCat(pid, " (post gres) x) S ", ppid, " 4242 4242 0 -1 4194560 1234 0 0 0 ", utime,
                      " ", stime, " ", cutime, " ", cstime,
                      " 20 0 9 0 12345 123456789 2345 18446744073709551615 1 1 0\n");
}

TEST(ProcessTreeCpuTest, ParsesPpidOwnAndReapedChildrenTicks) {
  absl::StatusOr<StatTimes> t = ParseStatTimes(Stat(7, 3, 700, 55, 40, 2));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->ppid, 3);
  EXPECT_EQ(t->own_ticks, 755u);
  EXPECT_EQ(t->children_ticks, 42u);
}

TEST(ProcessTreeCpuTest, TruncatedOrGarbledStatIsAnError) {
  EXPECT_FALSE(ParseStatTimes("no paren").ok());
  EXPECT_FALSE(ParseStatTimes("1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12").ok());
  EXPECT_FALSE(ParseStatTimes("1 (x) S one 2 3 4 5 6 7 8 9 10 11 12 13 14").ok());
}

class FakeProc {
 public:
  FakeProc() {
    root_ = std::filesystem::temp_directory_path() /
            absl::StrCat("prov-ptc-", getpid(), "-", reinterpret_cast<uintptr_t>(this));
    std::filesystem::create_directories(root_);
  }
  ~FakeProc() { std::filesystem::remove_all(root_); }
  void Add(const std::string& name, const std::string& stat) {
    std::filesystem::create_directories(root_ / name);
    if (!stat.empty()) std::ofstream(root_ / name / "stat") << stat;
  }
  std::string root() const { return root_.string(); }

 private:
  std::filesystem::path root_;
};

TEST(ProcessTreeCpuTest, SumsRootReapedChildrenAndLiveChildrenOnly) {
  FakeProc proc;
  proc.Add("100", Stat(100, 1, 10, 5, 300, 20));  // postmaster: 15 own + 320 reaped
  proc.Add("101", Stat(101, 100, 50, 50, 0, 0));  // backend: 100
  proc.Add("102", Stat(102, 100, 7, 0, 0, 0));    // walwriter: 7
  proc.Add("103", Stat(103, 1, 999, 999, 0, 0));  // someone else's process
  proc.Add("104", "");                            // exited while listed: no stat
  proc.Add("self", Stat(1, 0, 999, 999, 0, 0));   // not a pid
  absl::StatusOr<double> cpu = ReadProcessTreeCpu(proc.root(), 100);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_DOUBLE_EQ(*cpu, 442.0 / static_cast<double>(sysconf(_SC_CLK_TCK)));
}

TEST(ProcessTreeCpuTest, MissingRootIsAnError) {
  FakeProc proc;
  EXPECT_FALSE(ReadProcessTreeCpu(proc.root(), 100).ok());
}

}  // namespace
}  // namespace prov::bench
