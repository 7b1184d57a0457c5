// BenchPostgres: the PostgreSQL a benchmark runs against: one it starts itself (the tests'
// harness, tests/store/pg_server.h: initdb into a fresh /tmp directory, Unix socket only,
// fsync=off) or an existing one given as a conninfo (--pg), in which it creates databases.
//
//   PROV_ASSIGN_OR_RETURN(std::unique_ptr<BenchPostgres> pg, BenchPostgres::Open(flag_pg));
//   PROV_ASSIGN_OR_RETURN(std::string conninfo, pg->FreshDatabase());   // empty database
//   PROV_ASSIGN_OR_RETURN(double cpu_s, pg->CpuSeconds());   // postmaster + backends, so far
//
// CpuSeconds sums the postmaster's process tree from /proc (process_tree_cpu.h), so the server
// must run on this machine; with --pg its postmaster is found from `data_directory`'s
// postmaster.pid (the role needs superuser or pg_read_all_settings, and /proc access).
// Open() returns UNAVAILABLE when no PostgreSQL 15 binaries are installed (callers may skip).
// Thread-safety: one thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace prov::testing {
class PgServer;
}

namespace prov::bench {

class BenchPostgres {
 public:
  // `conninfo` empty: start a server of our own.
  static absl::StatusOr<std::unique_ptr<BenchPostgres>> Open(const std::string& conninfo);
  ~BenchPostgres();

  absl::StatusOr<std::string> FreshDatabase();
  absl::StatusOr<double> CpuSeconds() const;
  pid_t postmaster() const { return postmaster_; }
  std::string Describe() const;

 private:
  BenchPostgres() = default;
  std::unique_ptr<testing::PgServer> own_;
  std::string conninfo_;  // the external server's, with --pg
  pid_t postmaster_ = -1;
  int next_db_ = 0;
};

}  // namespace prov::bench
