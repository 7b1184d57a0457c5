#include "tools/bench/prom_scrape.h"

#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "httplib.h"

namespace prov::bench {

absl::StatusOr<std::string> ScrapeMetrics(const std::string& host, int port) {
  httplib::Client client(host, port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(5, 0);
  httplib::Result r = client.Get("/metrics");
  if (!r) {
    return absl::UnavailableError(
        absl::StrCat("GET http://", host, ":", port, "/metrics: ", httplib::to_string(r.error())));
  }
  if (r->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("GET http://", host, ":", port, "/metrics: HTTP ", r->status));
  }
  return r->body;
}

absl::StatusOr<double> MetricValue(absl::string_view page, absl::string_view name) {
  double sum = 0;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(page, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#") || !absl::ConsumePrefix(&line, name)) continue;
    if (line.empty() || (line[0] != ' ' && line[0] != '{')) continue;  // a longer name
    if (line[0] == '{') {
      const size_t close = line.rfind('}');
      if (close == absl::string_view::npos) continue;
      line.remove_prefix(close + 1);
    }
    line = absl::StripAsciiWhitespace(line);
    const std::string value(line.substr(0, line.find(' ')));  // a timestamp may follow
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (end == value.c_str()) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", name, ": \"", value, "\" is not a number"));
    }
    sum += v;
    found = true;
  }
  if (!found) return absl::NotFoundError(absl::StrCat("no sample of ", name, " on the page"));
  return sum;
}

}  // namespace prov::bench
