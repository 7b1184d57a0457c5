// prov-pg-ingest-bench: the PostgreSQL ingest path's costs, each against its alternative in the
// same run (issue 12's "whichever measures faster"; tools/bench/README.md has the figures).
//
//   build/release/bin/prov-pg-ingest-bench --pg 'host=/tmp/pg dbname=bench user=provd'
//
//  1. reports rows: the multi-row INSERT PgIngestRepository sends (arrays expanded by unnest)
//     against COPY ... FROM STDIN (FORMAT binary), --rows rows in transactions of --batch rows
//     into an unpartitioned copy of provd.reports (keys, identity; schema prov_bench), the two
//     methods alternating over --rounds rounds. Prints wall time and CPU per row of this process
//     and of its PostgreSQL backend (/proc/<pid>/stat: the server must run on this machine).
//  2. commit: PgIngestRepository::Commit against the SQLite Store::Commit on the same batches
//     (--nodes nodes, one ~2 KB 8-GPU 10-workload report each per batch, --batches batches after
//     a first one that creates the nodes and is not counted). CPU per report: this thread (both
//     engines; SQLite works in it), plus the PostgreSQL backend for PostgreSQL.
// The database given is provd's (migrated here; its ingest tables are TRUNCATEd before part 2):
// never point it at a database with data you want.
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/accelerator_catalog.h"
#include "server/ledger/usage.h"
#include "server/store/pg/pg_array.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_ingest.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/store.h"
#include "tools/bench/bench_flags.h"
#include "tools/bench/report_factory.h"

ABSL_FLAG(std::string, pg, "", "libpq connection string of a database for provd (required)");
ABSL_FLAG(int, rows, 100000, "Part 1: reports rows per method and round");
ABSL_FLAG(int, batch, 1000, "Part 1: rows per transaction");
ABSL_FLAG(int, rounds, 2, "Part 1: rounds of both methods, alternating");
ABSL_FLAG(int, nodes, 500, "Part 2: nodes, one report each per batch");
ABSL_FLAG(int, batches, 20, "Part 2: batches measured per engine");
ABSL_FLAG(std::string, sqlite_dir, "/tmp", "Part 2: where the SQLite file is made (removed)");

