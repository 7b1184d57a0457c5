// TlsFileStager: lets gRPC's file watcher rotate a server's certificate without ever loading a
// half-written pair. gRPC 1.51's FileWatcherCertificateProvider re-reads the key and the chain
// every interval but does not check that they belong together, so a rotation that writes the new
// certificate before its key (certbot, a hand-edited pair) would fail every new handshake until
// the key follows. The stager watches the operator's files, checks each changed set (the key
// parses and matches the chain's first certificate; the client CA, when given, holds at least one
// certificate), and only then writes it to files of its own that the watcher reads: the key and
// the chain together in ONE file (written with rename(2), so key and chain change at once), the
// client CA in another.
//
//   auto stager = TlsFileStager::Start({.source = files, .stage_dir = data_dir + "/tls",
//                                       .name = "grpc", .check_every = absl::Seconds(60)});
//   if (!stager.ok()) ...;                  // INVALID_ARGUMENT naming the flag and the cause
//   // gRPC's file watcher on (*stager)->identity_file() (key and chain) and ca_file().
//
// A changed set that does not check out keeps the previous staged files (so the previous
// certificate keeps being served), is logged once per change of the files, counted (counts()),
// and checked again every check_every. The stage directory is made mode 0700 (it holds a copy of
// the private key). A thread per stager looks at the files; it stops with the stager.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/fs.h"
#include "common/grpc/tls.h"

namespace prov {

class TlsFileStager {
 public:
  struct Options {
    TlsFiles source;        // cert_file and key_file required; ca_file optional
    std::string stage_dir;  // created if missing, mode 0700
    std::string name;       // file name prefix in stage_dir, and how logs name the listener
    absl::Duration check_every = absl::Seconds(60);
  };
  // Checks and stages the files once; errors name the flag (--tls-cert, --tls-key,
  // --tls-client-ca) and what is wrong. Then watches them on a thread of its own.
  static absl::StatusOr<std::unique_ptr<TlsFileStager>> Start(Options options);
  ~TlsFileStager();  // stops the thread
  TlsFileStager(const TlsFileStager&) = delete;
  TlsFileStager& operator=(const TlsFileStager&) = delete;

  const std::string& identity_file() const { return identity_file_; }  // key, then the chain
  const std::string& ca_file() const { return ca_file_; }              // "" without a client CA
  absl::Duration check_every() const { return options_.check_every; }

  struct Counts {
    uint64_t reloads = 0;  // a changed set checked out and was staged
    uint64_t failed = 0;   // checks of a changed set that did not (the previous set stays)
  };
  Counts counts() const;

 private:
  explicit TlsFileStager(Options options);
  // Reads and checks the source files; the staged texts on success.
  struct Staged {
    std::string identity;  // key PEM + chain PEM
    std::string ca;
  };
  absl::StatusOr<Staged> ReadAndCheck() const;
  absl::Status Write(const Staged& staged) const;
  // The source files as they are on disk (common/fs.h StampFile).
  struct SourceStamp {
    FileStamp cert, key, ca;
    bool operator==(const SourceStamp&) const = default;
  };
  SourceStamp Stamp() const;
  // Stages the source files when they changed and check out (the thread, every check_every).
  void CheckNow();
  void Run();

  const Options options_;
  const std::string identity_file_;
  const std::string ca_file_;
  mutable absl::Mutex mu_;
  SourceStamp stamp_ ABSL_GUARDED_BY(mu_);  // the source files as last staged
  // As at the last failed check (none since the last staging).
  std::optional<SourceStamp> failed_stamp_ ABSL_GUARDED_BY(mu_);
  Counts counts_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace prov
