#include "tools/bench/bench_postgres.h"

#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs.h"
#include "common/status_macros.h"
#include "server/store/pg/pg_conn.h"
#include "tests/store/pg_server.h"
#include "tools/bench/process_tree_cpu.h"

namespace prov::bench {

BenchPostgres::~BenchPostgres() = default;

absl::StatusOr<std::unique_ptr<BenchPostgres>> BenchPostgres::Open(const std::string& conninfo) {
  auto pg = std::unique_ptr<BenchPostgres>(new BenchPostgres());
  if (conninfo.empty()) {
    PROV_ASSIGN_OR_RETURN(pg->own_, testing::PgServer::Start());
    pg->postmaster_ = pg->own_->pid();
    return pg;
  }
  pg->conninfo_ = conninfo;
  PROV_ASSIGN_OR_RETURN(
      auto conn, server::PgConn::Connect(
                     conninfo, {.application_name = "prov-replica-bench", .search_path = ""}));
  PROV_ASSIGN_OR_RETURN(server::PgResult r,
                        conn->Query("SELECT setting FROM pg_settings WHERE name = "
                                    "'data_directory'"));
  if (r.rows() != 1 || r.Text(0, 0).empty()) {
    return absl::PermissionDeniedError(
        "--pg: cannot read data_directory (the role needs superuser or pg_read_all_settings)");
  }
  const std::string pid_file = JoinPath(r.Text(0, 0), "postmaster.pid");
  absl::StatusOr<std::string> text = ReadFileToString(pid_file);
  if (!text.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--pg: ", pid_file,
        " unreadable (the server must run on this machine): ", text.status().message()));
  }
  std::string first = std::string(*absl::StrSplit(*text, '\n').begin());
  int pid = 0;
  if (!absl::SimpleAtoi(first, &pid) || pid <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("--pg: ", pid_file, " does not start with a pid: \"", first, "\""));
  }
  pg->postmaster_ = pid;
  return pg;
}

absl::StatusOr<std::string> BenchPostgres::FreshDatabase() {
  if (own_ != nullptr) return own_->FreshDatabase();
  const std::string name = absl::StrCat("prov_rb_", getpid(), "_", next_db_++);
  PROV_ASSIGN_OR_RETURN(
      auto conn, server::PgConn::Connect(
                     conninfo_, {.application_name = "prov-replica-bench", .search_path = ""}));
  PROV_RETURN_IF_ERROR(conn->Exec(absl::StrCat("CREATE DATABASE ", name)));
  return absl::StrCat(conninfo_, " dbname=", name);  // the last dbname wins
}

absl::StatusOr<double> BenchPostgres::CpuSeconds() const {
  return ReadProcessTreeCpu("/proc", postmaster_);
}

std::string BenchPostgres::Describe() const {
  if (own_ != nullptr) {
    return absl::StrCat("own PostgreSQL 15 in ", own_->socket_dir(), " (fsync=off)");
  }
  return absl::StrCat("--pg ", conninfo_);
}

}  // namespace prov::bench
