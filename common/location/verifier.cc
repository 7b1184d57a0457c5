#include "common/location/verifier.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace prov::location {
namespace {

constexpr double kEarthRadiusKm = 6371.0088;
constexpr double kPi = 3.14159265358979323846;

double Rad(double deg) { return deg * kPi / 180.0; }

}  // namespace

double GreatCircleKm(GeoPoint a, GeoPoint b) {
  const double dlat = Rad(b.lat_deg - a.lat_deg);
  const double dlon = Rad(b.lon_deg - a.lon_deg);
  const double h =
      std::sin(dlat / 2) * std::sin(dlat / 2) +
      std::cos(Rad(a.lat_deg)) * std::cos(Rad(b.lat_deg)) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthRadiusKm * std::asin(std::min(1.0, std::sqrt(h)));
}

double RadiusKm(double rtt_min_ms, double speed_km_per_ms, const VerifierParams& params) {
  const double one_way_ms = std::max(0.0, rtt_min_ms - params.processing_floor_ms) / 2.0;
  return std::max(params.min_radius_km, one_way_ms * speed_km_per_ms);
}

double ImpliedSpeed(double distance_km, double rtt_min_ms, const VerifierParams& params) {
  const double one_way_ms = (rtt_min_ms - params.processing_floor_ms) / 2.0;
  if (!(one_way_ms > 0)) return 0;
  return distance_km / one_way_ms;
}

double CalibratedSpeed(absl::Span<const double> implied_speeds, const VerifierParams& params) {
  double speed = params.fibre_km_per_ms;
  for (double s : implied_speeds) {
    if (std::isfinite(s)) speed = std::max(speed, s);
  }
  return speed;
}

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kVerified:
      return "verified";
    case Verdict::kContradicted:
      return "contradicted";
    case Verdict::kUnverified:
      break;
  }
  return "unverified";
}

LocationResult EvaluateLocation(GeoPoint site, absl::Span<const DiskInput> disks,
                                absl::Span<const LandmarkSite> landmarks,
                                const VerifierParams& params, absl::Time now) {
  LocationResult result;
  const Disk* excluding = nullptr;
  const Disk* proving = nullptr;
  result.disks.reserve(disks.size());
  for (const DiskInput& in : disks) {
    Disk d;
    d.input = in;
    d.radius_km = RadiusKm(in.rtt_min_ms, in.speed_km_per_ms, params);
    d.distance_to_site_km = GreatCircleKm(in.center, site);
    d.contains_site = d.distance_to_site_km <= d.radius_km + params.site_tolerance_km;
    d.fresh = in.measured_at <= now + absl::Minutes(5) && now - in.measured_at <= params.max_age;
    result.disks.push_back(d);
  }
  for (const Disk& d : result.disks) {
    if (!d.fresh) continue;
    // The most decisive exclusion: the largest margin by which the site lies outside.
    if (!d.contains_site &&
        (excluding == nullptr || d.distance_to_site_km - d.radius_km >
                                     excluding->distance_to_site_km - excluding->radius_km)) {
      excluding = &d;
    }
    if (d.contains_site && d.radius_km <= params.proof_radius_km &&
        (proving == nullptr || d.radius_km < proving->radius_km)) {
      proving = &d;
    }
  }
  if (excluding != nullptr) {
    result.verdict = Verdict::kContradicted;
    result.reason = absl::StrFormat(
        "landmark %s measured %.3f ms: the node is within %.0f km of it, but the declared site "
        "is %.0f km away",
        excluding->input.landmark_id, excluding->input.rtt_min_ms, excluding->radius_km,
        excluding->distance_to_site_km);
    return result;
  }
  if (proving != nullptr) {
    result.verdict = Verdict::kVerified;
    result.reason = absl::StrFormat(
        "landmark %s measured %.3f ms: the node is within %.0f km of it, and the declared site "
        "(%.0f km away) lies inside every fresh disk",
        proving->input.landmark_id, proving->input.rtt_min_ms, proving->radius_km,
        proving->distance_to_site_km);
    return result;
  }
  result.verdict = Verdict::kUnverified;
  const LandmarkSite* nearest = nullptr;
  double nearest_km = std::numeric_limits<double>::infinity();
  for (const LandmarkSite& lm : landmarks) {
    const double km = GreatCircleKm(lm.position, site);
    if (km < nearest_km) {
      nearest_km = km;
      nearest = &lm;
    }
  }
  if (nearest != nullptr) {
    result.needed_landmark_id = nearest->landmark_id;
    result.needed_landmark_distance_km = nearest_km;
  }
  size_t fresh = 0;
  double smallest = std::numeric_limits<double>::infinity();
  for (const Disk& d : result.disks) {
    if (!d.fresh) continue;
    ++fresh;
    smallest = std::min(smallest, d.radius_km);
  }
  if (fresh == 0) {
    result.reason = "no fresh measurement from any landmark";
  } else {
    result.reason = absl::StrFormat(
        "the smallest fresh disk is %.0f km, larger than the %.0f km that proves the site",
        smallest, params.proof_radius_km);
  }
  if (nearest == nullptr) {
    absl::StrAppend(&result.reason, "; no landmark is configured");
  } else if (nearest_km > params.proof_radius_km) {
    absl::StrAppend(&result.reason,
                    absl::StrFormat("; the nearest landmark, %s, is %.0f km from the site: a "
                                    "landmark within %.0f km is needed",
                                    nearest->landmark_id, nearest_km, params.proof_radius_km));
  } else {
    absl::StrAppend(&result.reason,
                    absl::StrFormat("; a fresh measurement from %s (%.0f km from the site) would "
                                    "prove it",
                                    nearest->landmark_id, nearest_km));
  }
  return result;
}

}  // namespace prov::location
