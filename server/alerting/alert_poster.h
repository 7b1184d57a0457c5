// AlertPoster: the one seam between the alert notifier and the network. The real one
// (HttpAlertPoster) POSTs to Alertmanager's API v2 with cpp-httplib; unit tests use a fake.
//
//   HttpAlertPoster poster({.timeout = absl::Seconds(5)});
//   absl::Status s = poster.Post("http://am.example:9093", R"([{"labels":{...}, ...}])");
//
// Post() sends `body` (a JSON array of PostableAlert) to <base_url>/api/v2/alerts. Result:
//   OK                   2xx: Alertmanager accepted every alert
//   INVALID_ARGUMENT     4xx: Alertmanager refused some alert (it still stores the valid ones);
//                        resending the same batch cannot help. The message has status and body.
//   UNAVAILABLE          no connection, timeout, 5xx or anything else: retry later.
// Thread-compatible: the notifier thread is its only caller (clients are cached per URL).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace httplib {
class Client;
}

namespace prov::server {

class AlertPoster {
 public:
  virtual ~AlertPoster() = default;
  virtual absl::Status Post(const std::string& base_url, const std::string& body) = 0;
};

// "http[s]://host[:port][/path-prefix]" (Alertmanager's --web.route-prefix); INVALID_ARGUMENT
// naming what is wrong otherwise.
absl::Status ValidateAlertmanagerUrl(absl::string_view url);

class HttpAlertPoster final : public AlertPoster {
 public:
  struct Options {
    absl::Duration connect_timeout = absl::Seconds(2);
    absl::Duration timeout = absl::Seconds(5);  // read and write
  };
  HttpAlertPoster() : HttpAlertPoster(Options{}) {}
  explicit HttpAlertPoster(Options options);
  ~HttpAlertPoster() override;
  absl::Status Post(const std::string& base_url, const std::string& body) override;

 private:
  struct Endpoint {
    std::unique_ptr<httplib::Client> client;
    std::string path;  // "<prefix>/api/v2/alerts"
  };
  const Options options_;
  std::map<std::string, Endpoint> endpoints_;
};

}  // namespace prov::server
