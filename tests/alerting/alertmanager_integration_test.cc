// provd in-process (real clock, real SQLite) posting to a REAL Alertmanager
// (/usr/bin/prometheus-alertmanager on loopback), whose webhook receiver is this test: a flag's
// firing notification carries the expected labels and annotations; closing the case delivers a
// resolved notification; an Alertmanager that is down when the flag appears only delays it; a
// case closed while Alertmanager and provd were both down is still resolved once they are back.
#include <fstream>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "common/grpc/bearer_channel.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "provenance/v1/analysis.grpc.pb.h"
#include "provenance/v1/compliance.grpc.pb.h"
#include "server/provd_server.h"
#include "tests/alerting/alertmanager_harness.h"
#include "tests/server/agent_stream.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"

namespace prov::server {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using namespace provenance::v1;

constexpr absl::Duration kWait = absl::Seconds(30);

// A node with two Huawei Ascend 910B: the built-in policy's restricted_hardware rule (critical).
NodeReport AscendReport(uint64_t seq) {
  NodeReport r = testing::MakeReport("n-910", "boot-1", seq, RealClock::Get().Now(), "dc-east");
  for (auto& a : *r.mutable_accelerators()) {
    a.set_vendor_id(0x19e5);
    a.set_device_id(0xd802);
    a.set_vendor("huawei");
    a.set_model("Ascend 910B");
    a.set_family("ascend");
  }
  return r;
}

// The notification's alert for `flag_id` with `status` ("firing"/"resolved"), or null.
const nlohmann::json* AlertIn(const nlohmann::json& n, const std::string& flag_id,
                              const std::string& status) {
  if (!n.is_object() || !n.contains("alerts")) return nullptr;
  for (const auto& a : n["alerts"]) {
    if (a["labels"].value("flag_id", "") == flag_id && a.value("status", "") == status) return &a;
  }
  return nullptr;
}

class AlertmanagerIntegrationTest : public ::testing::Test {
 protected:
  std::unique_ptr<ProvdServer> StartProvd(const std::string& am_url) {
    ProvdOptions o;
    o.data_dir = dir_.path() + "/data";
    o.metrics_address = "127.0.0.1:0";
    o.alertmanager_urls = {am_url};
    o.alert_min_severity = "critical";
    o.alert_resend_interval = absl::Seconds(1);  // also the longest retry backoff
    o.dashboard_url = "http://provd.example:8080";
    o.alert_runbook_url = "http://provd.example:8080/runbooks/flags.md";
    auto server = ProvdServer::Start(std::move(o));
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return nullptr;
    // provd's own admin token: agents' AgentGateway ignores it, AnalysisService and CaseService
    // require one.
    channel_ = CreateBearerChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                   grpc::InsecureChannelCredentials(), (*server)->internal_token());
    return *std::move(server);
  }
  // Sends one Ascend report and returns the flag it raised.
  std::string RaiseFlag(ProvdServer& server, uint64_t seq) {
    testing::AgentStream stream(channel_);
    stream.Write(AscendReport(seq));
    EXPECT_TRUE(stream.WaitCommitted("boot-1", seq));
    stream.Finish();
    server.FlushAnalysis();
    return FlagId();
  }
  std::string FlagId() {
    auto stub = AnalysisService::NewStub(channel_);
    grpc::ClientContext ctx;
    ListFlagsRequest req;
    req.set_rule("restricted_hardware:");
    ListFlagsResponse resp;
    grpc::Status s = stub->ListFlags(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_THAT(resp.flags(), SizeIs(1));
    return resp.flags_size() > 0 ? resp.flags(0).flag_id() : "";
  }
  // Closes the case the way an analyst does (CaseService.UpdateCase "resolve").
  void ResolveCase(const std::string& flag_id) {
    auto stub = CaseService::NewStub(channel_);
    grpc::ClientContext ctx;
    UpdateCaseRequest req;
    req.set_flag_id(flag_id);
    req.set_action("resolve");
    req.set_disposition(DISPOSITION_FALSE_POSITIVE);
    req.set_note("lab cluster, known");
    Case c;
    grpc::Status s = stub->UpdateCase(&ctx, req, &c);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  nlohmann::json WaitForAlert(const std::string& flag_id, const std::string& status) {
    return hook_.WaitFor(
        [&](const nlohmann::json& n) { return AlertIn(n, flag_id, status) != nullptr; }, kWait);
  }
  double Metric(ProvdServer& server, const std::string& line_prefix) {
    const std::string text = testing::HttpGet(server.metrics_port(), "/metrics");
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (absl::StartsWith(line, line_prefix)) {
        return std::stod(std::string(line.substr(line.rfind(' ') + 1)));
      }
    }
    return -1;
  }

  // The metric's value once it satisfies `ok`, or its last value after kWait. The notifier
  // updates its gauges just after Alertmanager answers, which can be after the webhook hears.
  double WaitMetric(ProvdServer& server, const std::string& line_prefix,
                    const std::function<bool(double)>& ok) {
    const absl::Time deadline = absl::Now() + kWait;
    double v = Metric(server, line_prefix);
    while (!ok(v) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));  // polling a real server's metrics, bounded
      v = Metric(server, line_prefix);
    }
    return v;
  }
  static bool Is0(double v) { return v == 0; }
  static bool Is1(double v) { return v == 1; }

  testing::TempDir dir_;
  std::shared_ptr<grpc::Channel> channel_;
  testing::WebhookRecorder hook_;
};

