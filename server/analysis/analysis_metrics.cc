#include "server/analysis/analysis_metrics.h"

#include <map>
#include <string>
#include <tuple>

#include "absl/strings/ascii.h"

namespace prov::server {
namespace {

prometheus::MetricFamily Family(const char* name, const char* help, prometheus::MetricType type) {
  return prometheus::MetricFamily{name, help, type, {}};
}

void Gauge(prometheus::MetricFamily& f, double value,
           std::map<std::string, std::string> labels = {}) {
  prometheus::ClientMetric m;
  m.gauge.value = value;
  for (auto& [k, v] : labels) m.label.push_back({k, v});
  f.metric.push_back(std::move(m));
}

void Counter(prometheus::MetricFamily& f, double value,
             std::map<std::string, std::string> labels = {}) {
  prometheus::ClientMetric m;
  m.counter.value = value;
  for (auto& [k, v] : labels) m.label.push_back({k, v});
  f.metric.push_back(std::move(m));
}

void AddGauge(std::vector<prometheus::MetricFamily>& out, const char* name, const char* help,
              double value) {
  auto f = Family(name, help, prometheus::MetricType::Gauge);
  Gauge(f, value);
  out.push_back(std::move(f));
}

void AddCounter(std::vector<prometheus::MetricFamily>& out, const char* name, const char* help,
                double value) {
  auto f = Family(name, help, prometheus::MetricType::Counter);
  Counter(f, value);
  out.push_back(std::move(f));
}

std::string Lower(const std::string& enum_name, const std::string& prefix) {
  return absl::AsciiStrToLower(enum_name.substr(prefix.size()));
}

}  // namespace

std::vector<prometheus::MetricFamily> AnalysisCollector::Collect() const {
  using Key = std::tuple<std::string, std::string, std::string>;  // severity, rule, status
  struct Snapshot {
    std::map<Key, int> flags;
    AnalyzerStats stats;
    size_t near_tier = 0;
  };
  Snapshot snap = engine_.Read([](const Analyzer& a) {
    Snapshot s;
    for (const auto& f : a.ListFlags({})) {
      // The rule family ("compute_tier", "screening_hit", ...) keeps label cardinality small.
      const std::string family = f.rule().substr(0, f.rule().find(':'));
      ++s.flags[{Lower(provenance::v1::Severity_Name(f.severity()), "SEVERITY_"), family,
                 Lower(provenance::v1::FlagStatus_Name(f.status()), "FLAG_STATUS_")}];
    }
    s.stats = a.stats();
    s.near_tier = a.BundlesNearTier();
    return s;
  });
  const AnalysisCounters counters = engine_.counters();
  std::vector<prometheus::MetricFamily> out;
  auto flags = Family("prov_flags", "Flags by severity, rule family and status.",
                      prometheus::MetricType::Gauge);
  for (const auto& [key, n] : snap.flags) {
    Gauge(
        flags, n,
        {{"severity", std::get<0>(key)}, {"rule", std::get<1>(key)}, {"status", std::get<2>(key)}});
  }
  out.push_back(std::move(flags));
  auto bundles = Family("prov_bundles", "Bundles (suspected training lineages).",
                        prometheus::MetricType::Gauge);
  Gauge(bundles, static_cast<double>(snap.stats.bundles), {{"kind", "all"}});
  Gauge(bundles, static_cast<double>(snap.stats.multi_account_bundles),
        {{"kind", "multi_account"}});
  out.push_back(std::move(bundles));
  auto near = Family("prov_bundles_near_tier",
                     "Bundles whose estimated training FLOP is within 10x below their next tier.",
                     prometheus::MetricType::Gauge);
  Gauge(near, static_cast<double>(snap.near_tier));
  out.push_back(std::move(near));
  auto links = Family("prov_analysis_links", "Evidence links between accounts held by provd.",
                      prometheus::MetricType::Gauge);
  Gauge(links, static_cast<double>(snap.stats.links));
  out.push_back(std::move(links));
  auto overdue = Family("prov_hardware_overdue_nodes",
                        "Nodes past their silence deadline (policy hardware.silent_*) now.",
                        prometheus::MetricType::Gauge);
  Gauge(overdue, static_cast<double>(snap.stats.overdue_nodes));
  out.push_back(std::move(overdue));
  auto held = Family("prov_hardware_silence_held_nodes",
                     "Silent nodes whose hardware_silent flag is held while many nodes are silent "
                     "at once (an outage of ingest or the network; policy hardware.outage_*).",
                     prometheus::MetricType::Gauge);
  Gauge(held, static_cast<double>(snap.stats.silence_held_nodes));
  out.push_back(std::move(held));
  auto outages = Family("prov_hardware_silence_outages_total",
                        "Times many nodes fell silent at once (policy hardware.outage_*).",
                        prometheus::MetricType::Counter);
  Counter(outages, static_cast<double>(snap.stats.silence_outages));
  out.push_back(std::move(outages));
  auto pending = Family("prov_analysis_pending_reports", "Reports committed but not yet analysed.",
                        prometheus::MetricType::Gauge);
  Gauge(pending, static_cast<double>(engine_.pending()));
  out.push_back(std::move(pending));
  auto capacity = Family("prov_analysis_queue_capacity",
                         "Reports the analysis queue holds before the ingest writer waits for it.",
                         prometheus::MetricType::Gauge);
  Gauge(capacity, static_cast<double>(engine_.max_pending()));
  out.push_back(std::move(capacity));
  auto reports =
      Family("prov_analysis_reports_total", "Reports analysed.", prometheus::MetricType::Counter);
  Counter(reports, static_cast<double>(counters.reports));
  out.push_back(std::move(reports));
  auto failures = Family("prov_analysis_save_failures_total",
                         "Failed saves of analysis changes (retried with the next batch).",
                         prometheus::MetricType::Counter);
  Counter(failures, static_cast<double>(counters.save_failures));
  out.push_back(std::move(failures));
  auto busy = Family("prov_analysis_busy_seconds_total",
                     "Wall time the analysis thread spent analysing and saving.",
                     prometheus::MetricType::Counter);
  Counter(busy, counters.busy_seconds);
  out.push_back(std::move(busy));
  AddGauge(out, "prov_analysis_leading",
           "1 when this replica's analysis engine evaluates and saves (the elected leader).",
           engine_.leading() ? 1 : 0);
  AddCounter(out, "prov_analysis_dropped_not_leader_total",
             "Observations and node events dropped because this engine does not lead.",
             static_cast<double>(counters.dropped_not_leader));
  AddCounter(out, "prov_analysis_deposed_total",
             "Analysis saves refused because a newer leader term began.",
             static_cast<double>(counters.deposed));
  auto reloads = Family("prov_analysis_reloads_total",
                        "Analysis state reloads from the store (Lead, Follow, Reload).",
                        prometheus::MetricType::Counter);
  Counter(reloads, static_cast<double>(counters.reloads), {{"result", "ok"}});
  Counter(reloads, static_cast<double>(counters.reload_failures), {{"result", "failed"}});
  out.push_back(std::move(reloads));
  return out;
}

std::vector<prometheus::MetricFamily> IngestFeedCollector::Collect() const {
  const IngestFeedCounters c = feed_.counters();
  std::vector<prometheus::MetricFamily> out;
  AddCounter(out, "prov_analysis_feed_batches_total", "Ingest batches read from the batch log.",
             static_cast<double>(c.batches));
  AddCounter(out, "prov_analysis_feed_reports_total",
             "Observations read from the batch log and handed to the analysis engine.",
             static_cast<double>(c.reports));
  AddCounter(out, "prov_analysis_feed_node_events_total",
             "Node events (rejection and refusal rounds of any replica) read from the batch log "
             "and handed to the analysis engine.",
             static_cast<double>(c.node_events));
  AddCounter(out, "prov_analysis_feed_decode_errors_total",
             "Ingest batches whose record did not decode (skipped).",
             static_cast<double>(c.decode_errors));
  AddCounter(out, "prov_analysis_feed_read_errors_total",
             "Failed reads of the ingest batch log (retried).", static_cast<double>(c.read_errors));
  AddGauge(out, "prov_analysis_feed_seen",
           "Batches the feed's position holds above its horizon (an old open transaction "
           "holds the horizon back).",
           static_cast<double>(c.seen));
  AddGauge(out, "prov_analysis_feed_lag_seconds",
           "Age of the oldest batch the last read returned while the feed was behind (0 when "
           "caught up).",
           c.lag_seconds);
  return out;
}

}  // namespace prov::server
