// WebTlsReloader: the dashboard's HTTPS certificate, picked up again when its files change, so a
// rotated certificate (cert-manager, certbot, a renewed PEM pair) is served without restarting
// provd.
//
//   auto tls = WebTlsReloader::Create({.cert_file = "/etc/provd/web.pem",
//                                      .key_file = "/etc/provd/web.key",
//                                      .cert_name = "--web-tls-cert",
//                                      .key_name = "--web-tls-key",
//                                      .check_every = absl::Seconds(60)},
//                                     clock);
//   if (!tls.ok()) ...;                   // as WebTlsContext::Load: names the file and the cause
//   options.connections.tls = *tls;       // the connection gate asks it for each new connection
//   std::unique_ptr<TlsSession> s = (*tls)->Current()->NewSession(fd);
//
// Current() looks at the files at most once per check_every (on the calling thread; two stat()
// calls, no thread of its own): when a file's device, inode, size or modification time differs
// from what was last loaded (a rewrite, or a symlink swapped as Kubernetes updates a mounted
// Secret), it loads the pair. A pair that does not load (half-written, key and certificate not
// matching yet) keeps the previous context for new connections, is logged once per change of the
// files, and is tried again at the next check; connections already open keep their session.
// Reloads and failed reloads are counted (counts(); prov_web_tls_reloads_total{result}).
// check_every = absl::InfiniteDuration(): the files are read once. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/fs.h"
#include "server/web/web_tls.h"

namespace prov::server::web {

struct WebTlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string cert_name = "certificate";  // how errors name the files (e.g. the flags)
  std::string key_name = "key";
  absl::Duration check_every = absl::Seconds(60);
};

class WebTlsReloader {
 public:
  // Loads the pair once (errors as WebTlsContext::Load). `clock` must outlive the reloader.
  static absl::StatusOr<std::shared_ptr<WebTlsReloader>> Create(WebTlsFiles files,
                                                                const Clock& clock);

  // The context for a new connection: the newest pair that loaded.
  std::shared_ptr<const WebTlsContext> Current();

  struct Counts {
    uint64_t reloads = 0;  // a changed pair loaded and now served
    uint64_t failed = 0;   // a changed pair that did not load (the previous one stays)
  };
  Counts counts() const;

  // The pair's files as they are on disk (common/fs.h StampFile).
  struct PairStamp {
    FileStamp cert, key;
    bool operator==(const PairStamp&) const = default;
  };

 private:
  WebTlsReloader(WebTlsFiles files, const Clock& clock, std::shared_ptr<const WebTlsContext> ctx,
                 PairStamp stamp);
  void CheckLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const WebTlsFiles files_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const WebTlsContext> current_ ABSL_GUARDED_BY(mu_);
  PairStamp loaded_ ABSL_GUARDED_BY(mu_);  // the files as they were when current_ loaded
  // The files as they were at the last failed load (none since the last load).
  std::optional<PairStamp> failed_ ABSL_GUARDED_BY(mu_);
  absl::Time next_check_ ABSL_GUARDED_BY(mu_);
  Counts counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prov::server::web