TEST_F(AlertmanagerIntegrationTest, AFlagFiresWithItsLabelsAndAnnotations) {
  testing::Alertmanager am(dir_.path(), hook_.url());
  ASSERT_TRUE(am.Start()) << am.log();
  auto provd = StartProvd(am.url());
  ASSERT_NE(provd, nullptr);
  const absl::Time start = absl::Now();
  const std::string flag_id = RaiseFlag(*provd, 1);
  ASSERT_FALSE(flag_id.empty());

  nlohmann::json n = hook_.WaitFor(
      [&](const nlohmann::json& n) { return AlertIn(n, flag_id, "firing") != nullptr; }, kWait);
  ASSERT_FALSE(n.is_null()) << "no firing notification; Alertmanager log:\n" << am.log();
  std::fprintf(stderr, "firing notification %.2f s after the report\n",
               absl::ToDoubleSeconds(absl::Now() - start));
  const nlohmann::json a = *AlertIn(n, flag_id, "firing");
  EXPECT_EQ(n["receiver"], "hook");
  EXPECT_EQ(a["labels"]["alertname"], "ProvenanceFlag");
  EXPECT_EQ(a["labels"]["severity"], "critical");
  EXPECT_EQ(a["labels"]["rule"], "restricted_hardware:huawei-ascend");
  EXPECT_EQ(a["labels"]["rule_kind"], "restricted_hardware");
  EXPECT_EQ(a["labels"]["accounts"], "acme");
  EXPECT_EQ(a["labels"]["datacenters"], "dc-east");
  EXPECT_THAT(a["annotations"]["summary"].get<std::string>(), HasSubstr("Ascend 910B"));
  EXPECT_EQ(a["annotations"]["flag_url"], "http://provd.example:8080/#/flag/" + flag_id);
  EXPECT_EQ(a["annotations"]["runbook_url"], "http://provd.example:8080/runbooks/flags.md");
  EXPECT_EQ(a["annotations"]["case_status"], "open");
  EXPECT_FALSE(a["annotations"].value("description", "").empty());
  EXPECT_EQ(a["generatorURL"], "http://provd.example:8080/#/flag/" + flag_id);
  EXPECT_EQ(WaitMetric(*provd, "prov_alerts_firing ", Is1), 1);
  EXPECT_GE(
      WaitMetric(*provd, "prov_alert_posts_total{alertmanager=\"" + am.url() + "\",result=\"ok\"}",
                 [](double v) { return v >= 1; }),
      1);
  EXPECT_EQ(WaitMetric(*provd, "prov_alertmanager_up{alertmanager=\"" + am.url() + "\"}", Is1), 1);

  // Closing the case resolves the alert.
  const absl::Time resolved_at = absl::Now();
  ResolveCase(flag_id);
  nlohmann::json done = WaitForAlert(flag_id, "resolved");
  ASSERT_FALSE(done.is_null()) << "no resolved notification; Alertmanager log:\n" << am.log();
  std::fprintf(stderr, "resolved notification %.2f s after the case was closed\n",
               absl::ToDoubleSeconds(absl::Now() - resolved_at));
  EXPECT_EQ(done["status"], "resolved");
  const nlohmann::json& r = *AlertIn(done, flag_id, "resolved");
  EXPECT_EQ(r["annotations"]["case_status"], "resolved");
  EXPECT_EQ(r["annotations"]["disposition"], "false_positive");
  EXPECT_EQ(r["labels"], a["labels"]);  // the same alert, not a new one
  EXPECT_EQ(WaitMetric(*provd, "prov_alerts_firing ", Is0), 0);
  EXPECT_EQ(WaitMetric(*provd, "prov_alert_resolutions_pending ", Is0), 0);
  provd->Shutdown();
}

