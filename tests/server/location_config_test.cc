#include "server/location/location_config.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "tests/server/location_fixture.h"

namespace prov::server::location {
namespace {

TEST(LocationConfigTest, ParsesLandmarksSitesAndAssignment) {
  testing::LocationKeys keys;
  auto c = ParseLocationConfig(keys.Yaml(3), "loc.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->landmarks.size(), 3u);
  const LandmarkConfig* fra = c->Landmark("lm-fra");
  ASSERT_NE(fra, nullptr);
  EXPECT_DOUBLE_EQ(fra->position.lat_deg, 50.11);
  EXPECT_EQ(fra->public_key, keys.fra.public_key);
  EXPECT_EQ(fra->udp_address, "127.0.0.1:7701");
  EXPECT_EQ(c->Landmark("lm-sin")->udp_address, "");
  ASSERT_NE(c->Site("sin1"), nullptr);
  EXPECT_EQ(c->Site("sin1")->region, "ap-southeast");
  EXPECT_EQ(c->Site("nowhere"), nullptr);
  EXPECT_EQ(c->assignment.landmarks_per_node, 3u);
  EXPECT_EQ(c->assignment.probes_per_burst, 16u);  // default
}

struct BadCase {
  const char* yaml;
  const char* error;
};

class LocationConfigErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(LocationConfigErrorTest, ErrorNamesLineAndField) {
  auto c = ParseLocationConfig(GetParam().yaml, "loc.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(std::string(c.status().message()), GetParam().error);
}

constexpr char kKey[] =
    "ed25519-public 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29";

INSTANTIATE_TEST_SUITE_P(
    Cases, LocationConfigErrorTest,
    ::testing::Values(
        BadCase{"datacenters: []\n", "loc.yaml:1:1: landmarks: required: a non-empty list"},
        BadCase{"landmarks:\n  - id: a\n    position: {lat: 1, lon: 2}\n    public_key: nope\n",
                "loc.yaml:4:17: landmarks[0].public_key: must be \"ed25519-public <64 hex "
                "digits>\" (a .pub key file's text)"},
        BadCase{"landmarks:\n  - id: a b\n",
                "loc.yaml:2:9: landmarks[0].id: must be 1..64 "
                "characters of [A-Za-z0-9._-]"},
        BadCase{"landmarks:\n  - id: a\n    position: {lat: 91, lon: 2}\n",
                "loc.yaml:3:21: landmarks[0].position.lat: 91 is outside -90..90"},
        BadCase{"landmarks:\n  - id: a\n    colour: red\n",
                "loc.yaml:3:5: landmarks[0].colour: unknown field (known: id, position, region, "
                "public_key, udp_address)"},
        BadCase{"assignment: {landmarks_per_node: 0}\nlandmarks: []\n",
                "loc.yaml:2:12: landmarks: required: a non-empty list"}));

TEST(LocationConfigTest, DuplicateIdsAndBadAddressesAreNamed) {
  const std::string lm =
      absl::StrCat("  - id: a\n    position: {lat: 1, lon: 2}\n    public_key: \"", kKey, "\"\n");
  auto dup = ParseLocationConfig(absl::StrCat("landmarks:\n", lm, lm), "loc.yaml");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(std::string(dup.status().message()),
            "loc.yaml:5:9: landmarks[1].id: duplicate landmark id \"a\"");
  auto address = ParseLocationConfig(
      absl::StrCat("landmarks:\n", lm, "    udp_address: \"nohost\"\n"), "loc.yaml");
  ASSERT_FALSE(address.ok());
  EXPECT_EQ(std::string(address.status().message()),
            "loc.yaml:5:18: landmarks[0].udp_address: must be \"host:port\" or empty");
  auto per_node = ParseLocationConfig(
      absl::StrCat("landmarks:\n", lm, "assignment: {landmarks_per_node: 0}\n"), "loc.yaml");
  ASSERT_FALSE(per_node.ok());
  EXPECT_EQ(std::string(per_node.status().message()),
            "loc.yaml:5:34: assignment.landmarks_per_node: 0 is outside 1..64");
  auto broken = ParseLocationConfig("landmarks: [\n", "loc.yaml");
  ASSERT_FALSE(broken.ok());
  EXPECT_TRUE(absl::StartsWith(broken.status().message(), "loc.yaml:")) << broken.status();
}

}  // namespace
}  // namespace prov::server::location
