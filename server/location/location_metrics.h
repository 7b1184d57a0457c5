// Location verification's Prometheus metrics (issue 11):
//   prov_location_records_accepted_total                 landmark records stored
//   prov_location_records_refused_total{reason}          refused, by LocationBook reason
//   prov_location_forged_answers_total                   forged / invalid node answers seen
//   prov_location_verdicts{verdict}                      nodes per verdict now
//   prov_location_landmark_last_record_age_seconds{landmark}  since its newest accepted record
//                                                        (-1: none since provd first saw it)
// Thread-safe (prometheus-cpp metrics are).
#pragma once

#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace prov::server::location {

class LocationMetrics {
 public:
  // `registry` may be null: the metrics then live in a private registry.
  explicit LocationMetrics(prometheus::Registry* registry);

  void Accepted() { accepted_->Increment(); }
  void Refused(const std::string& reason);
  void Forged() { forged_->Increment(); }
  void SetVerdicts(double verified, double unverified, double contradicted);
  void SetLandmarkAge(const std::string& landmark, double seconds);

 private:
  std::shared_ptr<prometheus::Registry> own_;
  prometheus::Registry& registry_;
  prometheus::Counter* accepted_;
  prometheus::Family<prometheus::Counter>* refused_;
  prometheus::Counter* forged_;
  prometheus::Gauge* verified_;
  prometheus::Gauge* unverified_;
  prometheus::Gauge* contradicted_;
  prometheus::Family<prometheus::Gauge>* ages_;
  absl::Mutex mu_;
  std::map<std::string, prometheus::Counter*> refused_by_reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server::location
