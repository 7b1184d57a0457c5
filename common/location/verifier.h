// Where a node can be, from signed round-trip times to landmarks at known positions (issue 11).
// Pure functions, shared by provd (live verdicts) and provctl (re-deriving them offline from an
// export), so both always agree.
//
//   prov::location::VerifierParams params;                // from the policy's `location` section
//   std::vector<prov::location::DiskInput> disks = ...;   // newest min RTT per landmark
//   prov::location::LocationResult r =
//       prov::location::EvaluateLocation(site, disks, landmarks, params, now);
//   if (r.verdict == prov::location::Verdict::kContradicted) ...
//
// Physics: delay can be added but never removed, and a signal in fibre covers at most about
// 200 km per millisecond. A minimum RTT of r ms therefore puts the answering machine within
// speed * max(0, r - processing_floor) / 2 km of the landmark: the disk. Every default is chosen so
// a disk is never smaller than the truth (a contradiction is a proof, not a guess):
//  - speed is the nominal fibre speed, or faster where calibration between landmarks saw a faster
//    path (CalibratedSpeed never returns less than the nominal speed);
//  - processing_floor_ms is what provably always elapses inside the responder (default 0);
//  - min_radius_km and site_tolerance_km absorb the imprecision of configured coordinates.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"

namespace prov::location {

struct GeoPoint {
  double lat_deg = 0;
  double lon_deg = 0;
};

// Great-circle distance (haversine, mean Earth radius 6371.0088 km).
double GreatCircleKm(GeoPoint a, GeoPoint b);

struct VerifierParams {
  double fibre_km_per_ms = 200.0;           // nominal one-way speed in fibre
  double processing_floor_ms = 0.0;         // subtracted from the RTT before halving
  double min_radius_km = 1.0;               // no disk is smaller
  double site_tolerance_km = 5.0;           // coordinate slack when testing "site inside disk"
  double proof_radius_km = 500.0;           // a disk at most this big proves the site's region
  absl::Duration max_age = absl::Hours(1);  // older measurements prove nothing
};

// The disk radius for a minimum RTT at a speed (km per ms, one way).
double RadiusKm(double rtt_min_ms, double speed_km_per_ms, const VerifierParams& params);

// A landmark's effective speed from its pair measurements with other landmarks: the nominal
// fibre speed, or the fastest implied speed (distance / (rtt/2)) seen on any of its pairs if that
// is faster (a straighter or non-fibre path; or wrong coordinates, which calibration must not
// hide by shrinking disks). `implied_speeds` may be empty.
double CalibratedSpeed(absl::Span<const double> implied_speeds, const VerifierParams& params);

// Implied one-way speed of a pair measurement; 0 when rtt_min_ms <= processing floor.
double ImpliedSpeed(double distance_km, double rtt_min_ms, const VerifierParams& params);

struct LandmarkSite {
  std::string landmark_id;
  GeoPoint position;
};

struct DiskInput {
  std::string landmark_id;
  GeoPoint center;
  double rtt_min_ms = 0;
  double speed_km_per_ms = 200.0;  // CalibratedSpeed for this landmark
  absl::Time measured_at;
};

struct Disk {
  DiskInput input;
  double radius_km = 0;
  double distance_to_site_km = 0;
  bool contains_site = false;
  bool fresh = false;
};

enum class Verdict { kVerified, kUnverified, kContradicted };
const char* VerdictName(Verdict v);  // "verified", "unverified", "contradicted"

struct LocationResult {
  Verdict verdict = Verdict::kUnverified;
  std::vector<Disk> disks;  // one per input, input order
  std::string reason;       // one sentence naming landmarks, RTTs and distances
  // Unverified: the landmark nearest the site (from `landmarks`), which would prove it with a
  // fresh small RTT; empty when there are no landmarks.
  std::string needed_landmark_id;
  double needed_landmark_distance_km = 0;
};

// The verdict for a declared site:
//  - contradicted: some fresh disk excludes the site (distance > radius + site tolerance);
//  - verified: no fresh disk excludes it, and some fresh disk has radius <= proof_radius_km;
//  - unverified: otherwise (no fresh disk, or all too large).
// Stale disks (older than max_age before `now`) are reported but decide nothing.
LocationResult EvaluateLocation(GeoPoint site, absl::Span<const DiskInput> disks,
                                absl::Span<const LandmarkSite> landmarks,
                                const VerifierParams& params, absl::Time now);

}  // namespace prov::location
