// Formatting of AnalysisService responses from hand-built protos.
#include "tools/provctl/format_analysis.h"

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace prov::provctl {
namespace {

using namespace provenance::v1;

constexpr int64_t kT = 1'764'032'523;  // 2025-11-25 01:02:03 UTC

Flag ComputeFlag() {
  Flag f;
  f.set_flag_id("F-3");
  f.set_rule("compute_tier:eu-ai-act-systemic-1e25");
  f.set_subject("bundle:B-0123456789ab");
  f.set_severity(SEVERITY_HIGH);
  f.set_status(FLAG_STATUS_OPEN);
  f.set_summary("bundle B-0123456789ab reached 1.2e25 training FLOP");
  f.set_policy_version("default-2026-11-25");
  f.set_kyc_version(4);
  f.set_bundle_id("B-0123456789ab");
  f.add_accounts("acme");
  f.add_accounts("beta");
  f.add_datacenters("dc-east");
  f.add_workloads("n-17/k8s:abc");
  f.add_nodes("n-17");
  f.mutable_training_flop()->set_low(1.23e25);
  f.mutable_training_flop()->set_high(2.34e25);
  f.mutable_training_flop()->set_method("accel_seconds*peak*tensor_activity");
  f.mutable_first_time()->set_seconds(kT - 86400);
  f.mutable_last_time()->set_seconds(kT);
  f.mutable_raised_at()->set_seconds(kT + 5);
  f.mutable_updated_at()->set_seconds(kT + 7);
  f.set_revision(6);
  auto* e = f.add_evidence();
  e->set_kind("compute");
  e->set_sentence("acme and beta trained for 41000 accelerator-hours on H100");
  e->mutable_time()->set_seconds(kT);
  auto* l = f.add_evidence();
  l->set_kind("link");
  l->set_sentence("acme's job sends traffic to beta's master");
  l->mutable_link()->set_kind("master_addr");
  l->mutable_link()->set_account_a("acme");
  l->mutable_link()->set_account_b("beta");
  l->mutable_link()->set_weight(0.9);
  l->mutable_link()->set_sentence("k8s:abc on n-17 has MASTER_ADDR 10.2.0.5, beta's node n-18");
  return f;
}

TEST(FormatAnalysisTest, NamesAndTimes) {
  EXPECT_EQ(SeverityName(SEVERITY_CRITICAL), "critical");
  EXPECT_EQ(SeverityName(SEVERITY_UNSPECIFIED), "-");
  EXPECT_EQ(FlagStatusName(FLAG_STATUS_ESCALATED), "escalated");
  google::protobuf::Timestamp t;
  EXPECT_EQ(FormatTimeUtc(t), "-");
  t.set_seconds(kT);
  EXPECT_EQ(FormatTimeUtc(t), "2025-11-25 01:02:03 UTC");
  FlopEstimate est;
  EXPECT_EQ(FormatFlopWithMethod(est), "-");
  est.set_low(2.34e24);
  est.set_high(4.4e24);
  est.set_method("m");
  EXPECT_EQ(FormatFlopWithMethod(est), "2.3e24..4.4e24 (m)");
}

TEST(FormatAnalysisTest, FlagsTableOneRowPerFlag) {
  ListFlagsResponse resp;
  *resp.add_flags() = ComputeFlag();
  std::string table = FlagsTable(resp);
  std::vector<std::string> lines = absl::StrSplit(table, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << table;
  EXPECT_EQ(lines[0].rfind("FLAG", 0), 0u);
  for (const char* want : {"F-3", "high", "open", "compute_tier:eu-ai-act-systemic-1e25",
                           "acme,beta", "1.2e25..2.3e25", "reached 1.2e25"}) {
    EXPECT_NE(lines[1].find(want), std::string::npos) << want << "\n" << table;
  }
}

TEST(FormatAnalysisTest, FlagDetailShowsTheEvidenceChainAndBundle) {
  GetFlagResponse resp;
  *resp.mutable_flag() = ComputeFlag();
  Bundle* b = resp.mutable_bundle();
  b->set_bundle_id("B-0123456789ab");
  b->add_accounts("acme");
  b->add_accounts("beta");
  b->add_datacenters("dc-east");
  b->mutable_training_flop()->set_low(1.23e25);
  b->mutable_training_flop()->set_high(2.34e25);
  b->set_score(0.82);
  b->set_link_count(3);
  std::string text = FlagDetail(resp);
  for (const char* want :
       {"F-3 (revision 6)", "severity:      high", "policy:        default-2026-11-25",
        "KYC version:   4", "1.2e25..2.3e25 (accel_seconds*peak*tensor_activity)",
        "evidence time: 2025-11-24 01:02:03 UTC .. 2025-11-25 01:02:03 UTC",
        "raised:        2025-11-25 01:02:08 UTC",
        "evidence (2):", "  1. [compute] 2025-11-25 01:02:03 UTC  acme and beta trained",
        "  2. [link] acme's job sends traffic",
        "     link: master_addr 0.90  acme <-> beta: k8s:abc on n-17 has MASTER_ADDR",
        "bundle:        B-0123456789ab", "score:         0.82 (3 links)",
        "workloads:     n-17/k8s:abc"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
}

TEST(FormatAnalysisTest, FlagLineIsOneLine) {
  std::string line = FlagLine(ComputeFlag());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.rfind("2025-11-25 01:02:10 UTC  F-3 rev 6  high  open  compute_tier:", 0), 0u)
      << line;
}

TEST(FormatAnalysisTest, BundlesTableAndDetail) {
  GetBundleResponse resp;
  Bundle* b = resp.mutable_bundle();
  b->set_bundle_id("B-0123456789ab");
  b->add_accounts("acme");
  b->add_accounts("beta");
  b->add_datacenters("dc-east");
  b->add_datacenters("dc-west");
  b->add_workloads("n-17/k8s:abc");
  b->add_workloads("n-18/slurm:991");
  b->set_accelerator_count(512);
  b->add_accelerator_models("H100 SXM5 80GB");
  b->mutable_training_flop()->set_low(3.1e24);
  b->mutable_training_flop()->set_high(9.9e24);
  b->set_training_accelerator_hours(41000.25);
  b->set_score(0.7);
  Link* l = resp.add_links();
  l->set_kind("network_peer");
  l->set_account_a("acme");
  l->set_account_b("beta");
  l->set_workload_a("n-17/k8s:abc");
  l->set_workload_b("n-18/slurm:991");
  l->set_weight(0.7);
  l->set_sentence("k8s:abc on n-17 (dc-east) sends traffic to 10.2.0.5:29500");
  l->mutable_first_time()->set_seconds(kT);
  l->mutable_last_time()->set_seconds(kT + 3600);
  *resp.add_flags() = ComputeFlag();

  ListBundlesResponse list;
  *list.add_bundles() = *b;
  std::string table = BundlesTable(list);
  for (const char* want : {"B-0123456789ab", "acme,beta", "dc-east,dc-west", "512",
                           "3.1e24..9.9e24", "41000.2", "0.70"}) {
    EXPECT_NE(table.find(want), std::string::npos) << want << "\n" << table;
  }
  std::string text = BundleDetail(resp);
  for (const char* want :
       {"accounts:      acme, beta", "datacenters:   dc-east, dc-west",
        "accelerators:  512 (H100 SXM5 80GB)", "training FLOP: 3.1e24..9.9e24",
        "workloads (2):\n  n-17/k8s:abc\n  n-18/slurm:991\n",
        "links (1):\n  network_peer 0.70  acme <-> beta (n-17/k8s:abc <-> n-18/slurm:991): "
        "k8s:abc on n-17 (dc-east) sends traffic to 10.2.0.5:29500 "
        "[2025-11-25 01:02:03 UTC .. 2025-11-25 02:02:03 UTC]",
        "flags (1):\n  F-3  high  open  compute_tier:eu-ai-act-systemic-1e25"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
}

}  // namespace
}  // namespace prov::provctl
