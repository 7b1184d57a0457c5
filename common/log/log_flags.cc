#include "common/log/log_flags.h"

#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"

ABSL_FLAG(std::string, log_level, "info",
          "Least severe log records written to stderr: debug, info, warn or error");
ABSL_FLAG(std::string, log_format, "text",
          "Log records as text lines (time LEVEL component: message key=value...) or json (one "
          "object per line: time, level, component, msg, fields)");

namespace prov::log {

absl::Status InitLogFromFlags() {
  auto level = ParseLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok())
    return absl::InvalidArgumentError(absl::StrCat("--log-level: ", level.status().message()));
  auto format = ParseFormat(absl::GetFlag(FLAGS_log_format));
  if (!format.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--log-format: ", format.status().message()));
  }
  LogOptions options;
  options.level = *level;
  options.format = *format;
  SetDefault(std::make_unique<Logger>(options));
  return absl::OkStatus();
}

}  // namespace prov::log
