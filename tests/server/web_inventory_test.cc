// The hardware page's data over real HTTP against an in-process provd (issue 10): the node view's
// hardware identity and its change (old -> new), and the inventory view, declared vs observed per
// data centre and rack, paged with a token, bad tokens and sizes refused naming the field.
#include <memory>
#include <set>
#include <string>

#include "common/grpc/bearer_channel.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "provenance/v1/compliance.grpc.pb.h"
#include "provenance/v1/inventory.grpc.pb.h"
#include "server/provd_server.h"
#include "tests/server/agent_stream.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using nlohmann::json;
using namespace provenance::v1;

const absl::Time kT0 = absl::FromUnixSeconds(1'796'083'200);  // 2026-12-01 00:00 UTC

// Node `node` in fra1 with two H100s whose serials are <node>-S0 and <node>-S1.
NodeReport Report(const std::string& node, const std::string& boot, uint64_t seq,
                  const std::string& system_uuid) {
  NodeReport r = testing::MakeReport(node, boot, seq, kT0 + absl::Seconds(10 * seq), "fra1");
  for (int i = 0; i < r.accelerators_size(); ++i) {
    r.mutable_accelerators(i)->set_serial(node + "-S" + std::to_string(i));
  }
  r.mutable_node()->mutable_hardware()->set_system_uuid(system_uuid);
  r.mutable_node()->mutable_hardware()->set_board_serial("BRD-" + node);
  return r;
}

class WebInventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ProvdOptions o;
    o.data_dir = dir_.path() + "/data";
    o.web_address = "127.0.0.1:0";
    auto server = ProvdServer::Start(std::move(o));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    address_ = "127.0.0.1:" + std::to_string(server_->port());
    admin_ = CreateBearerChannel(address_, grpc::InsecureChannelCredentials(),
                                 server_->internal_token());
    grpc::ClientContext ctx;
    IssueTokenRequest req;
    req.set_name("vera");
    req.set_role(ROLE_VIEWER);
    IssueTokenResponse resp;
    ASSERT_TRUE(AccessService::NewStub(admin_)->IssueToken(&ctx, req, &resp).ok());
    viewer_ = resp.token();
    http_ = std::make_unique<httplib::Client>("127.0.0.1", server_->web_port());
    http_->set_read_timeout(30, 0);
  }
  void Send(const std::vector<NodeReport>& reports) {
    testing::AgentStream stream(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    for (const auto& r : reports) stream.Write(r);
    ASSERT_TRUE(stream.WaitCommitted(reports.back().node().boot_id(), reports.back().seq()));
    stream.Finish();
  }
  void Import(const std::string& csv) {
    grpc::ClientContext ctx;
    ImportInventoryRequest req;
    req.set_source_name("netbox.csv");
    req.set_content(csv);
    ImportInventoryResponse resp;
    grpc::Status s = InventoryService::NewStub(admin_)->ImportInventory(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(resp.errors_size(), 0) << resp.errors(0);
  }
  json GetJson(const std::string& path, int want_status = 200) {
    httplib::Headers headers = {{"Authorization", "Bearer " + viewer_}};
    auto r = http_->Get(path.c_str(), headers);
    EXPECT_TRUE(r) << path;
    if (!r) return json();
    EXPECT_EQ(r->status, want_status) << path << ": " << r->body;
    return json::parse(r->body);
  }

  testing::TempDir dir_;
  std::unique_ptr<ProvdServer> server_;
  std::string address_;
  std::shared_ptr<grpc::Channel> admin_;
  std::string viewer_;
  std::unique_ptr<httplib::Client> http_;
};

TEST_F(WebInventoryTest, NodeViewShowsTheHardwareIdentityAndItsChange) {
  Send({Report("n1", "boot-a", 1, "uuid-old"), Report("n1", "boot-a", 2, "uuid-old")});
  json node = GetJson("/api/nodes/n1")["node"];
  EXPECT_EQ(node["hardware"]["hardware"]["system_uuid"], "uuid-old");
  EXPECT_EQ(node["hardware"]["hardware"]["board_serial"], "BRD-n1");
  EXPECT_TRUE(node["hardware"]["changes"].empty());  // the gateway prints defaults too

  // Another machine reports under the same node id.
  Send({Report("n1", "boot-b", 3, "uuid-new")});
  node = GetJson("/api/nodes/n1")["node"];
  EXPECT_EQ(node["hardware"]["hardware"]["system_uuid"], "uuid-new");
  EXPECT_EQ(node["hardware"]["since_boot_id"], "boot-b");
  EXPECT_EQ(node["hardware"]["changes_total"], 1);
  ASSERT_EQ(node["hardware"]["changes"].size(), 1u);
  const json& change = node["hardware"]["changes"][0];
  EXPECT_EQ(change["field"], "system_uuid");
  EXPECT_EQ(change["old_value"], "uuid-old");
  EXPECT_EQ(change["new_value"], "uuid-new");
  EXPECT_EQ(change["changed_at"], "2026-12-01T00:00:30Z");
  EXPECT_EQ(change["previous_seen"], "2026-12-01T00:00:20Z");
}

TEST_F(WebInventoryTest, InventoryViewPerDatacenterAndRackPagedWithObservations) {
  // n1 reports its two cards (n1-S1 declared an A100, reported as an H100); n2 reports two cards:
  // n2-S0, declared on n1, and n2-S1, declared nowhere. X-DARK never reports.
  Send({Report("n1", "boot-a", 1, "u1")});
  Send({Report("n2", "boot-c", 1, "u2")});
  Import(
      "serial,declared_model,vendor_id,device_id,node_id,datacenter,rack,account,status\n"
      "n1-S0,H100 SXM5 80GB,0x10de,0x2330,n1,fra1,r01,acme,in_service\n"
      "n1-S1,A100 SXM4 80GB,0x10de,0x20b2,n1,fra1,r01,acme,in_service\n"
      "n2-S0,H100 SXM5 80GB,0x10de,0x2330,n1,fra1,r01,,in_service\n"
      "X-DARK,H100 SXM5 80GB,0x10de,0x2330,n3,fra1,r02,,in_service\n"
      "X-SPARE,H100 SXM5 80GB,0x10de,0x2330,,fra1,r02,,spare\n"
      "Y-1,H100 SXM5 80GB,0x10de,0x2330,m1,ams1,r9,,in_service\n");

  json summary = GetJson("/api/inventory-view");
  EXPECT_EQ(summary["inventory_version"], "1");
  ASSERT_EQ(summary["places"].size(), 2u) << summary.dump();
  EXPECT_TRUE(summary["rows"].empty());
  const json& ams = summary["places"][0];
  const json& fra = summary["places"][1];
  EXPECT_EQ(ams["datacenter"], "ams1");
  EXPECT_EQ(ams["declared"], 1);
  EXPECT_EQ(ams["in_service_unseen"], 1);
  EXPECT_EQ(fra["datacenter"], "fra1");
  EXPECT_EQ(fra["declared"], 5);
  EXPECT_EQ(fra["in_service"], 4);
  EXPECT_EQ(fra["observed"], 3);
  EXPECT_EQ(fra["observed_elsewhere"], 1);  // n2-S0: declared on n1, reported by n2
  EXPECT_EQ(fra["in_service_unseen"], 1);   // X-DARK (the spare is not counted)

  json page1 = GetJson("/api/inventory-view?datacenter=fra1&page_size=2");
  ASSERT_EQ(page1["places"].size(), 2u);
  EXPECT_EQ(page1["places"][0]["rack"], "r01");
  EXPECT_EQ(page1["places"][0]["declared"], 3);
  EXPECT_EQ(page1["places"][1]["rack"], "r02");
  EXPECT_EQ(page1["observed_accelerators"], 4);
  EXPECT_EQ(page1["observed_undeclared"], 1);  // n2-S1
  ASSERT_EQ(page1["rows"].size(), 2u);
  ASSERT_FALSE(page1["next_page_token"].get<std::string>().empty());
  std::set<std::string> serials;
  std::string token = page1["next_page_token"];
  for (const json& row : page1["rows"]) serials.insert(row["entry"]["declared"]["serial"]);
  json page2 = GetJson("/api/inventory-view?datacenter=fra1&page_size=2&page_token=" + token);
  ASSERT_EQ(page2["rows"].size(), 2u);
  token = page2["next_page_token"];
  json page3 = GetJson("/api/inventory-view?datacenter=fra1&page_size=2&page_token=" + token);
  ASSERT_EQ(page3["rows"].size(), 1u);
  EXPECT_EQ(page3["next_page_token"], "");
  for (const json* page : {&page2, &page3}) {
    for (const json& row : (*page)["rows"]) serials.insert(row["entry"]["declared"]["serial"]);
  }
  EXPECT_EQ(serials, (std::set<std::string>{"n1-S0", "n1-S1", "n2-S0", "X-DARK", "X-SPARE"}));

  // Each row: declared vs where it was last observed and as what (provd's catalog name).
  json moved, relabelled;
  for (const json* page : {&page1, &page2, &page3}) {
    for (const json& row : (*page)["rows"]) {
      if (row["entry"]["declared"]["serial"] == "n2-S0") moved = row;
      if (row["entry"]["declared"]["serial"] == "n1-S1") relabelled = row;
    }
  }
  EXPECT_EQ(moved["last_observed"]["node_id"], "n2");
  EXPECT_EQ(moved["last_observed"]["matched_by"], "serial");
  EXPECT_NE(moved["differences"].dump().find("node_id: declared n1, observed on n2"),
            std::string::npos)
      << moved.dump();
  EXPECT_EQ(relabelled["last_observed"]["accelerator"]["model"], "H100 SXM5 80GB");
  EXPECT_NE(relabelled["differences"].dump().find("A100 SXM4 80GB"), std::string::npos);

  // One rack only.
  json r02 = GetJson("/api/inventory-view?datacenter=fra1&rack=r02");
  ASSERT_EQ(r02["rows"].size(), 2u);
  EXPECT_EQ(r02["rows"][0]["entry"]["declared"]["serial"], "X-SPARE");  // node_id "" sorts first
  EXPECT_TRUE(!r02["rows"][0].contains("last_observed") ||
              r02["rows"][0]["last_observed"].is_null());
}

TEST_F(WebInventoryTest, BadViewRequestsNameTheField) {
  json bad = GetJson("/api/inventory-view?datacenter=fra1&page_token=zz", 400);
  EXPECT_NE(bad["error"]["message"].get<std::string>().find("page_token"), std::string::npos);
  bad = GetJson("/api/inventory-view?datacenter=fra1&page_token=414243", 400);
  EXPECT_NE(bad["error"]["message"].get<std::string>().find("page_token"), std::string::npos);
  bad = GetJson("/api/inventory-view?datacenter=fra1&page_size=5000", 400);
  EXPECT_NE(bad["error"]["message"].get<std::string>().find("page_size"), std::string::npos);
  bad = GetJson("/api/inventory-view?rack=r01", 400);
  EXPECT_NE(bad["error"]["message"].get<std::string>().find("datacenter"), std::string::npos);
  auto anonymous = http_->Get("/api/inventory-view");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
}

}  // namespace
}  // namespace prov::server
