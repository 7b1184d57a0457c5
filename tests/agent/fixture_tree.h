// FixtureTree: builds fake sysfs/procfs trees in a temp dir for agent tests (removed on
// destruction).
//
//   FixtureTree t;
//   t.AddPci("0000:3b:00.0", 0x10de, 0x2330, 0x030200, "nvidia");
//   t.AddProcess({.pid = 42, .argv = {"torchrun", "train.py"}, .env = {{"RANK", "0"}},
//                 .cgroup = "0::/system.slice/slurmstepd.scope/job_7/step_0/user/task_0",
//                 .fds = {"/dev/nvidia0", "socket:[900]"}});
//   NodeCollectorOptions o; o.sysfs_root = t.sys(); o.procfs_root = t.proc();
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace prov::agent::testing {

class FixtureTree {
 public:
  struct Proc {
    uint32_t pid = 0;
    uint32_t ppid = 1;
    uint32_t uid = 1000;
    uint64_t start_ticks = 5000;
    std::vector<std::string> argv = {};
    std::vector<std::pair<std::string, std::string>> env = {};
    std::string cgroup = "0::/user.slice/user-1000.slice/session-1.scope\n";
    std::vector<std::string> fds = {};  // link targets: "/dev/nvidia0", "socket:[123]"
  };

  FixtureTree() {
    std::string tmpl = ::testing::TempDir() + "/agent_fixture_XXXXXX";
    char* dir = ::mkdtemp(tmpl.data());
    EXPECT_NE(dir, nullptr);
    root_ = tmpl;
  }
  ~FixtureTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  FixtureTree(const FixtureTree&) = delete;
  FixtureTree& operator=(const FixtureTree&) = delete;

  const std::string& root() const { return root_; }
  std::string sys() const { return root_ + "/sys"; }
  std::string proc() const { return root_ + "/proc"; }
  std::string Path(const std::string& rel) const { return root_ + "/" + rel; }

  void Write(const std::string& rel, const std::string& content) {
    std::filesystem::path p(Path(rel));
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }
  void Link(const std::string& rel, const std::string& target) {
    std::filesystem::path p(Path(rel));
    std::filesystem::create_directories(p.parent_path());
    ASSERT_EQ(::symlink(target.c_str(), p.c_str()), 0) << p;
  }

  void AddPci(const std::string& addr, uint32_t vendor, uint32_t device, uint32_t cls,
              const std::string& driver = "", uint32_t sub_vendor = 0, uint32_t sub_device = 0) {
    std::string d = "sys/bus/pci/devices/" + addr + "/";
    Write(d + "vendor", absl::StrFormat("0x%04x\n", vendor));
    Write(d + "device", absl::StrFormat("0x%04x\n", device));
    Write(d + "class", absl::StrFormat("0x%06x\n", cls));
    Write(d + "subsystem_vendor", absl::StrFormat("0x%04x\n", sub_vendor));
    Write(d + "subsystem_device", absl::StrFormat("0x%04x\n", sub_device));
    if (!driver.empty()) Link(d + "driver", "../../../../bus/pci/drivers/" + driver);
  }

  void AddNvidiaInfo(const std::string& pci, int minor, const std::string& uuid) {
    Write("proc/driver/nvidia/gpus/" + pci + "/information",
          absl::StrCat("Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 100\nGPU UUID: \t\t ", uuid,
                       "\nVideo BIOS: \t\t 96.00.74.00.01\nBus Type: \t\t PCIe\n"
                       "DMA Size: \t\t 52 bits\nDevice Minor: \t\t ",
                       minor, "\nGPU Excluded:\t\t No\n"));
  }

  void AddProcess(const Proc& p) {
    std::string d = absl::StrCat("proc/", p.pid, "/");
    std::string cmdline;
    for (const auto& a : p.argv) cmdline += a + '\0';
    Write(d + "cmdline", cmdline);
    std::string environ;
    for (const auto& [k, v] : p.env) environ += k + "=" + v + '\0';
    Write(d + "environ", environ);
    Write(d + "cgroup", p.cgroup);
    Write(d + "status",
          absl::StrCat("Name:\tpython3\nPid:\t", p.pid, "\nPPid:\t", p.ppid, "\nUid:\t", p.uid,
                       "\t", p.uid, "\t", p.uid, "\t", p.uid, "\n"));
    // Fields 3.. after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt
    // cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime ...
    Write(d + "stat", absl::StrCat(p.pid, " (py thon) S ", p.ppid,
                                   " 1 1 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 8 0 ", p.start_ticks,
                                   " 1000000 300 0\n"));
    std::filesystem::create_directories(Path(d + "fd"));
    for (size_t i = 0; i < p.fds.size(); ++i) Link(absl::StrCat(d, "fd/", i + 3), p.fds[i]);
  }

  void AddBoot(const std::string& boot_id, int64_t btime) {
    Write("proc/sys/kernel/random/boot_id", boot_id + "\n");
    Write("proc/stat", absl::StrCat("cpu  1 2 3 4\nbtime ", btime, "\nprocesses 10\n"));
  }

 private:
  std::string root_;
};

}  // namespace prov::agent::testing
