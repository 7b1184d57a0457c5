// Issue 10 §1-2 end to end: the real prov-agent reports a node whose accelerators carry serials
// (driver sysfs) and SMBIOS identity to the real provd; provctl imports a declared inventory, lists
// it and shows one serial declared vs observed, named from provd's catalog by PCI ID.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/grpc/bearer_channel.h"
#include "common/proto_json.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "provenance/v1/audit.grpc.pb.h"
#include "provenance/v1/inventory.pb.h"
#include "tests/integration/provd_process.h"
#include "tests/integration/subprocess.h"
#include "tests/uplink/test_util.h"

namespace prov {
namespace {

using testing::BinDir;
using testing::RunCommand;

constexpr char kNodeId[] = "4c6f1e2d9a8b7c6d5e4f3a2b1c0d9e8f";  // the example node's machine-id

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::filesystem::remove(path);
  std::ofstream(path, std::ios::binary) << text;
}

class InventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() + "/provd");
    provd_ = std::make_unique<testing::ProvdProcess>(dir_.path() + "/provd", 0,
                                                     std::vector<std::string>{"--insecure"});
    ASSERT_TRUE(provd_->ok()) << provd_->log();
  }
  std::pair<int, std::string> Provctl(std::vector<std::string> args) {
    args.insert(args.begin(), {BinDir() + "/provctl", "--server", provd_->address(), "--insecure",
                               "--token-file", provd_->token_path()});
    return RunCommand(args);
  }
  template <typename T>
  T ProvctlJson(std::vector<std::string> args) {
    args.push_back("-o");
    args.push_back("json");
    auto [rc, out] = Provctl(args);
    EXPECT_EQ(rc, 0) << out;
    T message;
    absl::Status s = FromJson(out, &message);
    EXPECT_TRUE(s.ok()) << s << "\n" << out;
    return message;
  }

  // The committed example node, its second H100 turned into an Ascend 910B (PCI 19e5:d802), both
  // cards with a driver serial, the machine with SMBIOS identity; one report round to provd.
  void ReportOnce() {
    const std::string ex =
        std::string(std::getenv("PROV_SOURCE_DIR")) + "/tests/fixtures/agent/example-node";
    const std::string node = dir_.path() + "/node";
    std::filesystem::copy(
        ex, node,
        std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
    const std::string pci = node + "/sys/bus/pci/devices/";
    Write(pci + "0000:18:00.0/serial_number", "SN-H100-0001\n");
    Write(pci + "0000:3b:00.0/vendor", "0x19e5\n");
    Write(pci + "0000:3b:00.0/device", "0xd802\n");
    Write(pci + "0000:3b:00.0/serial_number", "SN-ASC-0002\n");
    Write(node + "/sys/class/dmi/id/product_uuid", "4C4C4544-0042-3510-8052-B4C04F384D32\n");
    Write(node + "/sys/class/dmi/id/chassis_serial", "7X2Y3Z2\n");
    testing::Subprocess agent(
        {BinDir() + "/prov-agent", "--server", provd_->address(), "--insecure", "--interval=1s",
         "--spool-dir", dir_.path() + "/spool", "--sysfs-root", node + "/sys", "--procfs-root",
         node + "/proc", "--machine-id-file", node + "/etc/machine-id", "--datacenter", "fra1",
         "--nvml-library", "/nonexistent/libnvidia-ml.so.1"},
        dir_.path() + "/agent.log");
    ASSERT_TRUE(agent.started());
    auto channel =
        CreateBearerChannel(provd_->address(), grpc::InsecureChannelCredentials(), provd_->token());
    auto audit = provenance::v1::AuditService::NewStub(channel);
    uint64_t stored = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline && stored < 1) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      provenance::v1::ListNodesResponse resp;
      if (audit->ListNodes(&ctx, {}, &resp).ok()) {
        for (const auto& n : resp.nodes()) {
          if (n.node_id() == kNodeId) stored = n.reports_stored();
        }
      }
      if (stored < 1) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    agent.Signal(SIGTERM);
    agent.Wait(std::chrono::seconds(15));
    ASSERT_GE(stored, 1u) << testing::ReadFile(dir_.path() + "/agent.log") << provd_->log();
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::ProvdProcess> provd_;
};