namespace prov::server {
namespace {

double ThreadCpuMicros() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

// utime + stime of process `pid`, in microseconds (clock-tick resolution).
double ProcessCpuMicros(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> f = absl::StrSplit(stat.substr(close + 2), ' ');
  if (f.size() < 13) return 0;
  const double ticks = std::stod(f[11]) + std::stod(f[12]);  // fields 14, 15
  return ticks * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

void Die(const absl::Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, std::string(s.message()).c_str());
  std::exit(1);
}

struct Cost {
  double wall_us = 0, client_us = 0, server_us = 0;
  int64_t n = 0;
  void Add(const Cost& c) {
    wall_us += c.wall_us;
    client_us += c.client_us;
    server_us += c.server_us;
    n += c.n;
  }
  double Per(double v) const { return n > 0 ? v / static_cast<double>(n) : 0; }
};

template <typename F>
Cost Measure(int backend_pid, int64_t n, F&& run) {
  const absl::Time t0 = absl::Now();
  const double c0 = ThreadCpuMicros();
  const double s0 = backend_pid > 0 ? ProcessCpuMicros(backend_pid) : 0;
  run();
  Cost c;
  c.n = n;
  c.wall_us = absl::ToDoubleMicroseconds(absl::Now() - t0);
  c.client_us = ThreadCpuMicros() - c0;
  c.server_us = backend_pid > 0 ? ProcessCpuMicros(backend_pid) - s0 : 0;
  return c;
}

void Print(const char* name, const Cost& c) {
  std::printf("  %-28s %9.2f us wall/row  %7.2f us client CPU  %7.2f us server CPU  %7.2f total\n",
              name, c.Per(c.wall_us), c.Per(c.client_us), c.Per(c.server_us),
              c.Per(c.client_us + c.server_us));
}

// --- part 1 -----------------------------------------------------------------------------------

void PutInt16(std::string& b, int16_t v) {
  const uint16_t u = htons(static_cast<uint16_t>(v));
  b.append(reinterpret_cast<const char*>(&u), 2);
}
void PutInt32(std::string& b, int32_t v) {
  const uint32_t u = htonl(static_cast<uint32_t>(v));
  b.append(reinterpret_cast<const char*>(&u), 4);
}
void PutInt64Field(std::string& b, int64_t v) {
  PutInt32(b, 8);
  const uint64_t u = static_cast<uint64_t>(v);
  for (int shift = 56; shift >= 0; shift -= 8) b.push_back(static_cast<char>(u >> shift));
}
void PutDoubleField(std::string& b, double v) {
  int64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  PutInt64Field(b, bits);
}
void PutTextField(std::string& b, const std::string& v) {
  PutInt32(b, static_cast<int32_t>(v.size()));
  b.append(v);
}

struct ReportRow {
  int64_t node;
  std::string boot_id;
  int64_t seq, collected_us, interval, size, accelerators, samples, workloads;
  double credited;
};

absl::Status InsertBatch(PgConn& conn, const std::vector<ReportRow>& rows, PgArray* a) {
  for (int i = 0; i < 10; ++i) a[i].Clear();
  for (const ReportRow& r : rows) {
    a[0].Add(r.node);
    a[1].AddText(r.boot_id);
    a[2].Add(r.seq);
    a[3].Add(r.collected_us);
    a[4].Add(r.interval);
    a[5].Add(r.size);
    a[6].Add(r.accelerators);
    a[7].Add(r.samples);
    a[8].Add(r.workloads);
    a[9].AddDouble(r.credited);
  }
  std::vector<PgParam> params;
  for (int i = 0; i < 10; ++i) params.emplace_back(a[i].Finish());
  params.emplace_back(int64_t{1'700'000'000'000'000});
  return conn
      .Query(R"sql(
INSERT INTO prov_bench.reports (node, boot_id, seq, collected_at_us, received_at_us,
  interval_seconds, size_bytes, accelerator_count, sample_count, workload_count, credited_seconds)
SELECT r.node, r.boot_id, r.seq, r.collected_at_us, $11::bigint, r.interval_seconds, r.size_bytes,
       r.accelerator_count, r.sample_count, r.workload_count, r.credited_seconds
FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
            $7::bigint[], $8::bigint[], $9::bigint[], $10::float8[]) WITH ORDINALITY
  AS r(node, boot_id, seq, collected_at_us, interval_seconds, size_bytes, accelerator_count,
       sample_count, workload_count, credited_seconds, i)
ORDER BY r.i)sql",
             params)
      .status();
}

absl::Status CopyBatch(PgConn& conn, const std::vector<ReportRow>& rows, std::string& buf) {
  PGconn* raw = conn.raw();
  PGresult* started = PQexec(raw,
                             "COPY prov_bench.reports (node, boot_id, seq, collected_at_us, "
                             "received_at_us, interval_seconds, size_bytes, accelerator_count, "
                             "sample_count, workload_count, credited_seconds) FROM STDIN "
                             "(FORMAT binary)");
  const bool ok = PQresultStatus(started) == PGRES_COPY_IN;
  PQclear(started);
  if (!ok) return absl::InternalError(absl::StrCat("COPY: ", PQerrorMessage(raw)));
  buf.assign("PGCOPY\n\377\r\n\0", 11);
  PutInt32(buf, 0);
  PutInt32(buf, 0);
  for (const ReportRow& r : rows) {
    PutInt16(buf, 11);
    PutInt64Field(buf, r.node);
    PutTextField(buf, r.boot_id);
    PutInt64Field(buf, r.seq);
    PutInt64Field(buf, r.collected_us);
    PutInt64Field(buf, 1'700'000'000'000'000);
    PutInt64Field(buf, r.interval);
    PutInt64Field(buf, r.size);
    PutInt64Field(buf, r.accelerators);
    PutInt64Field(buf, r.samples);
    PutInt64Field(buf, r.workloads);
    PutDoubleField(buf, r.credited);
  }
  PutInt16(buf, -1);
  if (PQputCopyData(raw, buf.data(), static_cast<int>(buf.size())) != 1 ||
      PQputCopyEnd(raw, nullptr) != 1) {
    return absl::InternalError(absl::StrCat("COPY data: ", PQerrorMessage(raw)));
  }
  absl::Status status;
  while (PGresult* r = PQgetResult(raw)) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      status = absl::InternalError(absl::StrCat("COPY: ", PQresultErrorMessage(r)));
    }
    PQclear(r);
  }
  return status;
}

void ReportsRows(PgConn& conn) {
  Die(conn.Exec("DROP SCHEMA IF EXISTS prov_bench CASCADE; CREATE SCHEMA prov_bench; "
                "CREATE TABLE prov_bench.reports (LIKE provd.reports INCLUDING ALL)"),
      "create prov_bench.reports");
  const int rows = absl::GetFlag(FLAGS_rows), per_batch = absl::GetFlag(FLAGS_batch);
  std::vector<std::vector<ReportRow>> batches;
  for (int i = 0; i < rows; i += per_batch) {
    std::vector<ReportRow>& b = batches.emplace_back();
    for (int j = i; j < std::min(rows, i + per_batch); ++j) {
      b.push_back({j % 1000, absl::StrCat("3f0c9a4e-5b1d-4c7e-9a2b-", 100000000000 + j % 1000),
                   j / 1000 + 1, 1'700'000'000'000'000 + j * 10'000'000LL, 10, 2100, 8, 8, 10,
                   10.000123});
    }
  }
  const int pid = PQbackendPID(conn.raw());
  PgArray arrays[10];
  std::string buf;
  Cost insert, copy;
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    for (int method = 0; method < 2; ++method) {
      Die(conn.Exec("TRUNCATE prov_bench.reports; CHECKPOINT"), "truncate");
      Cost c = Measure(pid, rows, [&] {
        for (const std::vector<ReportRow>& b : batches) {
          Die(conn.Transaction([&] {
            return method == 0 ? InsertBatch(conn, b, arrays) : CopyBatch(conn, b, buf);
          }),
              method == 0 ? "insert" : "copy");
        }
      });
      (method == 0 ? insert : copy).Add(c);
    }
  }
  std::printf("1. reports rows: %d rows x %d rounds per method, %d rows per transaction\n", rows,
              absl::GetFlag(FLAGS_rounds), per_batch);
  Print("multi-row INSERT (unnest)", insert);
  Print("COPY FROM STDIN binary", copy);
  std::printf("  ratio COPY/INSERT: wall %.2f, client CPU %.2f, server CPU %.2f, total CPU %.2f\n",
              copy.wall_us / insert.wall_us, copy.client_us / insert.client_us,
              copy.server_us / insert.server_us,
              (copy.client_us + copy.server_us) / (insert.client_us + insert.server_us));
}

