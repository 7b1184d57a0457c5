// Fakes for alert notifier tests: a FlagSource filled by hand and an AlertPoster that records
// every POST and can be told to fail.
//
//   FakeFlagSource source(SEVERITY_HIGH);
//   source.Set(flag);                       // also queued as a change
//   FakeAlertPoster poster;
//   poster.Fail("http://am-2", absl::UnavailableError("down"));
//   poster.posts()  // [{url, alerts (parsed JSON array)}]
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "server/alerting/alert_poster.h"
#include "server/alerting/flag_source.h"

namespace prov::server::testing {

class FakeFlagSource final : public FlagSource {
 public:
  explicit FakeFlagSource(provenance::v1::Severity min) : min_(min) {}
  void Set(const provenance::v1::Flag& f) {
    absl::MutexLock lock(&mu_);
    flags_[f.flag_id()] = f;
    changes_.push_back(f);
  }
  void Remove(const std::string& id) {
    absl::MutexLock lock(&mu_);
    flags_.erase(id);
  }
  std::vector<provenance::v1::Flag> FiringFlags() override {
    absl::MutexLock lock(&mu_);
    std::vector<provenance::v1::Flag> out;
    for (const auto& [id, f] : flags_) {
      if (FlagFires(f, min_)) out.push_back(f);
    }
    return out;
  }
  std::optional<provenance::v1::Flag> GetFlag(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    auto it = flags_.find(id);
    if (it == flags_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<provenance::v1::Flag> WaitForChanges(absl::Duration) override {
    absl::MutexLock lock(&mu_);
    return std::exchange(changes_, {});
  }

 private:
  const provenance::v1::Severity min_;
  absl::Mutex mu_;
  std::map<std::string, provenance::v1::Flag> flags_ ABSL_GUARDED_BY(mu_);
  std::vector<provenance::v1::Flag> changes_ ABSL_GUARDED_BY(mu_);
};

struct RecordedPost {
  std::string url;
  nlohmann::json alerts;
};

class FakeAlertPoster final : public AlertPoster {
 public:
  // Shared state, so a test keeps access after handing the poster to the notifier.
  struct State {
    absl::Mutex mu;
    std::vector<RecordedPost> posts ABSL_GUARDED_BY(mu);
    std::map<std::string, absl::Status> fail ABSL_GUARDED_BY(mu);
    uint64_t attempts ABSL_GUARDED_BY(mu) = 0;
  };
  explicit FakeAlertPoster(std::shared_ptr<State> state) : state_(std::move(state)) {}
  absl::Status Post(const std::string& url, const std::string& body) override {
    absl::MutexLock lock(&state_->mu);
    ++state_->attempts;
    auto it = state_->fail.find(url);
    if (it != state_->fail.end() && !absl::IsInvalidArgument(it->second)) return it->second;
    state_->posts.push_back({url, nlohmann::json::parse(body)});
    return it != state_->fail.end() ? it->second : absl::OkStatus();
  }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace prov::server::testing
