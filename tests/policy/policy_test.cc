#include "server/policy/policy.h"

#include "gtest/gtest.h"

namespace prov::policy {
namespace {

TEST(PolicyTest, ShippedDefaultLoads) {
  auto p = LoadPolicyFile("deploy/policy/default.yaml");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->version, "default-2026-12-06a");
  ASSERT_EQ(p->compute_tiers.size(), 4u);
  EXPECT_EQ(p->HighestTierReached(3e25)->name, "eu-ai-act-systemic-1e25");
  EXPECT_EQ(p->NextTier(3e25)->name, "frontier-1e26");
  EXPECT_EQ(p->HighestTierReached(1e22), nullptr);
  EXPECT_TRUE(p->IsRestrictedJurisdiction("CN"));
  EXPECT_FALSE(p->IsRestrictedJurisdiction("DE"));
  ASSERT_NE(p->MatchHardware(0x19e5, 0xd803, "ascend"), nullptr);
  EXPECT_EQ(p->MatchHardware(0x19e5, 0xd803, "ascend")->severity, Severity::kCritical);
  EXPECT_EQ(p->MatchHardware(0x10de, 0x2330, "hopper"), nullptr);
  EXPECT_EQ(p->projection.horizon, absl::Hours(720));
  EXPECT_DOUBLE_EQ(p->correlation.weights.at("master_addr"), 0.9);
}

struct BadCase {
  const char* yaml;
  const char* error;
};

class PolicyErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(PolicyErrorTest, ErrorNamesLineAndField) {
  auto p = ParsePolicy(GetParam().yaml, "p.yaml");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(std::string(p.status().message()), std::string(GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PolicyErrorTest,
    ::testing::Values(
        BadCase{"description: x\n", "p.yaml:1:1: version: required (recorded on every flag)"},
        BadCase{"version: v1\nverison: v2\n",
                "p.yaml:2:1: verison: unknown field (known: version, description, compute_tiers, "
                "projection, restricted_jurisdictions, screening, restricted_hardware, "
                "restricted_party_training, node_health, hardware, correlation, location)"},
        BadCase{
            "version: v1\ncompute_tiers:\n  - {name: a, flop: 1e25}\n  - {name: b, flop: 1e24}\n",
            "p.yaml:4:21: compute_tiers[1].flop: must be above the previous tier's 1e+25 (list "
            "tiers in ascending order)"},
        BadCase{"version: v1\ncompute_tiers:\n  - {name: a, flop: lots}\n",
                "p.yaml:3:21: compute_tiers[0].flop: must be a number"},
        BadCase{"version: v1\nscreening: {severity: urgent}\n",
                "p.yaml:2:23: screening.severity: \"urgent\" is not info, low, medium, high or "
                "critical"},
        BadCase{"version: v1\nrestricted_jurisdictions: {countries: [CHN]}\n",
                "p.yaml:2:40: restricted_jurisdictions.countries[0]: \"CHN\" is not a two-letter "
                "ISO 3166 code"},
        BadCase{"version: v1\nrestricted_hardware:\n  - {name: x, vendor_id: huawei}\n",
                "p.yaml:3:26: restricted_hardware[0].vendor_id: must be a 16-bit hex PCI ID like "
                "0x19e5"},
        BadCase{"version: v1\ncorrelation: {weights: {telepathy: 0.5}}\n",
                "p.yaml:2:25: correlation.weights.telepathy: unknown link kind (known: "
                "network_peer, master_addr, artifact, image, identity_payment, identity_owner, "
                "identity_email, identity_address, identity_source_ip, identity_reseller, "
                "co_start, synchronised_activity, handoff, external_peer)"},
        BadCase{"version: v1\nprojection: {horizon: soon}\n",
                "p.yaml:2:23: projection.horizon: must be a duration like 0h (off), 30m or 720h"},
        BadCase{"version: v1\ncorrelation: {activity_window: -5m}\n",
                "p.yaml:2:32: correlation.activity_window: must be a positive duration like 90s, "
                "30m or 720h"},
        BadCase{"version: v1\ncorrelation: {min_surprise: 9, full_surprise: 8}\n",
                "p.yaml:2:47: correlation.full_surprise: must be at least min_surprise (9)"},
        BadCase{"version: v1\ncorrelation: {activity_tolerance: 10m}\n",
                "p.yaml:2:35: correlation.activity_tolerance: must be at most activity_window (the "
                "index's bucket)"},
        BadCase{"version: [unclosed\n", "p.yaml:2:1: end of sequence flow not found"},
        BadCase{"version: v1\nlocation: {fibre_km_per_ms: 500}\n",
                "p.yaml:2:29: location.fibre_km_per_ms: 500 is outside 1..300"},
        BadCase{"version: v1\nlocation: {require_proof: eu}\n",
                "p.yaml:2:27: location.require_proof: must be a list of ids"},
        BadCase{"version: v1\nhardware: {outage_fraction: 1.5}\n",
                "p.yaml:2:29: hardware.outage_fraction: 1.5 is outside 0..1"},
        BadCase{"version: v1\nlocation: {severity_forged: loud}\n",
                "p.yaml:2:29: location.severity_forged: \"loud\" is not info, low, medium, high or "
                "critical"}));

TEST(PolicyTest, HardwareOutageGuard) {
  auto shipped = LoadPolicyFile("deploy/policy/default.yaml");
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  EXPECT_DOUBLE_EQ(shipped->hardware.outage_fraction, 0.05);
  EXPECT_EQ(shipped->hardware.outage_min_nodes, 20);
  EXPECT_EQ(shipped->hardware.outage_hold, absl::Minutes(30));
  auto p = ParsePolicy(
      "version: v1\nhardware: {outage_fraction: 0.5, outage_min_nodes: 3, outage_hold: 10m}\n",
      "p.yaml");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_DOUBLE_EQ(p->hardware.outage_fraction, 0.5);
  EXPECT_EQ(p->hardware.outage_min_nodes, 3);
  EXPECT_EQ(p->hardware.outage_hold, absl::Minutes(10));
}

TEST(PolicyTest, LocationSection) {
  auto shipped = LoadPolicyFile("deploy/policy/default.yaml");
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  EXPECT_DOUBLE_EQ(shipped->location.fibre_km_per_ms, 200);
  EXPECT_EQ(shipped->location.max_age, absl::Hours(1));
  EXPECT_EQ(shipped->location.clock_tolerance, absl::Minutes(2));
  EXPECT_TRUE(shipped->location.require_proof.empty());
  EXPECT_EQ(shipped->location.severity_contradicted, Severity::kCritical);
  auto p = ParsePolicy(
      "version: v1\nlocation: {proof_radius_km: 300, max_age: 30m, require_proof: [eu-central, "
      "sin1], severity_unverified: high}\n",
      "p.yaml");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_DOUBLE_EQ(p->location.proof_radius_km, 300);
  EXPECT_EQ(p->location.max_age, absl::Minutes(30));
  EXPECT_EQ(p->location.severity_unverified, Severity::kHigh);
  EXPECT_TRUE(p->location.ProofRequired("fra1", "eu-central"));
  EXPECT_TRUE(p->location.ProofRequired("sin1", ""));
  EXPECT_FALSE(p->location.ProofRequired("ams1", "eu-west"));
  auto all = ParsePolicy("version: v1\nlocation: {require_proof: [\"*\"]}\n", "p.yaml");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->location.ProofRequired("any", ""));
}

}  // namespace
}  // namespace prov::policy