// --- part 2 -----------------------------------------------------------------------------------

struct Batches {
  std::vector<std::vector<provenance::v1::NodeReport>> reports;
  std::vector<absl::Time> received;
};

Batches MakeBatches() {
  prov::bench::ReportFactory factory;
  std::vector<provenance::v1::NodeReport> templates;
  for (int n = 0; n < absl::GetFlag(FLAGS_nodes); ++n) templates.push_back(factory.MakeTemplate(n));
  Batches out;
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  for (int b = 0; b <= absl::GetFlag(FLAGS_batches); ++b) {
    const absl::Time at = t0 + absl::Seconds(10 * b);
    std::vector<provenance::v1::NodeReport>& batch = out.reports.emplace_back(templates);
    for (auto& r : batch) prov::bench::ReportFactory::Stamp(r, static_cast<uint64_t>(b + 1), at);
    out.received.push_back(at + absl::Seconds(1));
  }
  return out;
}

std::vector<ReportToCommit> ToCommit(const std::vector<provenance::v1::NodeReport>& reports) {
  std::vector<ReportToCommit> batch;
  for (const auto& r : reports) {
    ReportToCommit item;
    item.report = &r;
    item.size_bytes = r.ByteSizeLong();
    item.usage = ComputeUsage(r, AcceleratorCatalog::Builtin(), {});
    batch.push_back(std::move(item));
  }
  return batch;
}

