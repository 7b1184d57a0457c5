#include "server/location/location_metrics.h"

#include <memory>

namespace prov::server::location {

LocationMetrics::LocationMetrics(prometheus::Registry* registry)
    : own_(registry == nullptr ? std::make_shared<prometheus::Registry>() : nullptr),
      registry_(registry == nullptr ? *own_ : *registry) {
  accepted_ = &prometheus::BuildCounter()
                   .Name("prov_location_records_accepted_total")
                   .Help("Landmark measurement records accepted and stored")
                   .Register(registry_)
                   .Add({});
  refused_ = &prometheus::BuildCounter()
                  .Name("prov_location_records_refused_total")
                  .Help("Landmark measurement records refused, by reason")
                  .Register(registry_);
  forged_ = &prometheus::BuildCounter()
                 .Name("prov_location_forged_answers_total")
                 .Help("Records with a node answer its key did not sign, or invalid answers")
                 .Register(registry_)
                 .Add({});
  auto& verdicts = prometheus::BuildGauge()
                       .Name("prov_location_verdicts")
                       .Help("Nodes per location verdict")
                       .Register(registry_);
  verified_ = &verdicts.Add({{"verdict", "verified"}});
  unverified_ = &verdicts.Add({{"verdict", "unverified"}});
  contradicted_ = &verdicts.Add({{"verdict", "contradicted"}});
  ages_ = &prometheus::BuildGauge()
               .Name("prov_location_landmark_last_record_age_seconds")
               .Help("Seconds since each landmark's newest accepted record (-1: none)")
               .Register(registry_);
}

void LocationMetrics::Refused(const std::string& reason) {
  absl::MutexLock lock(&mu_);
  auto& c = refused_by_reason_[reason];
  if (c == nullptr) c = &refused_->Add({{"reason", reason}});
  c->Increment();
}

void LocationMetrics::SetVerdicts(double verified, double unverified, double contradicted) {
  verified_->Set(verified);
  unverified_->Set(unverified);
  contradicted_->Set(contradicted);
}

void LocationMetrics::SetLandmarkAge(const std::string& landmark, double seconds) {
  ages_->Add({{"landmark", landmark}}).Set(seconds);
}

}  // namespace prov::server::location
