// provctl's location commands: parsing, the rendering of fixed NodeLocation / landmark messages,
// and the report of `location verify` on a real signed export folder.
#include "tools/provctl/format_location.h"

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/location/location_export_builder.h"
#include "tools/provctl/cli.h"

namespace prov::provctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(CliLocationTest, Commands) {
  auto inv = ParseArgs({"location", "show", "gpu-1"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "location show");
  EXPECT_EQ(inv->node_id, "gpu-1");
  inv = ParseArgs({"location", "list", "--verdict", "Contradicted", "--limit", "5"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->location_verdict, provenance::v1::LOCATION_VERDICT_CONTRADICTED);
  EXPECT_EQ(inv->limit, 5u);
  EXPECT_EQ(ParseArgs({"location", "landmarks", "-o", "json"})->command, "location landmarks");
  inv = ParseArgs({"location", "verify", "/e/1", "--public-key", "k.pub"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->file, "/e/1");
  EXPECT_EQ(inv->public_key, "k.pub");
  auto bad = ParseArgs({"location", "list", "--verdict", "maybe"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("'maybe'"));
  EXPECT_FALSE(ParseArgs({"location", "show"}).ok());  // NODE is required
  EXPECT_FALSE(ParseArgs({"location", "show", "gpu-1", "--verdict", "verified"}).ok());
  EXPECT_FALSE(ParseArgs({"location", "verify", "/e", "--previous", "/d"}).ok());
  EXPECT_FALSE(ParseArgs({"location"}).ok());
  EXPECT_NE(Usage().find("location verify DIR"), std::string::npos);
}

provenance::v1::LocationDisk* AddDisk(provenance::v1::NodeLocation* n, const std::string& id,
                                      double rtt, double radius, double distance, bool inside,
                                      bool fresh) {
  auto* d = n->add_disks();
  d->set_landmark_id(id);
  d->set_rtt_min_ms(rtt);
  d->set_speed_km_per_ms(200);
  d->set_radius_km(radius);
  d->set_distance_to_site_km(distance);
  d->set_contains_site(inside);
  d->set_fresh(fresh);
  d->mutable_measured_at()->set_seconds(1796515140);  // 2026-12-05 23:59:00Z
  return d;
}

provenance::v1::NodeLocation Contradicted() {
  provenance::v1::NodeLocation n;
  n.set_node_id("gpu-2");
  n.set_datacenter("fra1");
  n.set_region("eu-central");
  n.mutable_declared_site()->set_lat_deg(50.1);
  n.mutable_declared_site()->set_lon_deg(8.7);
  n.set_site_known(true);
  n.set_verdict(provenance::v1::LOCATION_VERDICT_CONTRADICTED);
  n.set_reason("lm-nyc's disk (200 km) excludes fra1 (6209 km away)");
  n.set_needed_landmark_id("lm-fra");
  n.set_needed_landmark_distance_km(1.66);
  n.mutable_evaluated_at()->set_seconds(1796515200);  // 2026-12-06 00:00:00Z
  n.set_policy_version("p-7");
  AddDisk(&n, "lm-nyc", 2.0, 200, 6209.4, false, true);
  AddDisk(&n, "lm-fra", 70.0, 7000, 1.66, true, false);
  return n;
}

TEST(FormatLocationTest, ShowPrintsSiteVerdictAndEveryLandmark) {
  const std::string text = NodeLocationText(Contradicted());
  EXPECT_EQ(text,
            "node:             gpu-2\n"
            "declared site:    fra1 (eu-central) at 50.1000, 8.7000\n"
            "verdict:          contradicted\n"
            "reason:           lm-nyc's disk (200 km) excludes fra1 (6209 km away)\n"
            "proof required:   no\n"
            "evaluated at:     2026-12-06 00:00:00Z\n"
            "policy version:   p-7\n"
            "\n"
            "LANDMARK  RTT MIN MS  KM/MS  RADIUS KM  TO SITE KM  SITE     FRESH  MEASURED AT\n"
            "lm-nyc         2.000  200.0        200        6209  OUTSIDE  fresh  2026-12-05 "
            "23:59:00Z\n"
            "lm-fra        70.000  200.0       7000         1.7  inside   stale  2026-12-05 "
            "23:59:00Z\n");
}

TEST(FormatLocationTest, ShowWithoutMeasurementsOrCoordinatesSaysWhy) {
  provenance::v1::NodeLocation n;
  n.set_node_id("gpu-9");
  n.set_datacenter("ams9");
  n.set_verdict(provenance::v1::LOCATION_VERDICT_UNVERIFIED);
  n.set_proof_required(true);
  const std::string text = NodeLocationText(n);
  EXPECT_THAT(text, HasSubstr("declared site:    ams9, no coordinates configured for it\n"));
  EXPECT_THAT(text, HasSubstr("proof required:   yes"));
  EXPECT_THAT(text, HasSubstr("needed landmark:  - (no landmark configured near the site)"));
  n.set_needed_landmark_id("lm-ams");
  n.set_needed_landmark_distance_km(12.4);
  EXPECT_THAT(NodeLocationText(n), HasSubstr("needed landmark:  lm-ams (12 km from the site; a "
                                             "fresh small RTT from it would prove the site)"));
  EXPECT_THAT(text, HasSubstr("no measurements: a node is probed once provd knows its key"));
  // A verified or contradicted node names no needed landmark.
  n.set_verdict(provenance::v1::LOCATION_VERDICT_VERIFIED);
  EXPECT_THAT(NodeLocationText(n), Not(HasSubstr("needed landmark")));
  EXPECT_THAT(NodeLocationText(Contradicted()), Not(HasSubstr("needed landmark")));
}

TEST(FormatLocationTest, ListAndLandmarks) {
  provenance::v1::ListNodeLocationsResponse list;
  EXPECT_EQ(NodeLocationsTable(list), "no node locations (no node has a verdict yet)\n");
  *list.add_nodes() = Contradicted();
  list.set_next_after_node_id("gpu-2");
  const std::string table = NodeLocationsTable(list);
  EXPECT_THAT(table, HasSubstr("gpu-2  fra1        contradicted  no              1/2"));
  EXPECT_THAT(table, HasSubstr("(more nodes after gpu-2; raise --limit)"));

  provenance::v1::ListLandmarksResponse lm;
  EXPECT_EQ(LandmarksText(lm), "no landmarks configured (provd --location-config)\n");
  auto* l = lm.add_landmarks();
  l->set_landmark_id("lm-fra");
  l->set_region("eu-central");
  l->mutable_position()->set_lat_deg(50.11);
  l->mutable_position()->set_lon_deg(8.68);
  l->set_udp_address("10.0.0.5:7701");
  l->set_speed_km_per_ms(200);
  l->set_records_accepted(42);
  l->set_records_refused(1);
  std::string text = LandmarksText(lm);
  EXPECT_THAT(text, HasSubstr("lm-fra    eu-central  50.1100, 8.6800  10.0.0.5:7701  200.0"));
  EXPECT_THAT(text, HasSubstr("no calibration yet"));
  auto* p = lm.add_pairs();
  p->set_landmark_a("lm-fra");
  p->set_landmark_b("lm-par");
  p->set_distance_km(478.6);
  p->set_rtt_min_ms(5.5);
  p->set_implied_speed_km_per_ms(174.0);
  p->set_fibre_factor(0.87);
  text = LandmarksText(lm);
  EXPECT_THAT(text, HasSubstr("lm-fra      lm-par              479       5.500          174.0"
                              "          0.87"));
}

TEST(FormatLocationTest, VerifyReportNamesEachProblemPerNode) {
  const std::string dir = ::testing::TempDir() + "/provctl_location_verify";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  location::testing::LocationExportBuilder b(dir);
  b.AddLandmark("lm-fra", {50.11, 8.68});
  b.AddLandmark("lm-nyc", {40.71, -74.01});
  b.AddSite("fra1", {50.10, 8.70});
  b.AddNode("gpu-1");
  b.AddNode("gpu-2");
  const int64_t a = b.AddNodeRecord("lm-fra", "gpu-1", 1.0);
  const int64_t c = b.AddNodeRecord("lm-nyc", "gpu-2", 2.0);
  b.AddVerdict({"gpu-1", "fra1", "verified", {a}, {}});
  b.AddVerdict({"gpu-2", "fra1", "contradicted", {c}, {}});
  b.Write();
  auto check = location::CheckLocationExport(dir, b.export_key().public_key);
  EXPECT_EQ(LocationCheckText(dir, check),
            "note: chain: this is the first export of its chain\n"
            "note: audit_log.jsonl: not in this export; audit log not checked\n"
            "NODE   EXPORTED      RE-DERIVED    RECORDS  RESULT\n"
            "gpu-1  verified      verified            1  ok\n"
            "gpu-2  contradicted  contradicted        1  ok\n"
            "export 20261206T000000Z: OK: export verified, 2 location verdicts re-derived from "
            "the signed records\n");
  EXPECT_THAT(LocationCheckJson(check), HasSubstr("\"ok\":true"));

  b.verdict_line(1)["verdict"] = "verified";
  b.Write();
  check = location::CheckLocationExport(dir, b.export_key().public_key);
  const std::string text = LocationCheckText(dir, check);
  EXPECT_THAT(text, HasSubstr("gpu-2  verified  contradicted        1  1 problem\n"));
  EXPECT_THAT(text, HasSubstr("PROBLEM gpu-2: verdict differs: exported verified, re-derived "
                              "contradicted\n"));
  EXPECT_THAT(text, HasSubstr("export 20261206T000000Z: 1 problem\n"));
  EXPECT_THAT(LocationCheckJson(check), HasSubstr("\"ok\":false"));
}

}  // namespace
}  // namespace prov::provctl
