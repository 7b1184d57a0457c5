#include "server/web/web_tls_reloader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace prov::server::web {
namespace {

WebTlsReloader::PairStamp StampsOf(const WebTlsFiles& files) {
  return {StampFile(files.cert_file), StampFile(files.key_file)};
}

}  // namespace

absl::StatusOr<std::shared_ptr<WebTlsReloader>> WebTlsReloader::Create(WebTlsFiles files,
                                                                       const Clock& clock) {
  // Stamped before reading: a rewrite racing the load is seen as a change at the next check.
  const PairStamp stamp = StampsOf(files);
  absl::StatusOr<std::shared_ptr<const WebTlsContext>> ctx =
      WebTlsContext::Load(files.cert_file, files.key_file, files.cert_name, files.key_name);
  if (!ctx.ok()) return ctx.status();
  return std::shared_ptr<WebTlsReloader>(
      new WebTlsReloader(std::move(files), clock, *std::move(ctx), stamp));
}

WebTlsReloader::WebTlsReloader(WebTlsFiles files, const Clock& clock,
                               std::shared_ptr<const WebTlsContext> ctx, PairStamp stamp)
    : files_(std::move(files)), clock_(clock), current_(std::move(ctx)), loaded_(stamp) {
  absl::MutexLock lock(&mu_);
  next_check_ = clock_.Now() + files_.check_every;
}

std::shared_ptr<const WebTlsContext> WebTlsReloader::Current() {
  absl::MutexLock lock(&mu_);
  if (clock_.Now() >= next_check_) CheckLocked();
  return current_;
}

WebTlsReloader::Counts WebTlsReloader::counts() const {
  absl::MutexLock lock(&mu_);
  return counts_;
}

void WebTlsReloader::CheckLocked() {
  next_check_ = clock_.Now() + files_.check_every;
  const PairStamp stamp = StampsOf(files_);
  if (stamp == loaded_) return;
  absl::StatusOr<std::shared_ptr<const WebTlsContext>> ctx =
      WebTlsContext::Load(files_.cert_file, files_.key_file, files_.cert_name, files_.key_name);
  if (!ctx.ok()) {
    ++counts_.failed;
    if (failed_ != stamp) {  // once per change of the files, not at every check
      PROV_LOG_WARN("web", absl::StrCat("the dashboard's TLS files changed but do not load; still "
                                        "serving the previous certificate: ",
                                        ctx.status().message()));
    }
    failed_ = stamp;
    return;
  }
  current_ = *std::move(ctx);
  loaded_ = stamp;
  failed_.reset();
  ++counts_.reloads;
  PROV_LOG_INFO(
      "web", absl::StrCat("the dashboard's TLS certificate was reloaded from ", files_.cert_file));
}

}  // namespace prov::server::web
