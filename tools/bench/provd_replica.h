// ProvdReplica: one provd started by the replica benchmark, on SQLite (its own --data-dir) or on
// a shared PostgreSQL (--store postgresql:<conninfo> --replica-name <name>), with gRPC and
// /metrics on loopback ports of its own.
//
//   ProvdReplicaOptions o{.bin_dir = "build/release/bin", .work_dir = "/tmp/prov-rb-x",
//                         .name = "a", .pg_conninfo = "host=/tmp/pg dbname=b1 user=provd",
//                         .leader_takeover = absl::Seconds(1), .signing_key = key_path};
//   PROV_ASSIGN_OR_RETURN(std::unique_ptr<ProvdReplica> a, ProvdReplica::Start(o));
//   a->address();                        // "127.0.0.1:<grpc port>" for RunLoad
//   a->Metric("prov_leader");            // scraped from its /metrics
//   a->Kill();                           // SIGKILL, as a crashed node
//   absl::Status s = a->Stop();          // SIGTERM; error when it had died on its own
//
// The metrics port is a free port found by binding 127.0.0.1:0 and closing it again just before
// provd starts (provd writes no metrics port file); a clash fails the start with provd's log.
// Thread-safety: Metric() may be called from any thread; Start/Kill/Stop from the owner.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/bench/child_process.h"

namespace prov::bench {

struct ProvdReplicaOptions {
  std::string bin_dir;
  std::string work_dir;     // the replica's data dir and log go under it
  std::string name;         // --replica-name on PostgreSQL; names the files
  std::string pg_conninfo;  // empty: SQLite in the replica's data dir
  absl::Duration leader_takeover = absl::Seconds(15);
  std::string signing_key;  // --export-signing-key (required with PostgreSQL)
  std::vector<std::string> extra_args;
};

class ProvdReplica {
 public:
  static absl::StatusOr<std::unique_ptr<ProvdReplica>> Start(const ProvdReplicaOptions& options);

  const std::string& name() const { return name_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(grpc_port_); }
  pid_t pid() const { return child_->pid(); }
  const std::string& log_path() const { return log_; }
  // The value of a metric on its /metrics page (every sample of the name summed).
  absl::StatusOr<double> Metric(const std::string& name) const;
  // Several metrics from one scrape, in order.
  absl::StatusOr<std::vector<double>> Metrics(const std::vector<std::string>& names) const;
  void Pause();  // SIGSTOP: a hung process that keeps its sockets
  void Kill();   // SIGKILL (a paused one too); returns once reaped
  absl::Status Stop();

 private:
  ProvdReplica() = default;
  std::string name_;
  std::string log_;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  std::unique_ptr<ChildProcess> child_;
};

// Writes a fresh export signing key (an ed25519 seed from /dev/urandom, mode 0600) to `path`.
absl::Status WriteSigningKey(const std::string& path);

}  // namespace prov::bench
