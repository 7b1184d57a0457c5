#include <httplib.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/alerting/alert_poster.h"

namespace prov::server {
namespace {

// Splits "http://h:p/prefix/" into ("http://h:p", "/prefix").
absl::Status SplitUrl(absl::string_view url, std::string* origin, std::string* prefix) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://") && !absl::ConsumePrefix(&rest, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("alertmanager url \"", url, "\": must start with http:// or https://"));
  }
  const size_t slash = rest.find('/');
  absl::string_view host = rest.substr(0, slash);
  if (host.empty() || absl::StartsWith(host, ":")) {
    return absl::InvalidArgumentError(absl::StrCat("alertmanager url \"", url, "\": no host"));
  }
  if (host.find_first_of("?#@ ") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("alertmanager url \"", url, "\": unexpected character in host"));
  }
  absl::string_view path = slash == absl::string_view::npos ? "" : rest.substr(slash);
  if (path.find_first_of("?#") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("alertmanager url \"", url, "\": no query or fragment allowed"));
  }
  while (absl::ConsumeSuffix(&path, "/")) {
  }
  *origin = std::string(url.substr(0, url.size() - rest.size() + host.size()));
  *prefix = std::string(path);
  return absl::OkStatus();
}

std::string Truncated(const std::string& body) {
  return body.size() <= 512 ? body : absl::StrCat(body.substr(0, 512), "...");
}

}  // namespace

absl::Status ValidateAlertmanagerUrl(absl::string_view url) {
  std::string origin, prefix;
  return SplitUrl(url, &origin, &prefix);
}

HttpAlertPoster::HttpAlertPoster(Options options) : options_(options) {}
HttpAlertPoster::~HttpAlertPoster() = default;

absl::Status HttpAlertPoster::Post(const std::string& base_url, const std::string& body) {
  auto it = endpoints_.find(base_url);
  if (it == endpoints_.end()) {
    std::string origin, prefix;
    if (absl::Status s = SplitUrl(base_url, &origin, &prefix); !s.ok()) return s;
    Endpoint e;
    e.client = std::make_unique<httplib::Client>(origin);
    const auto us = [](absl::Duration d) { return absl::ToInt64Microseconds(d); };
    e.client->set_connection_timeout(us(options_.connect_timeout) / 1000000,
                                     us(options_.connect_timeout) % 1000000);
    e.client->set_read_timeout(us(options_.timeout) / 1000000, us(options_.timeout) % 1000000);
    e.client->set_write_timeout(us(options_.timeout) / 1000000, us(options_.timeout) % 1000000);
    e.client->set_keep_alive(true);
    e.path = absl::StrCat(prefix, "/api/v2/alerts");
    it = endpoints_.emplace(base_url, std::move(e)).first;
  }
  httplib::Result res = it->second.client->Post(it->second.path, body, "application/json");
  if (!res) {
    return absl::UnavailableError(
        absl::StrCat("POST ", base_url, it->second.path, ": ", httplib::to_string(res.error())));
  }
  if (res->status >= 200 && res->status < 300) return absl::OkStatus();
  std::string message = absl::StrCat("POST ", base_url, it->second.path, ": HTTP ", res->status,
                                     ": ", Truncated(res->body));
  if (res->status >= 400 && res->status < 500 && res->status != 408 && res->status != 429) {
    return absl::InvalidArgumentError(message);
  }
  return absl::UnavailableError(message);
}

}  // namespace prov::server