template <typename Repo>
Cost CommitAll(Repo& repo, const Batches& batches, int backend_pid) {
  Cost total;
  for (size_t b = 0; b < batches.reports.size(); ++b) {
    std::vector<ReportToCommit> batch = ToCommit(batches.reports[b]);  // not measured
    absl::StatusOr<CommitResult> result;
    Cost c = Measure(backend_pid, static_cast<int64_t>(batch.size()),
                     [&] { result = repo.Commit(batch, batches.received[b]); });
    Die(result.status(), "commit");
    if (result->stored != batch.size()) Die(absl::InternalError("not all stored"), "commit");
    if (b > 0) total.Add(c);  // the first batch creates the nodes
  }
  return total;
}

void CommitCost(PgConn& admin) {
  Die(admin.Exec("TRUNCATE nodes, node_streams, reports, evidence_gaps, accelerators, workloads, "
                 "workload_details, account_usage_hourly, node_hardware, node_hardware_changes, "
                 "location_responders RESTART IDENTITY"),
      "truncate the ingest tables");
  const Batches batches = MakeBatches();
  const std::string path =
      absl::StrCat(absl::GetFlag(FLAGS_sqlite_dir), "/prov-pg-bench-", getpid(), ".db");
  Cost sqlite_cost, pg_cost;
  {
    auto store = Store::Open(path);
    Die(store.status(), "open SQLite");
    sqlite_cost = CommitAll(**store, batches, 0);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove(absl::StrCat(path, suffix).c_str());
  {
    auto repo = PgIngestRepository::Open(absl::GetFlag(FLAGS_pg),
                                         {.application_name = "provd/ingest-bench"});
    Die(repo.status(), "open PostgreSQL");
    auto pid = admin.Query(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'provd/ingest-bench'");
    Die(pid.status(), "find the backend");
    pg_cost = CommitAll(**repo, batches, static_cast<int>(*pid->Int64(0, 0)));
  }
  std::printf(
      "2. Commit: %d batches of %d reports (8 GPUs, 10 workloads each), first not counted\n",
      absl::GetFlag(FLAGS_batches), absl::GetFlag(FLAGS_nodes));
  Print("SQLite Store", sqlite_cost);
  Print("PgIngestRepository", pg_cost);
  std::printf("  ratio PostgreSQL/SQLite: provd-side CPU %.2f, provd + PostgreSQL CPU %.2f\n",
              pg_cost.client_us / sqlite_cost.client_us,
              (pg_cost.client_us + pg_cost.server_us) / sqlite_cost.client_us);
}

}  // namespace
}  // namespace prov::server

int main(int argc, char** argv) {
  prov::bench::ParseBenchFlags(argc, argv);
  using namespace prov::server;
  if (absl::GetFlag(FLAGS_pg).empty()) {
    std::fprintf(stderr, "--pg is required (a libpq connection string)\n");
    return 2;
  }
  auto conn = PgConn::Connect(absl::GetFlag(FLAGS_pg), {.application_name = "prov-pg-ingest-bench",
                                                        .search_path = kPgSchema});
  Die(conn.status(), "connect");
  Die(MigratePgSchema(**conn), "migrate");
  ReportsRows(**conn);
  CommitCost(**conn);
  return 0;
}
