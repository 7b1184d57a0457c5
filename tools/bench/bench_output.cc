#include "tools/bench/bench_output.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace prov::bench {
namespace {

struct Row {
  const char* label;
  const char* json_key;
  std::function<double(const LoadResult&)> value;
  int decimals;
  bool ratio;  // print provd/sink for this row
};

constexpr double kMiB = 1024.0 * 1024.0;

std::vector<Row> Rows(LoadMode mode) {
  std::vector<Row> rows = {
      {"agents connected", "connected", [](const LoadResult& r) { return r.connected; }, 0, false},
      {"connect time (s)", "connect_seconds", [](const LoadResult& r) { return r.connect_seconds; },
       1, false},
      {"window (s)", "window_seconds", [](const LoadResult& r) { return r.window_seconds; }, 1,
       false},
  };
  if (mode == LoadMode::kCadence) {
    rows.push_back({"reports due", "requested",
                    [](const LoadResult& r) { return static_cast<double>(r.requested); }, 0,
                    false});
  }
  std::vector<Row> more = {
      {"reports sent", "sent", [](const LoadResult& r) { return static_cast<double>(r.sent); }, 0,
       false},
      {"reports acked", "acked", [](const LoadResult& r) { return static_cast<double>(r.acked); },
       0, true},
      {"reports rejected", "rejected",
       [](const LoadResult& r) { return static_cast<double>(r.rejected); }, 0, false},
      {"unacked at end", "unacked_at_end",
       [](const LoadResult& r) { return static_cast<double>(r.unacked_at_end); }, 0, false},
      {"streams failed", "streams_failed",
       [](const LoadResult& r) { return static_cast<double>(r.streams_failed); }, 0, false},
      {"reports/s", "reports_per_second", [](const LoadResult& r) { return r.reports_per_second; },
       0, true},
      {"ack latency p50 (ms)", "latency_p50_ms",
       [](const LoadResult& r) { return r.latency_p50_ms; }, 1, true},
      {"ack latency p99 (ms)", "latency_p99_ms",
       [](const LoadResult& r) { return r.latency_p99_ms; }, 1, true},
      {"ack latency max (ms)", "latency_max_ms",
       [](const LoadResult& r) { return r.latency_max_ms; }, 1, true},
      {"target CPU (s)", "target_cpu_seconds",
       [](const LoadResult& r) { return r.target_cpu_seconds; }, 2, true},
      {"target cores busy", "target_cores", [](const LoadResult& r) { return r.target_cores; }, 2,
       true},
      {"target CPU/report (us)", "target_cpu_us_per_report",
       [](const LoadResult& r) { return r.target_cpu_us_per_report; }, 1, true},
      {"target connect CPU (s)", "target_connect_cpu_seconds",
       [](const LoadResult& r) { return r.target_connect_cpu_seconds; }, 2, true},
      {"target RSS idle (MiB)", "target_rss_idle_mib",
       [](const LoadResult& r) { return r.target_rss_idle / kMiB; }, 1, true},
      {"target RSS connected (MiB)", "target_rss_connected_mib",
       [](const LoadResult& r) { return r.target_rss_connected / kMiB; }, 1, true},
      {"target RSS end (MiB)", "target_rss_end_mib",
       [](const LoadResult& r) { return r.target_rss_end / kMiB; }, 1, true},
      {"target peak RSS (MiB)", "target_peak_rss_mib",
       [](const LoadResult& r) { return r.target_peak_rss / kMiB; }, 1, true},
      {"target threads", "target_threads", [](const LoadResult& r) { return r.target_threads; }, 0,
       false},
      {"generator CPU (s)", "generator_cpu_seconds",
       [](const LoadResult& r) { return r.generator_cpu_seconds; }, 2, false},
      {"generator cores busy", "generator_cores",
       [](const LoadResult& r) { return r.generator_cores; }, 2, false},
      {"generator peak RSS (MiB)", "generator_peak_rss_mib",
       [](const LoadResult& r) { return r.generator_peak_rss / kMiB; }, 1, false},
      {"machine cores busy (all)", "machine_cores",
       [](const LoadResult& r) { return r.machine_cores; }, 2, false},
      {"other processes' cores", "other_cores", [](const LoadResult& r) { return r.other_cores; },
       2, false},
  };
  rows.insert(rows.end(), more.begin(), more.end());
  return rows;
}

std::string ModeName(LoadMode m) { return m == LoadMode::kSaturation ? "saturation" : "cadence"; }

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string FormatTable(const std::vector<TargetRun>& runs, const LoadOptions& o) {
  std::string out = absl::StrFormat(
      "\nprov-ingest-bench: mode %s, %d agents (one connection each), window %d, %s%s\n",
      ModeName(o.mode), o.agents, o.window, absl::FormatDuration(o.duration),
      o.mode == LoadMode::kCadence ? absl::StrCat(", interval ", absl::FormatDuration(o.interval))
                                   : "");
  for (const TargetRun& run : runs) {
    if (run.result.ok()) {
      out += absl::StrFormat("  %s: report %d bytes serialized%s\n", run.name,
                             run.result->report_bytes,
                             run.result->first_error.empty()
                                 ? ""
                                 : absl::StrCat("; first error: ", run.result->first_error));
    } else {
      out += absl::StrFormat("  %s: FAILED: %s\n", run.name, run.result.status().ToString());
    }
  }
  // Ratio columns: every later successful run against the first one (provd/sink; with
  // --targets sink,provd,sink the second ratio shows how much the baseline drifted).
  std::vector<size_t> ratio_runs;
  if (!runs.empty() && runs[0].result.ok()) {
    for (size_t i = 1; i < runs.size(); ++i) {
      if (runs[i].result.ok()) ratio_runs.push_back(i);
    }
  }
  out += absl::StrFormat("%-28s", "");
  for (const TargetRun& run : runs) out += absl::StrFormat("%14s", run.name);
  for (size_t i : ratio_runs) {
    out += absl::StrFormat("%14s", absl::StrCat(runs[i].name, "/", runs[0].name));
  }
  out += "\n";
  for (const Row& row : Rows(o.mode)) {
    out += absl::StrFormat("%-28s", row.label);
    for (const TargetRun& run : runs) {
      out += run.result.ok() ? absl::StrFormat("%14.*f", row.decimals, row.value(*run.result))
                             : absl::StrFormat("%14s", "-");
    }
    for (size_t i : ratio_runs) {
      const double base = row.value(*runs[0].result);
      out += row.ratio && base != 0 ? absl::StrFormat("%13.2fx", row.value(*runs[i].result) / base)
                                    : absl::StrFormat("%14s", "");
    }
    out += "\n";
  }
  return out;
}

std::string FormatJson(const std::vector<TargetRun>& runs, const LoadOptions& o) {
  std::vector<std::string> targets;
  for (const TargetRun& run : runs) {
    std::vector<std::string> fields = {
        absl::StrCat("\"name\": ", JsonString(run.name)),
        absl::StrCat("\"ok\": ", run.result.ok() ? "true" : "false")};
    if (!run.result.ok()) {
      fields.push_back(absl::StrCat("\"error\": ", JsonString(run.result.status().ToString())));
    } else {
      fields.push_back(absl::StrCat("\"report_bytes\": ", run.result->report_bytes));
      fields.push_back(absl::StrCat("\"first_error\": ", JsonString(run.result->first_error)));
      for (const Row& row : Rows(o.mode)) {
        fields.push_back(absl::StrFormat("\"%s\": %.*f", row.json_key, row.decimals + 2,
                                         row.value(*run.result)));
      }
      if (&run != &runs[0] && runs[0].result.ok()) {
        std::vector<std::string> ratios;
        for (const Row& row : Rows(o.mode)) {
          const double base = row.value(*runs[0].result);
          if (row.ratio && base != 0) {
            ratios.push_back(
                absl::StrFormat("\"%s\": %.4f", row.json_key, row.value(*run.result) / base));
          }
        }
        fields.push_back(
            absl::StrCat("\"ratio_to_", runs[0].name, "\": {", absl::StrJoin(ratios, ", "), "}"));
      }
    }
    targets.push_back(absl::StrCat("    {", absl::StrJoin(fields, ", "), "}"));
  }
  return absl::StrFormat(
      "{\n  \"mode\": \"%s\", \"agents\": %d, \"window\": %d, \"seconds\": %.1f, "
      "\"interval_seconds\": %.1f,\n  \"targets\": [\n%s\n  ]\n}\n",
      ModeName(o.mode), o.agents, o.window, absl::ToDoubleSeconds(o.duration),
      absl::ToDoubleSeconds(o.interval), absl::StrJoin(targets, ",\n"));
}

}  // namespace prov::bench