TEST_F(InventoryTest, ImportListAndShowDeclaredVersusObserved) {
  ReportOnce();
  const std::string csv = dir_.path() + "/netbox.csv";
  Write(csv, std::string("serial,uuid,declared_model,vendor_id,device_id,node_id,datacenter,rack,"
                         "account,status\n"
                         "SN-H100-0001,,H100 SXM5 80GB,0x10de,0x2330,") +
                 kNodeId + ",fra1,r12,acme,in_service\n" +
                 "SN-ASC-0002,,A100 SXM4 80GB,0x10de,0x20b2," + kNodeId +
                 ",fra1,r12,acme,in_service\n" +
                 "SN-SPARE-3,,H100 SXM5 80GB,4318,9008,,fra1,r13,,spare\n"
                 "SN-BAD,,H100,0xzz,,,fra1,r13,,in_service\n");
  auto [rc, out] = Provctl({"inventory", "import", csv});
  EXPECT_EQ(rc, 1) << "a refused row fails the import: " << out;
  EXPECT_NE(out.find("inventory version 1 from"), std::string::npos) << out;
  EXPECT_NE(out.find("3 rows accepted (3 new"), std::string::npos) << out;
  EXPECT_NE(out.find("line 5: field vendor_id: \"0xzz\" is not a PCI ID"), std::string::npos)
      << out;

  auto list = ProvctlJson<provenance::v1::ListInventoryResponse>(
      {"inventory", "list", "--datacenter", "fra1"});
  EXPECT_EQ(list.inventory_version(), 1);
  ASSERT_EQ(list.entries_size(), 3);
  auto on_node =
      ProvctlJson<provenance::v1::ListInventoryResponse>({"inventory", "list", "--node", kNodeId});
  EXPECT_EQ(on_node.entries_size(), 2);

  // The relabelled card: declared an A100, reported under the Ascend's PCI ID.
  auto show =
      ProvctlJson<provenance::v1::GetInventoryResponse>({"inventory", "show", "SN-ASC-0002"});
  ASSERT_TRUE(show.has_last_observed()) << show.DebugString();
  EXPECT_EQ(show.last_observed().node_id(), kNodeId);
  EXPECT_EQ(show.last_observed().datacenter(), "fra1");
  EXPECT_EQ(show.last_observed().matched_by(), "serial");
  EXPECT_EQ(show.last_observed().accelerator().pci_address(), "0000:3b:00.0");
  EXPECT_EQ(show.last_observed().accelerator().vendor_id(), 0x19e5u);
  EXPECT_EQ(show.last_observed().accelerator().model(), "Ascend 910B");
  EXPECT_EQ(show.last_observed().accelerator().fact_sources().at("serial"),
            provenance::v1::FACT_SOURCE_DRIVER_SYSFS);
  EXPECT_GT(show.last_observed().last_seen().seconds(), 0);
  std::string diffs;
  for (const auto& d : show.differences()) diffs += d + "\n";
  EXPECT_NE(diffs.find("pci_id: declared 10de:20b2 (A100 SXM4 80GB), observed 19e5:d802 "
                       "(Ascend 910B)"),
            std::string::npos)
      << diffs;
  EXPECT_NE(diffs.find("model: declared \"A100 SXM4 80GB\""), std::string::npos) << diffs;
  EXPECT_EQ(diffs.find("node_id"), std::string::npos) << "it is on its declared node: " << diffs;
  auto [show_rc, table] = Provctl({"inventory", "show", "SN-ASC-0002"});
  ASSERT_EQ(show_rc, 0) << table;
  EXPECT_NE(table.find("last observed: "), std::string::npos) << table;
  EXPECT_NE(table.find("Ascend 910B"), std::string::npos) << table;

  // The matching card agrees; the spare was never observed.
  auto h100 =
      ProvctlJson<provenance::v1::GetInventoryResponse>({"inventory", "show", "SN-H100-0001"});
  EXPECT_EQ(h100.differences_size(), 0) << h100.DebugString();
  EXPECT_EQ(h100.last_observed().accelerator().model(), "H100 SXM5 80GB");
  auto [spare_rc, spare] = Provctl({"inventory", "show", "SN-SPARE-3"});
  ASSERT_EQ(spare_rc, 0) << spare;
  EXPECT_NE(spare.find("never observed"), std::string::npos) << spare;
  auto [missing_rc, missing] = Provctl({"inventory", "show", "SN-NOPE"});
  EXPECT_NE(missing_rc, 0);
  EXPECT_NE(missing.find("SN-NOPE: not in the declared inventory"), std::string::npos) << missing;

  // Version 2 moves the spare to another rack; what version 1 declared is kept.
  const std::string v2 = dir_.path() + "/netbox-v2.jsonl";
  Write(v2,
        "{\"serial\": \"SN-SPARE-3\", \"rack\": \"r14\", \"datacenter\": \"fra1\", "
        "\"status\": \"spare\", \"vendor_id\": 4318, \"device_id\": \"0x2330\"}\n");
  auto [rc2, out2] = Provctl({"inventory", "import", v2});
  EXPECT_EQ(rc2, 0) << out2;
  EXPECT_NE(out2.find("inventory version 2"), std::string::npos) << out2;
  EXPECT_NE(out2.find("(0 new, 1 changed, 0 unchanged)"), std::string::npos) << out2;
  auto spare2 =
      ProvctlJson<provenance::v1::GetInventoryResponse>({"inventory", "show", "SN-SPARE-3"});
  EXPECT_EQ(spare2.current().declared().rack(), "r14");
  EXPECT_EQ(spare2.current().version(), 2);
  ASSERT_EQ(spare2.history_size(), 2);
  EXPECT_EQ(spare2.history(1).declared().rack(), "r13");
  auto all = ProvctlJson<provenance::v1::ListInventoryResponse>({"inventory", "list"});
  EXPECT_EQ(all.entries_size(), 3) << "serials the file does not name keep their rows";

  // A file that is not UTF-8 is refused whole: nothing imported, no version 3.
  const std::string latin1 = dir_.path() + "/latin1.csv";
  Write(latin1, "serial,datacenter\nSN-X,Z\xfcrich\n");
  auto [rc3, out3] = Provctl({"inventory", "import", latin1});
  EXPECT_NE(rc3, 0);
  EXPECT_NE(out3.find("nothing imported"), std::string::npos) << out3;
  EXPECT_NE(out3.find("line 2"), std::string::npos) << out3;
  EXPECT_EQ(
      ProvctlJson<provenance::v1::ListInventoryResponse>({"inventory", "list"}).inventory_version(),
      2);

  // Each import is on the audit log.
  auto [log_rc, log] = Provctl({"audit", "log", "--action", "inventory."});
  ASSERT_EQ(log_rc, 0) << log;
  EXPECT_NE(log.find("inventory.import"), std::string::npos) << log;
}

}  // namespace
}  // namespace prov
