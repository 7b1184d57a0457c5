// deploy/alertmanager/alertmanager.yml loaded by a REAL Alertmanager: provd's alerts (built by
// the notifier's own code, posted by its HTTP poster) are inhibited as its comments say -- a
// critical flag of a bundle suppresses that bundle's lower flags, and nothing without a bundle.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/alerting/alert_builder.h"
#include "server/alerting/alert_poster.h"
#include "tests/alerting/alertmanager_harness.h"
#include "tests/server/temp_dir.h"

namespace prov::server {
namespace {

using namespace provenance::v1;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json Alert(const std::string& id, Severity severity, const std::string& bundle) {
  Flag f;
  f.set_flag_id(id);
  f.set_rule(bundle.empty() ? "restricted_hardware:huawei-ascend" : "compute_tier:tier-x");
  f.set_severity(severity);
  f.set_status(FLAG_STATUS_OPEN);
  f.set_summary("flag " + id);
  f.set_bundle_id(bundle);
  f.add_accounts("acme");
  return FlagAlert(f, FlagAlertLabels(f), {}, absl::Now() + absl::Minutes(5));
}

TEST(DeployAlertmanagerConfigTest, ACriticalFlagInhibitsTheLowerFlagsOfItsBundleOnly) {
  const char* src = std::getenv("PROV_SOURCE_DIR");
  const std::string config =
      ReadFile(std::string(src != nullptr ? src : ".") + "/deploy/alertmanager/alertmanager.yml");
  ASSERT_FALSE(config.empty());
  testing::TempDir dir;
  auto am = testing::Alertmanager::WithConfig(dir.path(), config);
  ASSERT_TRUE(am.Start()) << am.log();

  nlohmann::json batch = nlohmann::json::array({
      Alert("F-1", SEVERITY_CRITICAL, "B-1"),  // inhibits F-2
      Alert("F-2", SEVERITY_HIGH, "B-1"),
      Alert("F-3", SEVERITY_HIGH, "B-2"),   // another bundle: not inhibited
      Alert("F-4", SEVERITY_CRITICAL, ""),  // a node flag, no bundle...
      Alert("F-5", SEVERITY_HIGH, ""),      // ...does not inhibit this one
  });
  HttpAlertPoster poster;
  ASSERT_TRUE(poster.Post(am.url(), batch.dump()).ok());

  httplib::Client client("127.0.0.1", am.port());
  std::map<std::string, std::string> state;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    auto res = client.Get("/api/v2/alerts");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    state.clear();
    for (const auto& a : nlohmann::json::parse(res->body)) {
      state[a["labels"]["flag_id"]] = a["status"]["state"];
    }
    if (state.size() == 5 && state["F-2"] == "suppressed") break;
    absl::SleepFor(absl::Milliseconds(100));  // a real server: poll, bounded
  }
  EXPECT_EQ(state["F-1"], "active");
  EXPECT_EQ(state["F-2"], "suppressed");
  EXPECT_EQ(state["F-3"], "active");
  EXPECT_EQ(state["F-4"], "active");
  EXPECT_EQ(state["F-5"], "active");
}

}  // namespace
}  // namespace prov::server
