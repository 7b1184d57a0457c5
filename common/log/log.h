// Structured logs for the daemons (provd, prov-agent, prov-landmark): levels, text or JSON
// lines, key=value fields, and a per-call-site rate limit, written through spdlog.
//
//   PROV_LOG_WARN("alerts", "posting to Alertmanager failed", {"url", url}, {"failures", n});
//   // text: 2026-12-06T03:18:05.123Z WARN alerts: posting to Alertmanager failed url=http://am
//   //       failures=3
//   // json: {"time":"2026-12-06T03:18:05.123Z","level":"warn","component":"alerts",
//   //        "msg":"posting to Alertmanager failed","url":"http://am","failures":3}
//
//   prov::log::SetDefault(std::make_unique<prov::log::Logger>(options));   // main(), once,
//                                                                           // before threads
//
// Every record has a time (UTC, milliseconds, from the Logger's Clock), a level, a component
// (the subsystem: "provd", "ingest", "alerts", "uplink"...), a message and any fields. One record
// is one line: control characters in messages and values are escaped, so text from outside
// (a report's strings, a file name) cannot forge records. In JSON, a field named time, level,
// component or msg is written as field_<name>; numbers and booleans stay unquoted.
//
// Rate limit: each PROV_LOG statement (call site) writes at most `per_site_per_minute` records
// per minute; the rest are counted, and the site's next record after the minute (or
// FlushSuppressed, at shutdown) is preceded by one line "suppressed K messages" naming the site.
// A flood of bad reports therefore costs a few lines a minute, not the disk.
//
// Thread-safe. Records below the level cost one comparison (the arguments are still evaluated).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace spdlog {
class logger;
}

namespace prov::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

// "debug", "info", "warn", "error" / "text", "json"; INVALID_ARGUMENT naming the choices.
absl::StatusOr<Level> ParseLevel(absl::string_view text);
absl::StatusOr<Format> ParseFormat(absl::string_view text);
absl::string_view LevelName(Level level);  // "debug".."error"

// One key=value of a record. Strings (and anything convertible to absl::string_view), integers,
// floating point, bool, absl::Duration and absl::Status.
class Field {
 public:
  template <typename T>
  Field(absl::string_view key, const T& value) : key_(key) {
    if constexpr (std::is_same_v<T, bool>) {
      text_ = value ? "true" : "false";
      quoted_ = false;
    } else if constexpr (std::is_integral_v<T>) {
      text_ = absl::StrCat(value);
      quoted_ = false;
    } else if constexpr (std::is_floating_point_v<T>) {
      text_ = absl::StrCat(value);
      quoted_ = !(value == value && value - value == 0);  // NaN and infinities are not JSON numbers
    } else if constexpr (std::is_same_v<T, absl::Duration>) {
      text_ = absl::FormatDuration(value);
    } else if constexpr (std::is_same_v<T, absl::Status>) {
      text_ = std::string(value.message());
    } else {
      text_ = std::string(absl::string_view(value));
    }
  }
  const std::string& key() const { return key_; }
  const std::string& text() const { return text_; }
  bool quoted() const { return quoted_; }  // a string (false: a number or boolean)

 private:
  std::string key_;
  std::string text_;
  bool quoted_ = true;
};

// Where a record comes from: one static per PROV_LOG statement (the rate limit's key).
struct CallSite {
  const char* file;
  int line;
};

struct LogOptions {
  Level level = Level::kInfo;
  Format format = Format::kText;
  int per_site_per_minute = 20;  // records per call site per minute before suppression
  const Clock* clock = nullptr;  // null: RealClock
  std::ostream* out = nullptr;   // null: stderr (not owned; must outlive the Logger)
};

class Logger {
 public:
  explicit Logger(LogOptions options);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool Enabled(Level level) const { return level >= options_.level; }
  void Log(const CallSite& site, Level level, absl::string_view component,
           absl::string_view message, std::initializer_list<Field> fields = {});
  // Writes the pending "suppressed K messages" line of every call site (at shutdown).
  void FlushSuppressed();
  uint64_t suppressed_total() const;  // records dropped by the rate limit so far
  // Records of `level` written so far (not counting "suppressed K messages" lines). Thread-safe.
  uint64_t written(Level level) const {
    return written_[static_cast<size_t>(level)].load(std::memory_order_relaxed);
  }
  const LogOptions& options() const { return options_; }

  // The record's text after the time prefix, as the formats write it (tests, and Log).
  static std::string Body(Format format, Level level, absl::string_view component,
                          absl::string_view message, std::initializer_list<Field> fields);

 private:
  struct SiteState {
    absl::Time window_start = absl::InfinitePast();
    int written = 0;
    uint64_t suppressed = 0;
    std::string component;
  };
  void Write(absl::Time time, Level level, absl::string_view component, absl::string_view message,
             std::initializer_list<Field> fields);
  void WriteSuppressed(absl::Time time, const CallSite& site, const std::string& component,
                       uint64_t count);

  const LogOptions options_;
  const Clock& clock_;
  std::unique_ptr<spdlog::logger> sink_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<const CallSite*, SiteState> sites_ ABSL_GUARDED_BY(mu_);
  uint64_t suppressed_total_ ABSL_GUARDED_BY(mu_) = 0;
  std::array<std::atomic<uint64_t>, 4> written_{};  // by Level
};

// The process's logger (text, info, stderr until SetDefault).
Logger& Default();
// Replaces it; call from main() before other threads log. The previous one is kept alive (a
// thread may still hold it), so call it once or twice, not per request.
void SetDefault(std::unique_ptr<Logger> logger);

}  // namespace prov::log

#define PROV_LOG(level, component, message, ...)                                    \
  do {                                                                              \
    static const ::prov::log::CallSite prov_log_site{__FILE__, __LINE__};           \
    ::prov::log::Logger& prov_log_logger = ::prov::log::Default();                  \
    if (prov_log_logger.Enabled(level)) {                                           \
      prov_log_logger.Log(prov_log_site, level, component, message, {__VA_ARGS__}); \
    }                                                                               \
  } while (0)
#define PROV_LOG_DEBUG(...) PROV_LOG(::prov::log::Level::kDebug, __VA_ARGS__)
#define PROV_LOG_INFO(...) PROV_LOG(::prov::log::Level::kInfo, __VA_ARGS__)
#define PROV_LOG_WARN(...) PROV_LOG(::prov::log::Level::kWarn, __VA_ARGS__)
#define PROV_LOG_ERROR(...) PROV_LOG(::prov::log::Level::kError, __VA_ARGS__)
