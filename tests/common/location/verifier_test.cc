#include "common/location/verifier.h"

#include <gtest/gtest.h>

namespace prov::location {
namespace {

const GeoPoint kFrankfurt{50.1109, 8.6821};
const GeoPoint kParis{48.8566, 2.3522};
const GeoPoint kSingapore{1.3521, 103.8198};
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

DiskInput Input(const std::string& id, GeoPoint at, double rtt_ms, absl::Time when = kNow) {
  return {.landmark_id = id,
          .center = at,
          .rtt_min_ms = rtt_ms,
          .speed_km_per_ms = 200,
          .measured_at = when};
}

TEST(VerifierTest, GreatCircleMatchesKnownDistances) {
  EXPECT_NEAR(GreatCircleKm(kFrankfurt, kParis), 479, 3);
  EXPECT_NEAR(GreatCircleKm(kFrankfurt, kSingapore), 10260, 30);
  EXPECT_DOUBLE_EQ(GreatCircleKm(kParis, kParis), 0);
}

TEST(VerifierTest, RadiusIsHalfTheRttAtFibreSpeed) {
  VerifierParams p;
  EXPECT_DOUBLE_EQ(RadiusKm(1.0, 200, p), 100);
  EXPECT_DOUBLE_EQ(RadiusKm(0.0, 200, p), p.min_radius_km);
  p.processing_floor_ms = 0.2;
  EXPECT_DOUBLE_EQ(RadiusKm(1.2, 200, p), 100);
}

TEST(VerifierTest, CalibrationNeverShrinksDisks) {
  VerifierParams p;
  const double slow[] = {120.0, 150.0};
  EXPECT_DOUBLE_EQ(CalibratedSpeed(slow, p), 200);
  const double fast[] = {120.0, 260.0};
  EXPECT_DOUBLE_EQ(CalibratedSpeed(fast, p), 260);
  EXPECT_NEAR(ImpliedSpeed(479, 4.79, p), 200, 1e-9);
  EXPECT_EQ(ImpliedSpeed(479, 0, p), 0);
}

TEST(VerifierTest, NearLandmarkVerifies) {
  const DiskInput in[] = {Input("lm-fra", kFrankfurt, 1.0)};
  const LandmarkSite lms[] = {{"lm-fra", kFrankfurt}};
  const GeoPoint site{50.2, 8.7};  // ~10 km away
  auto r = EvaluateLocation(site, in, lms, VerifierParams{}, kNow);
  EXPECT_EQ(r.verdict, Verdict::kVerified) << r.reason;
  ASSERT_EQ(r.disks.size(), 1u);
  EXPECT_TRUE(r.disks[0].contains_site);
  EXPECT_TRUE(r.disks[0].fresh);
}

TEST(VerifierTest, RelayedFarNodeIsNeverVerified) {
  // 6 ms: within 600 km of Frankfurt, which includes the site but proves no 500 km region.
  const DiskInput in[] = {Input("lm-fra", kFrankfurt, 6.0)};
  const LandmarkSite lms[] = {{"lm-fra", kFrankfurt}};
  auto r = EvaluateLocation({50.2, 8.7}, in, lms, VerifierParams{}, kNow);
  EXPECT_EQ(r.verdict, Verdict::kUnverified) << r.reason;
  EXPECT_EQ(r.needed_landmark_id, "lm-fra");
}

TEST(VerifierTest, NearAnotherLandmarkContradictsTheDeclaredSite) {
  // Declared in Frankfurt, but 0.5 ms from Paris: within 50 km of Paris, 479 km from the site.
  const DiskInput in[] = {Input("lm-par", kParis, 0.5), Input("lm-fra", kFrankfurt, 5.0)};
  const LandmarkSite lms[] = {{"lm-par", kParis}, {"lm-fra", kFrankfurt}};
  auto r = EvaluateLocation(kFrankfurt, in, lms, VerifierParams{}, kNow);
  EXPECT_EQ(r.verdict, Verdict::kContradicted) << r.reason;
  EXPECT_FALSE(r.disks[0].contains_site);
  EXPECT_NE(r.reason.find("lm-par"), std::string::npos);
}

TEST(VerifierTest, StaleMeasurementsDecideNothing) {
  const DiskInput in[] = {Input("lm-par", kParis, 0.5, kNow - absl::Hours(2))};
  const LandmarkSite lms[] = {{"lm-par", kParis}};
  auto r = EvaluateLocation(kFrankfurt, in, lms, VerifierParams{}, kNow);
  EXPECT_EQ(r.verdict, Verdict::kUnverified) << r.reason;
  EXPECT_FALSE(r.disks[0].fresh);
}

TEST(VerifierTest, UnverifiedNamesTheLandmarkThatWouldBeNeeded) {
  const LandmarkSite lms[] = {{"lm-par", kParis}, {"lm-sin", kSingapore}};
  auto r = EvaluateLocation(kFrankfurt, {}, lms, VerifierParams{}, kNow);
  EXPECT_EQ(r.verdict, Verdict::kUnverified);
  EXPECT_EQ(r.needed_landmark_id, "lm-par");
  EXPECT_NEAR(r.needed_landmark_distance_km, 479, 3);
  const LandmarkSite far[] = {{"lm-sin", kSingapore}};
  r = EvaluateLocation(kFrankfurt, {}, far, VerifierParams{}, kNow);
  EXPECT_NE(r.reason.find("within 500 km is needed"), std::string::npos) << r.reason;
}

}  // namespace
}  // namespace prov::location
