#include "common/log/log.h"

#include <atomic>
#include <chrono>
#include <iostream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/logger.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace prov::log {

absl::StatusOr<Level> ParseLevel(absl::string_view text) {
  const std::string t = absl::AsciiStrToLower(text);
  if (t == "debug") return Level::kDebug;
  if (t == "info") return Level::kInfo;
  if (t == "warn" || t == "warning") return Level::kWarn;
  if (t == "error") return Level::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("\"", text, "\" is not one of debug, info, warn, error"));
}

absl::StatusOr<Format> ParseFormat(absl::string_view text) {
  const std::string t = absl::AsciiStrToLower(text);
  if (t == "text") return Format::kText;
  if (t == "json") return Format::kJson;
  return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not one of text, json"));
}

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

namespace {

// The time is spdlog's part of every line (the pattern); the rest is Logger::Body.
constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%eZ %v";
constexpr char kJsonPattern[] = "{\"time\":\"%Y-%m-%dT%H:%M:%S.%eZ\",%v}";
constexpr absl::Duration kWindow = absl::Minutes(1);

std::unique_ptr<spdlog::logger> MakeSink(const LogOptions& o) {
  spdlog::sink_ptr sink;
  if (o.out != nullptr) {
    sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*o.out, /*force_flush=*/true);
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  auto logger = std::make_unique<spdlog::logger>("prov", std::move(sink));
  logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      o.format == Format::kJson ? kJsonPattern : kTextPattern, spdlog::pattern_time_type::utc));
  logger->set_level(spdlog::level::trace);  // levels are filtered before formatting, here
  logger->flush_on(spdlog::level::trace);
  return logger;
}

}  // namespace

Logger::Logger(LogOptions options)
    : options_(options),
      clock_(options.clock != nullptr ? *options.clock : RealClock::Get()),
      sink_(MakeSink(options)) {}

Logger::~Logger() = default;

void Logger::Log(const CallSite& site, Level level, absl::string_view component,
                 absl::string_view message, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  const absl::Time now = clock_.Now();
  uint64_t suppressed_before = 0;
  std::string suppressed_component;
  bool write = false;
  {
    absl::MutexLock lock(&mu_);
    SiteState& s = sites_[&site];
    if (now - s.window_start >= kWindow || now < s.window_start) {
      suppressed_before = s.suppressed;
      suppressed_component = std::move(s.component);
      s.window_start = now;
      s.written = 0;
      s.suppressed = 0;
    }
    if (s.written < options_.per_site_per_minute) {
      ++s.written;
      write = true;
    } else {
      ++s.suppressed;
      ++suppressed_total_;
      if (s.component.empty()) s.component = std::string(component);
    }
  }
  if (suppressed_before > 0) WriteSuppressed(now, site, suppressed_component, suppressed_before);
  if (write) {
    written_[static_cast<size_t>(level)].fetch_add(1, std::memory_order_relaxed);
    Write(now, level, component, message, fields);
  }
}

void Logger::FlushSuppressed() {
  std::vector<std::tuple<const CallSite*, std::string, uint64_t>> pending;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [site, s] : sites_) {
      if (s.suppressed == 0) continue;
      pending.emplace_back(site, std::move(s.component), s.suppressed);
      s.suppressed = 0;
      s.component.clear();
    }
  }
  const absl::Time now = clock_.Now();
  for (const auto& [site, component, count] : pending) {
    WriteSuppressed(now, *site, component, count);
  }
}

uint64_t Logger::suppressed_total() const {
  absl::MutexLock lock(&mu_);
  return suppressed_total_;
}

void Logger::WriteSuppressed(absl::Time time, const CallSite& site, const std::string& component,
                             uint64_t count) {
  Write(time, Level::kWarn, component.empty() ? "log" : component,
        absl::StrCat("suppressed ", count, " messages"),
        {{"site", absl::StrCat(site.file, ":", site.line)},
         {"suppressed", count},
         {"limit_per_minute", options_.per_site_per_minute}});
}

void Logger::Write(absl::Time time, Level level, absl::string_view component,
                   absl::string_view message, std::initializer_list<Field> fields) {
  const std::string body = Body(options_.format, level, component, message, fields);
  const auto when = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          absl::ToChronoNanoseconds(time - absl::UnixEpoch())));
  spdlog::level::level_enum spd = spdlog::level::info;
  switch (level) {
    case Level::kDebug:
      spd = spdlog::level::debug;
      break;
    case Level::kInfo:
      spd = spdlog::level::info;
      break;
    case Level::kWarn:
      spd = spdlog::level::warn;
      break;
    case Level::kError:
      spd = spdlog::level::err;
      break;
  }
  sink_->log(when, spdlog::source_loc{}, spd, spdlog::string_view_t(body.data(), body.size()));
}

namespace {
std::atomic<Logger*> g_default{nullptr};
}  // namespace

Logger& Default() {
  Logger* logger = g_default.load(std::memory_order_acquire);
  if (logger != nullptr) return *logger;
  static Logger* fallback = new Logger(LogOptions{});
  Logger* expected = nullptr;
  g_default.compare_exchange_strong(expected, fallback, std::memory_order_acq_rel);
  return *g_default.load(std::memory_order_acquire);
}

void SetDefault(std::unique_ptr<Logger> logger) {
  // Never freed: another thread may be writing through the previous one. Every logger ever set
  // stays reachable from `all` (so LeakSanitizer sees a deliberate, bounded retention: main()
  // sets one, tests a few), rather than an unreachable pointer.
  static absl::Mutex mu(absl::kConstInit);
  static std::vector<std::unique_ptr<Logger>>* all = new std::vector<std::unique_ptr<Logger>>();
  absl::MutexLock lock(&mu);
  Logger* raw = logger.get();
  all->push_back(std::move(logger));
  g_default.store(raw, std::memory_order_release);
}

}  // namespace prov::log
