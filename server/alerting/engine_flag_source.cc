#include "server/alerting/flag_source.h"
#include "server/analysis/analysis_engine.h"

namespace prov::server {
namespace {

using provenance::v1::Flag;

class EngineFlagSource final : public FlagSource {
 public:
  EngineFlagSource(AnalysisEngine& engine, provenance::v1::Severity min_severity)
      : engine_(engine), min_severity_(min_severity), watch_(engine.Watch(min_severity)) {}
  ~EngineFlagSource() override { engine_.Unwatch(watch_); }

  std::vector<Flag> FiringFlags() override {
    return engine_.Read([&](const Analyzer& a) {
      std::vector<Flag> out;
      // Three filtered scans copy only the firing flags (resolved ones accumulate for years).
      for (auto status :
           {provenance::v1::FLAG_STATUS_OPEN, provenance::v1::FLAG_STATUS_ACKNOWLEDGED,
            provenance::v1::FLAG_STATUS_ESCALATED}) {
        provenance::v1::ListFlagsRequest req;
        req.set_min_severity(min_severity_);
        req.set_status(status);
        for (Flag& f : a.ListFlags(req)) out.push_back(std::move(f));
      }
      return out;
    });
  }

  std::optional<Flag> GetFlag(const std::string& flag_id) override {
    return engine_.Read([&](const Analyzer& a) -> std::optional<Flag> {
      const Flag* f = a.flag(flag_id);
      if (f == nullptr) return std::nullopt;
      return *f;
    });
  }

  std::vector<Flag> WaitForChanges(absl::Duration timeout) override {
    return watch_->Next(timeout);
  }

 private:
  AnalysisEngine& engine_;
  const provenance::v1::Severity min_severity_;
  std::shared_ptr<FlagWatch> watch_;
};

}  // namespace

bool FlagFires(const Flag& flag, provenance::v1::Severity min_severity) {
  const auto status = flag.status();
  return flag.severity() >= min_severity && (status == provenance::v1::FLAG_STATUS_OPEN ||
                                             status == provenance::v1::FLAG_STATUS_ACKNOWLEDGED ||
                                             status == provenance::v1::FLAG_STATUS_ESCALATED);
}

std::unique_ptr<FlagSource> NewEngineFlagSource(AnalysisEngine& engine,
                                                provenance::v1::Severity min_severity) {
  return std::make_unique<EngineFlagSource>(engine, min_severity);
}

}  // namespace prov::server