TEST_F(AlertmanagerIntegrationTest, ACaseClosedWhileAlertmanagerAndProvdWereDownIsResolvedLater) {
  testing::Alertmanager am(dir_.path(), hook_.url());
  ASSERT_TRUE(am.Start()) << am.log();
  auto provd = StartProvd(am.url());
  ASSERT_NE(provd, nullptr);
  const std::string flag_id = RaiseFlag(*provd, 1);
  ASSERT_FALSE(WaitForAlert(flag_id, "firing").is_null()) << am.log();
  // The hook has the notification; wait until Alertmanager has taken our answer too, so its
  // notification log (kept across its restart) says the firing alert was notified.
  ASSERT_TRUE(am.WaitForLog("Notify success", 1, kWait)) << am.log();

  am.Stop();             // Alertmanager goes down (its notification log is kept on disk)...
  ResolveCase(flag_id);  // ...the case is closed...
  const std::string pending = "prov_alert_resolutions_pending ";
  EXPECT_EQ(WaitMetric(*provd, pending, Is1), 1);
  provd->Shutdown();  // ...and provd restarts before Alertmanager is back.
  provd = StartProvd(am.url());
  ASSERT_NE(provd, nullptr);

  ASSERT_TRUE(am.Start()) << am.log();
  nlohmann::json n = WaitForAlert(flag_id, "resolved");
  ASSERT_FALSE(n.is_null()) << "the resolution was lost; Alertmanager log:\n" << am.log();
  EXPECT_EQ(WaitMetric(*provd, pending, Is0), 0);
  provd->Shutdown();
}

TEST_F(AlertmanagerIntegrationTest, AlertmanagerDownDelaysTheAlertButDoesNotLoseIt) {
  testing::Alertmanager am(dir_.path(), hook_.url());  // not started yet
  auto provd = StartProvd(am.url());
  ASSERT_NE(provd, nullptr);
  const std::string flag_id = RaiseFlag(*provd, 1);
  ASSERT_FALSE(flag_id.empty());
  const std::string errors =
      "prov_alert_posts_total{alertmanager=\"" + am.url() + "\",result=\"error\"}";
  ASSERT_GE(WaitMetric(*provd, errors, [](double v) { return v >= 2; }), 2)
      << "posts to the stopped Alertmanager should fail";
  EXPECT_EQ(Metric(*provd, "prov_alertmanager_up{alertmanager=\"" + am.url() + "\"}"), 0);
  EXPECT_THAT(hook_.all(), SizeIs(0));

  ASSERT_TRUE(am.Start()) << am.log();
  const absl::Time up = absl::Now();
  nlohmann::json n = WaitForAlert(flag_id, "firing");
  ASSERT_FALSE(n.is_null()) << "the alert was lost; Alertmanager log:\n" << am.log();
  std::fprintf(stderr, "delivered %.2f s after Alertmanager came up\n",
               absl::ToDoubleSeconds(absl::Now() - up));
  EXPECT_EQ((*AlertIn(n, flag_id, "firing"))["labels"]["severity"], "critical");
  provd->Shutdown();
}

}  // namespace
}  // namespace prov::server
