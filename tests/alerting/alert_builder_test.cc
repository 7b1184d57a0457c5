// Labels and annotations of the alert made from a flag; URL checks of the HTTP poster.
#include "server/alerting/alert_builder.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/alerting/alert_poster.h"

namespace prov::server {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using namespace provenance::v1;

Flag SampleFlag() {
  Flag f;
  f.set_flag_id("F-000007");
  f.set_rule("restricted_hardware:huawei-ascend");
  f.set_severity(SEVERITY_CRITICAL);
  f.set_status(FLAG_STATUS_ESCALATED);
  f.set_summary("Node n-17 has restricted accelerators");
  f.add_accounts("zeta");
  f.add_accounts("alpha");
  f.add_accounts("alpha");
  f.add_datacenters("dc-west");
  f.add_datacenters("dc-east");
  f.add_evidence()->set_sentence("n-17 (dc-east) has 8 Ascend 910B (0x19e5:0xd802).");
  f.add_evidence()->set_sentence("Workload k8s:x of account alpha uses them.");
  f.mutable_training_flop()->set_low(1.25e20);
  f.mutable_training_flop()->set_high(3.5e20);
  f.mutable_training_flop()->set_method("accel_seconds*peak*tensor_activity");
  f.set_policy_version("2026-01");
  f.set_revision(9);
  f.mutable_raised_at()->set_seconds(1764000000);
  f.set_assignee("dana");
  return f;
}

TEST(AlertBuilderTest, LabelsIdentifyTheFlagAndRouteIt) {
  AlertLabels l = FlagAlertLabels(SampleFlag());
  EXPECT_EQ(l.at("alertname"), "ProvenanceFlag");
  EXPECT_EQ(l.at("flag_id"), "F-000007");
  EXPECT_EQ(l.at("severity"), "critical");
  EXPECT_EQ(l.at("rule"), "restricted_hardware:huawei-ascend");
  EXPECT_EQ(l.at("rule_kind"), "restricted_hardware");
  EXPECT_EQ(l.at("accounts"), "alpha,zeta");  // sorted, de-duplicated
  EXPECT_EQ(l.at("datacenters"), "dc-east,dc-west");
  EXPECT_FALSE(l.contains("bundle"));  // none: omitted (Alertmanager drops empty labels too)
  EXPECT_FALSE(l.contains("status"));  // the case status is an annotation
}

TEST(AlertBuilderTest, LongAccountListsAreCutAtAnAccountWithACount) {
  Flag f = SampleFlag();
  f.clear_accounts();
  for (int i = 0; i < 100; ++i) f.add_accounts(absl::StrCat("account-", 100 + i));
  const std::string accounts = FlagAlertLabels(f).at("accounts");
  EXPECT_LE(accounts.size(), kMaxListLabelBytes);
  EXPECT_THAT(accounts, ::testing::StartsWith("account-100,account-101,"));
  EXPECT_THAT(accounts, ::testing::MatchesRegex(".*,account-1[0-9][0-9],\\+[0-9]+ more"));
}

TEST(AlertBuilderTest, AnnotationsCarrySummaryEvidenceLinksAndCase) {
  AlertContent content{.dashboard_url = "http://provd.example:8080/",
                       .runbook_url = "http://provd.example:8080/runbooks/flags.md"};
  const Flag f = SampleFlag();
  const absl::Time ends = absl::FromUnixSeconds(1764000300);
  nlohmann::json a = FlagAlert(f, FlagAlertLabels(f), content, ends);
  EXPECT_EQ(a["labels"]["flag_id"], "F-000007");
  const auto& an = a["annotations"];
  EXPECT_EQ(an["summary"], "Node n-17 has restricted accelerators");
  EXPECT_EQ(an["description"],
            "n-17 (dc-east) has 8 Ascend 910B (0x19e5:0xd802). Workload k8s:x of account alpha "
            "uses them.");
  EXPECT_EQ(an["flag_url"], "http://provd.example:8080/#/flag/F-000007");
  EXPECT_EQ(an["runbook_url"], "http://provd.example:8080/runbooks/flags.md");
  EXPECT_EQ(an["case_status"], "escalated");
  EXPECT_EQ(an["assignee"], "dana");
  EXPECT_FALSE(an.contains("disposition"));  // only once resolved
  EXPECT_EQ(an["training_flop"], "1.2e+20 to 3.5e+20 FLOP (accel_seconds*peak*tensor_activity)");
  EXPECT_EQ(an["policy_version"], "2026-01");
  EXPECT_EQ(an["revision"], "9");
  EXPECT_EQ(a["generatorURL"], "http://provd.example:8080/#/flag/F-000007");
  EXPECT_EQ(a["startsAt"], "2025-11-24T16:00:00.000Z");
  EXPECT_EQ(a["endsAt"], "2025-11-24T16:05:00.000Z");
}

TEST(AlertBuilderTest, NoDashboardMeansNoLinkAndStartsNeverAfterEnds) {
  Flag f = SampleFlag();
  nlohmann::json a = FlagAlert(f, FlagAlertLabels(f), {}, absl::FromUnixSeconds(1763999000));
  EXPECT_FALSE(a["annotations"].contains("flag_url"));
  EXPECT_FALSE(a.contains("generatorURL"));
  EXPECT_EQ(a["startsAt"], a["endsAt"]);
}

TEST(AlertBuilderTest, DescriptionIsBounded) {
  Flag f = SampleFlag();
  for (int i = 0; i < 200; ++i) f.add_evidence()->set_sentence(std::string(40, 'x') + ".");
  std::string d = FlagAlert(f, FlagAlertLabels(f), {}, absl::Now())["annotations"]["description"];
  EXPECT_LE(d.size(), kMaxDescriptionBytes + 64);
  EXPECT_THAT(d, HasSubstr("(202 evidence items in all)"));
}

TEST(AlertBuilderTest, InvalidUtf8IsReplaced) {
  EXPECT_EQ(ValidUtf8("ok"), "ok");
  EXPECT_EQ(ValidUtf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(ValidUtf8("a\xFFz"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(ValidUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  Flag f = SampleFlag();
  f.set_accounts(0, "bad\xFE");
  EXPECT_EQ(FlagAlertLabels(f).at("accounts"), "alpha,bad\xEF\xBF\xBD");
}

TEST(AlertPosterTest, UrlsAreCheckedUpFront) {
  EXPECT_TRUE(ValidateAlertmanagerUrl("http://127.0.0.1:9093").ok());
  EXPECT_TRUE(ValidateAlertmanagerUrl("https://am.example/alertmanager/").ok());
  EXPECT_THAT(std::string(ValidateAlertmanagerUrl("am.example:9093").message()),
              HasSubstr("must start with http:// or https://"));
  EXPECT_THAT(std::string(ValidateAlertmanagerUrl("http:///x").message()), HasSubstr("no host"));
  EXPECT_THAT(std::string(ValidateAlertmanagerUrl("http://am/?x=1").message()),
              HasSubstr("no query"));
}

TEST(AlertPosterTest, UnreachableAlertmanagerIsUnavailable) {
  HttpAlertPoster poster(
      {.connect_timeout = absl::Milliseconds(500), .timeout = absl::Milliseconds(500)});
  // Port 1 on loopback: nothing listens (connection refused at once).
  absl::Status s = poster.Post("http://127.0.0.1:1", "[]");
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("http://127.0.0.1:1/api/v2/alerts"));
}

}  // namespace
}  // namespace prov::server
