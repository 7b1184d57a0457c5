// The ingest repository (server/store/repo/ingest.h) is the same on both engines: one sequence of
// batches committed to the SQLite Store and to PgIngestRepository gives the same CommitResults,
// the same credited usage and the same rows in every ingest table (read back with plain SQL; only
// the engines' row ids are left out, node handles are compared as node ids). PostgreSQL only:
// two repositories (two sessions, as two provd replicas) committing overlapping batches of the
// same streams store every seq exactly once and their CommitResults agree with what was stored;
// a session killed mid-batch fails the batch UNAVAILABLE with nothing stored, and the next
// Commit reconnects.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_ingest.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/sqlite.h"
#include "server/store/store.h"
#include "tests/server/commit_batch.h"
#include "tests/server/temp_dir.h"
#include "tests/server/test_reports.h"
#include "tests/store/pg_server.h"

namespace prov::server {
namespace {

using provenance::v1::NodeReport;
using testing::MakeReport;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);  // 22:13:20 UTC

// Every table an ingest commit or RecordRejections writes.
const char* const kIngestTables[] = {"nodes",
                                     "node_streams",
                                     "reports",
                                     "evidence_gaps",
                                     "accelerators",
                                     "workloads",
                                     "workload_details",
                                     "account_usage_hourly",
                                     "node_hardware",
                                     "node_hardware_changes",
                                     "location_responders"};

struct Column {
  std::string name;
  std::string type;  // SQLite's declared type: INTEGER, TEXT, REAL, BLOB
};

std::vector<Column> SqliteColumns(SqliteDb& db, const std::string& table) {
  std::vector<Column> out;
  auto info = db.Prepare(absl::StrCat("PRAGMA table_info(", table, ")"));
  EXPECT_TRUE(info.ok()) << info.status();
  if (!info.ok()) return out;
  while (*(*info)->Step()) out.push_back({(*info)->ColumnText(1), (*info)->ColumnText(2)});
  return out;
}

// A SELECT valid on both engines: every column but the row id, the node handle as its node id,
// rows in the order of all columns.
std::string TableQuery(const std::string& table, const std::vector<Column>& columns,
                       std::vector<Column>* selected) {
  std::vector<std::string> exprs;
  for (const Column& c : columns) {
    if (c.name == "id") continue;
    if (c.name == "node") {
      exprs.push_back("(SELECT x.node_id FROM nodes x WHERE x.id = t.node)");
      selected->push_back({"node", "TEXT"});
    } else {
      exprs.push_back(absl::StrCat("t.", c.name));
      selected->push_back(c);
    }
  }
  std::vector<std::string> order;
  for (size_t i = 1; i <= exprs.size(); ++i) order.push_back(absl::StrCat(i));
  return absl::StrCat("SELECT ", absl::StrJoin(exprs, ", "), " FROM ", table, " t ORDER BY ",
                      absl::StrJoin(order, ", "));
}

std::string Double(double v) { return absl::StrFormat("%.17g", v); }

std::vector<std::string> SqliteRows(SqliteDb& db, const std::string& sql,
                                    const std::vector<Column>& cols) {
  std::vector<std::string> rows;
  auto st = db.Prepare(sql);
  EXPECT_TRUE(st.ok()) << st.status() << " " << sql;
  if (!st.ok()) return rows;
  while (*(*st)->Step()) {
    std::vector<std::string> values;
    for (size_t i = 0; i < cols.size(); ++i) {
      const int c = static_cast<int>(i);
      if ((*st)->ColumnIsNull(c)) {
        values.push_back("NULL");
      } else if (cols[i].type == "INTEGER") {
        values.push_back(absl::StrCat((*st)->ColumnInt64(c)));
      } else if (cols[i].type == "REAL") {
        values.push_back(Double((*st)->ColumnDouble(c)));
      } else if (cols[i].type == "BLOB") {
        values.push_back(absl::BytesToHexString((*st)->ColumnBlob(c)));
      } else {
        values.push_back(absl::StrCat("'", (*st)->ColumnText(c), "'"));
      }
    }
    rows.push_back(absl::StrCat(cols.empty() ? "" : "", absl::StrJoin(values, " | ")));
  }
  return rows;
}

std::vector<std::string> PgRows(PgConn& conn, const std::string& sql,
                                const std::vector<Column>& cols) {
  std::vector<std::string> rows;
  auto r = conn.Query(sql);
  EXPECT_TRUE(r.ok()) << r.status() << " " << sql;
  if (!r.ok()) return rows;
  for (int row = 0; row < r->rows(); ++row) {
    std::vector<std::string> values;
    for (size_t i = 0; i < cols.size(); ++i) {
      const int c = static_cast<int>(i);
      if (r->IsNull(row, c)) {
        values.push_back("NULL");
      } else if (cols[i].type == "INTEGER") {
        values.push_back(absl::StrCat(*r->Int64(row, c)));
      } else if (cols[i].type == "REAL") {
        values.push_back(Double(*r->Double(row, c)));
      } else if (cols[i].type == "BLOB") {
        values.push_back(absl::BytesToHexString(*r->Bytes(row, c)));
      } else {
        values.push_back(absl::StrCat("'", r->Text(row, c), "'"));
      }
    }
    rows.push_back(absl::StrJoin(values, " | "));
  }
  return rows;
}

std::unique_ptr<PgConn> ConnectPg(const std::string& conninfo) {
  auto conn =
      PgConn::Connect(conninfo, {.application_name = "prov-test", .search_path = kPgSchema});
  EXPECT_TRUE(conn.ok()) << conn.status();
  return conn.ok() ? *std::move(conn) : nullptr;
}

std::string Describe(const CommitResult& r) {
  std::vector<std::string> dup, rejected, marks;
  for (bool d : r.duplicate) dup.push_back(d ? "1" : "0");
  for (const auto& [i, why] : r.rejected) rejected.push_back(absl::StrCat(i, ":", why));
  std::map<std::pair<std::string, std::string>, uint64_t> sorted(r.high_water.begin(),
                                                                 r.high_water.end());
  for (const auto& [k, v] : sorted) marks.push_back(absl::StrCat(k.first, "/", k.second, "=", v));
  return absl::StrCat("stored=", r.stored, " duplicates=", r.duplicates, " dup=[",
                      absl::StrJoin(dup, ""), "] rejected=[", absl::StrJoin(rejected, "; "),
                      "] marks=[", absl::StrJoin(marks, ","), "] gaps=", r.evidence_gaps,
                      " gap_s=", Double(r.gap_seconds), " clock_bound=", r.clock_bound,
                      " lag_floor=", r.lag_floor, " credited=", Double(r.credited_seconds),
                      " claimed=", Double(r.claimed_seconds));
}

// The credited usage Commit left in the batch.
std::string DescribeUsage(const std::vector<ReportToCommit>& batch) {
  std::vector<std::string> out;
  for (const ReportToCommit& item : batch) {
    std::vector<std::string> usage;
    for (const WorkloadUsage& u : item.usage) {
      usage.push_back(absl::StrCat(u.workload_id, ":", Double(u.accelerator_seconds), ":",
                                   Double(u.gap_seconds), ":", Double(u.flop_high)));
    }
    out.push_back(absl::StrCat(Double(item.credited_seconds), "[", absl::StrJoin(usage, ","), "]"));
  }
  return absl::StrJoin(out, " ");
}

// Every ingest table's rows are the same in the SQLite file and the PostgreSQL database.
void ExpectSameRows(const std::string& sqlite_path, const std::string& conninfo,
                    bool all_tables_have_rows) {
  auto db = SqliteDb::Open(sqlite_path, SqliteDb::kReadOnly);
  ASSERT_TRUE(db.ok()) << db.status();
  std::unique_ptr<PgConn> conn = ConnectPg(conninfo);
  ASSERT_NE(conn, nullptr);
  for (const char* table : kIngestTables) {
    std::vector<Column> selected;
    const std::string sql = TableQuery(table, SqliteColumns(**db, table), &selected);
    const std::vector<std::string> a = SqliteRows(**db, sql, selected);
    const std::vector<std::string> b = PgRows(*conn, sql, selected);
    if (all_tables_have_rows) {
      EXPECT_FALSE(a.empty()) << table << " has no rows: the scenario does not cover it";
    }
    EXPECT_EQ(a, b) << table;
  }
}

NodeReport At(const std::string& node, const std::string& boot, uint64_t seq, int64_t at_s) {
  return MakeReport(node, boot, seq, kT0 + absl::Seconds(at_s));
}

void SetHardware(NodeReport& r, const std::string& uuid, const std::string& board_serial) {
  auto* hw = r.mutable_node()->mutable_hardware();
  hw->set_system_uuid(uuid);
  hw->set_board_serial(board_serial);
  hw->set_product_name("PowerEdge XE9680");
}

// The scenario: batches of reports and the time provd received each.
struct Scenario {
  std::vector<std::vector<NodeReport>> batches;
  std::vector<absl::Time> received;
};

Scenario MakeScenario() {
  Scenario s;
  auto add = [&](int64_t received_s, std::vector<NodeReport> batch) {
    s.batches.push_back(std::move(batch));
    s.received.push_back(kT0 + absl::Seconds(received_s));
  };
  // 1: two new nodes; node-a with hardware, a responder, agent health, and text that needs
  // escaping in an array literal.
  NodeReport a1 = At("node-a", "boot-1", 1, 0);
  SetHardware(a1, "uuid-1", "board-1");
  a1.mutable_node()->set_location_responder("10.0.0.1:7000");
  a1.mutable_node()->set_hostname("host \"a\" \\ café");
  a1.mutable_health()->set_spool_depth(3);
  a1.mutable_health()->set_nvml_available(true);
  a1.mutable_health()->set_strings_repaired(2);
  NodeReport a2 = a1;
  a2.set_seq(2);
  a2.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(kT0) + 10);
  NodeReport b1 = At("node-b", "boot-x", 1, 5);
  b1.mutable_workloads(0)->mutable_attribution()->set_account("globex {x,y}");
  add(12, {a1, a2, b1});
  // 2: a resend (a2), node-a's next, node-b's next; node-c's two boots in one batch, the later
  // one in the batch collected earlier (the workload's description follows the newest report).
  NodeReport a3 = a2;
  a3.set_seq(3);
  a3.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(kT0) + 20);
  NodeReport b2 = b1;
  b2.set_seq(2);
  b2.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(kT0) + 15);
  NodeReport c_new = At("node-c", "boot-new", 1, 25);
  c_new.mutable_workloads(0)->set_launcher("newest launcher");
  for (auto& a : *c_new.mutable_accelerators()) a.set_device_id(0x1234);  // no catalog peak
  b2.mutable_samples(1)->set_tensor_activity(0.7);  // one method only: merged with b1's two
  NodeReport c_old = At("node-c", "boot-old", 7, 18);
  c_old.mutable_workloads(0)->set_launcher("older launcher");
  c_old.mutable_workloads(0)->set_workload_class(provenance::v1::WORKLOAD_CLASS_INFERENCE);
  add(22, {a2, a3, b2, c_new, c_old});
  // 3: a refused seq jump, then node-a's next with a new board serial and responder.
  NodeReport jump = a3;
  jump.set_seq(3 + 2'000'000);
  NodeReport a4 = a3;
  a4.set_seq(4);
  a4.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(kT0) + 30);
  SetHardware(a4, "uuid-1", "board-2");
  a4.mutable_node()->set_location_responder("10.0.0.2:7000");
  a4.mutable_accelerators(0)->set_serial("1650123456789");
  add(32, {jump, a4});
  // 4: node-a reboots after a silence (an evidence gap), node-b after a silence too, crossing
  // 23:00 UTC (account_usage_hourly's next hour); node-d new with a second workload.
  NodeReport a_boot = At("node-a", "boot-2", 1, 2840);
  SetHardware(a_boot, "uuid-2", "board-2");
  a_boot.mutable_node()->set_location_responder("");
  a_boot.mutable_node()->set_hostname("host \"a\" \\ café, {rebooted}");
  NodeReport b3 = b2;
  b3.set_seq(3);
  b3.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(kT0) + 2830);
  NodeReport d1 = At("node-d", "boot-d", 1, 2835);
  auto* w2 = d1.add_workloads();
  *w2 = d1.workloads(0);
  w2->set_workload_id("slurm:42");
  w2->mutable_attribution()->set_account("acme");
  w2->set_workload_class(provenance::v1::WORKLOAD_CLASS_INFERENCE);
  add(2850, {b3, a_boot, d1});
  // 5: everything again (duplicates only), then node-b's next.
  NodeReport b4 = b3;
  b4.set_seq(4);
  b4.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(kT0) + 2840);
  b4.mutable_node()->set_location_responder("10.0.0.9:7000");  // its first, after none
  add(2851, {a1, a2, a3, a4, b1, b2, b3, c_new, c_old, a_boot, d1, b4});
  return s;
}

std::vector<const NodeReport*> Pointers(const std::vector<NodeReport>& reports) {
  std::vector<const NodeReport*> out;
  for (const NodeReport& r : reports) out.push_back(&r);
  return out;
}

TEST(IngestConformanceTest, TheSameBatchesGiveTheSameResultsAndRowsOnBothEngines) {
  PROV_PG_SERVER_OR_SKIP(pg);
  auto conninfo = pg->FreshDatabase();
  ASSERT_TRUE(conninfo.ok()) << conninfo.status();
  testing::TempDir dir;
  const std::string path = dir.path() + "/provd.db";
  auto sqlite = Store::Open(path);
  ASSERT_TRUE(sqlite.ok()) << sqlite.status();
  auto postgres = PgIngestRepository::Open(*conninfo);
  ASSERT_TRUE(postgres.ok()) << postgres.status();

  const Scenario s = MakeScenario();
  size_t stored = 0, duplicates = 0, rejected = 0, gaps = 0;
  for (size_t i = 0; i < s.batches.size(); ++i) {
    std::vector<ReportToCommit> on_sqlite = testing::CommitBatch(Pointers(s.batches[i]));
    std::vector<ReportToCommit> on_pg = testing::CommitBatch(Pointers(s.batches[i]));
    auto a = (*sqlite)->Commit(on_sqlite, s.received[i]);
    auto b = (*postgres)->Commit(on_pg, s.received[i]);
    ASSERT_TRUE(a.ok()) << "batch " << i << ": " << a.status();
    ASSERT_TRUE(b.ok()) << "batch " << i << ": " << b.status();
    EXPECT_EQ(Describe(*a), Describe(*b)) << "batch " << i;
    EXPECT_EQ(DescribeUsage(on_sqlite), DescribeUsage(on_pg)) << "batch " << i;
    stored += a->stored;
    duplicates += a->duplicates;
    rejected += a->rejected.size();
    gaps += a->evidence_gaps;
  }
  // The scenario exercises what it claims to.
  EXPECT_EQ(stored, 12u);
  EXPECT_EQ(duplicates, 12u);
  EXPECT_EQ(rejected, 1u);
  EXPECT_GE(gaps, 2u);

  const std::vector<NodeRejections> notes = {
      {"node-b", 2, kT0 + absl::Seconds(2900), kT0 + absl::Seconds(2905), "seq: too far"},
      {"never-seen", 1, kT0, kT0, "unknown"},
      {std::string("bad\0id", 6), 1, kT0, kT0, "a refused report's own node id"},
      {"node-a", 1, kT0 + absl::Seconds(10), kT0 + absl::Seconds(10), "an old note"}};
  auto ra = (*sqlite)->RecordRejections(notes);
  auto rb = (*postgres)->RecordRejections(notes);
  ASSERT_TRUE(ra.ok()) << ra.status();
  ASSERT_TRUE(rb.ok()) << rb.status();
  ASSERT_EQ(ra->size(), 2u);
  ASSERT_EQ(rb->size(), ra->size());
  for (size_t i = 0; i < ra->size(); ++i) {
    const NodeRejectionState& x = (*ra)[i];
    const NodeRejectionState& y = (*rb)[i];
    EXPECT_EQ(x.node_id, y.node_id);
    EXPECT_EQ(x.count, y.count);
    EXPECT_EQ(x.reports_rejected, y.reports_rejected) << x.node_id;
    EXPECT_EQ(x.last_rejected, y.last_rejected) << x.node_id;
    EXPECT_EQ(x.last_rejection, y.last_rejection) << x.node_id;
    EXPECT_EQ(x.rejecting_since, y.rejecting_since) << x.node_id;
  }

  ExpectSameRows(path, *conninfo, /*all_tables_have_rows=*/true);
  std::unique_ptr<PgConn> conn = ConnectPg(*conninfo);
  ASSERT_NE(conn, nullptr);
  // The ledger's methods were merged (prov_merge_methods), not only copied.
  auto methods = conn->Query(
      "SELECT w.method FROM workloads w JOIN nodes n ON n.id = w.node WHERE n.node_id = 'node-c'");
  ASSERT_TRUE(methods.ok()) << methods.status();
  ASSERT_EQ(methods->rows(), 1);
  const std::string method = methods->Text(0, 0);
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(method, " + ")).size(), 3u) << method;
  // The hardware change, the responder change and the accelerator serial are in those rows.
  auto changes = conn->Query(
      "SELECT field, old_value, new_value FROM node_hardware_changes "
      "ORDER BY changed_at_us, field");
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->rows(), 2);
  EXPECT_EQ(changes->Text(0, 0), "board_serial");
  EXPECT_EQ(changes->Text(1, 0), "system_uuid");
}

// Both engines add to a workloads row they wrote before by its cached row id; a row that is not
// there any more (removed behind the repository's back) is written whole instead, on both.
TEST(IngestConformanceTest, AWorkloadRowRemovedBehindTheRepositoryIsWrittenWhole) {
  PROV_PG_SERVER_OR_SKIP(pg);
  auto conninfo = pg->FreshDatabase();
  ASSERT_TRUE(conninfo.ok()) << conninfo.status();
  testing::TempDir dir;
  const std::string path = dir.path() + "/provd.db";
  auto sqlite = Store::Open(path);
  ASSERT_TRUE(sqlite.ok()) << sqlite.status();
  auto postgres = PgIngestRepository::Open(*conninfo);
  ASSERT_TRUE(postgres.ok()) << postgres.status();
  auto commit_both = [&](uint64_t seq) {
    NodeReport r = At("node-a", "boot-1", seq, static_cast<int64_t>(seq) * 10);
    std::vector<ReportToCommit> a = testing::CommitBatch({&r}), b = testing::CommitBatch({&r});
    const absl::Time at = kT0 + absl::Seconds(static_cast<int64_t>(seq) * 10 + 1);
    auto x = (*sqlite)->Commit(a, at);
    auto y = (*postgres)->Commit(b, at);
    ASSERT_TRUE(x.ok()) << x.status();
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_EQ(Describe(*x), Describe(*y));
  };
  commit_both(1);
  commit_both(2);  // both add to the row by id now
  {
    auto db = SqliteDb::Open(path, SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Exec("DELETE FROM workloads").ok());
  }
  std::unique_ptr<PgConn> conn = ConnectPg(*conninfo);
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->Exec("DELETE FROM workloads").ok());
  commit_both(3);
  ExpectSameRows(path, *conninfo, /*all_tables_have_rows=*/false);
  auto rows = conn->Query("SELECT first_seen_us FROM workloads");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->rows(), 1);
  EXPECT_EQ(*rows->Int64(0, 0), absl::ToUnixMicros(kT0 + absl::Seconds(30)));
}

// A batch of `seqs` of each node's boot "b", the nodes in the given order.
std::vector<NodeReport> StreamBatch(const std::vector<std::string>& nodes, uint64_t first,
                                    uint64_t last) {
  std::vector<NodeReport> out;
  for (const std::string& node : nodes) {
    for (uint64_t seq = first; seq <= last; ++seq) {
      out.push_back(At(node, "b", seq, static_cast<int64_t>(seq) * 10));
    }
  }
  return out;
}

// Two replicas commit the same streams at once, as when an agent fails over mid-stream and
// resends: batches overlap, and list the nodes in opposite orders (the node locks are taken in
// node_id order, so no deadlock). Every seq is stored exactly once, by one of them, and what
// each CommitResult said stored is what is stored.
TEST(IngestConformanceTest, TwoReplicasCommittingTheSameStreamsStoreEachSeqOnce) {
  PROV_PG_SERVER_OR_SKIP(pg);
  auto conninfo = pg->FreshDatabase();
  ASSERT_TRUE(conninfo.ok()) << conninfo.status();
  // The first replica's first batch holds its transaction open until the second replica's first
  // batch waits on it (seen in pg_locks): the two really overlap at least once, whatever the
  // threads' timing; the later batches race freely.
  std::unique_ptr<PgConn> watcher = ConnectPg(*conninfo);
  ASSERT_NE(watcher, nullptr);
  std::atomic<bool> armed{true}, saw_wait{false};
  PgIngestOptions first_options{.application_name = "provd/ingest-1"};
  first_options.before_commit = [&] {
    if (!armed.exchange(false)) return;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      auto waiting = watcher->Query(
          "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT "
          "l.granted AND a.application_name = 'provd/ingest-2'");
      if (waiting.ok() && *waiting->Int64(0, 0) > 0) {
        saw_wait = true;
        return;
      }
      absl::SleepFor(absl::Milliseconds(5));  // polling another session's state, bounded
    }
  };
  auto first = PgIngestRepository::Open(*conninfo, first_options);
  auto second = PgIngestRepository::Open(*conninfo, {.application_name = "provd/ingest-2"});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();

  const std::vector<std::string> nodes = {"gpu-1", "gpu-2", "gpu-3", "gpu-4"};
  const std::vector<std::string> reversed(nodes.rbegin(), nodes.rend());
  constexpr uint64_t kLast = 120;
  struct Claims {
    std::multiset<std::pair<std::string, uint64_t>> stored;
    std::vector<std::string> errors;
    size_t marks_below_batch = 0;  // a stream's returned mark below the batch's last seq
  };
  auto run = [&](PgIngestRepository& repo, const std::vector<std::string>& order, uint64_t step,
                 Claims& claims) {
    for (uint64_t lo = 1; lo <= kLast; lo += step) {
      const uint64_t hi = std::min(kLast, lo + step - 1);
      std::vector<NodeReport> reports = StreamBatch(order, lo, hi);
      std::vector<ReportToCommit> batch = testing::CommitBatch(Pointers(reports));
      auto r = repo.Commit(batch, kT0 + absl::Seconds(static_cast<int64_t>(hi) * 10 + 1));
      if (!r.ok()) {
        claims.errors.push_back(std::string(r.status().message()));
        return;
      }
      for (size_t i = 0; i < reports.size(); ++i) {
        if (!r->duplicate[i]) claims.stored.emplace(reports[i].node().node_id(), reports[i].seq());
      }
      // Every stream's mark is at least this batch's last seq (all of it is stored by now).
      for (const std::string& node : order) {
        auto mark = r->high_water.find(StreamKeyView(node, "b"));
        if (mark == r->high_water.end() || mark->second < hi) ++claims.marks_below_batch;
      }
    }
  };
  Claims a, b;
  std::thread ta([&] { run(**first, nodes, 10, a); });
  std::thread tb([&] { run(**second, reversed, 7, b); });
  ta.join();
  tb.join();
  EXPECT_THAT(a.errors, ::testing::IsEmpty());
  EXPECT_THAT(b.errors, ::testing::IsEmpty());
  EXPECT_EQ(a.marks_below_batch + b.marks_below_batch, 0u);

  std::multiset<std::pair<std::string, uint64_t>> claimed = a.stored;
  claimed.insert(b.stored.begin(), b.stored.end());
  std::multiset<std::pair<std::string, uint64_t>> expected;
  for (const std::string& node : nodes) {
    for (uint64_t seq = 1; seq <= kLast; ++seq) expected.emplace(node, seq);
  }
  EXPECT_EQ(claimed, expected) << "each seq claimed stored exactly once across both";
  EXPECT_TRUE(saw_wait) << "the second replica never waited on the first's node locks";
  EXPECT_GT(a.stored.size(), 0u);

  std::unique_ptr<PgConn> conn = ConnectPg(*conninfo);
  ASSERT_NE(conn, nullptr);
  auto rows = conn->Query(
      "SELECT n.node_id, r.seq FROM reports r JOIN nodes n ON n.id = r.node ORDER BY 1, 2");
  ASSERT_TRUE(rows.ok()) << rows.status();
  std::multiset<std::pair<std::string, uint64_t>> in_table;
  for (int i = 0; i < rows->rows(); ++i) {
    in_table.emplace(rows->Text(i, 0), static_cast<uint64_t>(*rows->Int64(i, 1)));
  }
  EXPECT_EQ(in_table, expected);
  auto counts = conn->Query(
      "SELECT count(*), sum(reports_stored), min(s.max_seq) FROM nodes n JOIN node_streams s ON "
      "s.node = n.id");
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(*counts->Int64(0, 0), 4);  // each node created once
  EXPECT_EQ(*counts->Int64(0, 1), static_cast<int64_t>(4 * kLast));
  EXPECT_EQ(*counts->Int64(0, 2), static_cast<int64_t>(kLast));
}

// The write caches leave unchanged rows out, which is right only while no other writer changed
// them: node-a's board serial goes 1 -> 2 through the second replica and back to 1 through the
// first, whose cache still says 1. The first sees that node-a's reports_stored moved since its
// own commit, drops its caches, and records the change back.
TEST(IngestConformanceTest, AReplicaDropsItsWriteCachesWhenAnotherStoredTheNode) {
  PROV_PG_SERVER_OR_SKIP(pg);
  auto conninfo = pg->FreshDatabase();
  ASSERT_TRUE(conninfo.ok()) << conninfo.status();
  auto first = PgIngestRepository::Open(*conninfo);
  auto second = PgIngestRepository::Open(*conninfo);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  auto commit = [](PgIngestRepository& repo, const std::string& board, uint64_t seq) {
    NodeReport r = At("node-a", "boot-1", seq, static_cast<int64_t>(seq) * 10);
    SetHardware(r, "uuid-1", board);
    std::vector<ReportToCommit> batch = testing::CommitBatch({&r});
    auto result = repo.Commit(batch, kT0 + absl::Seconds(static_cast<int64_t>(seq) * 10 + 1));
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->stored, 1u);
  };
  commit(**first, "board-1", 1);
  commit(**first, "board-1", 2);  // cached: no hardware SQL
  commit(**second, "board-2", 3);
  commit(**first, "board-1", 4);

  std::unique_ptr<PgConn> conn = ConnectPg(*conninfo);
  ASSERT_NE(conn, nullptr);
  auto hw = conn->Query("SELECT board_serial FROM node_hardware");
  ASSERT_TRUE(hw.ok()) << hw.status();
  ASSERT_EQ(hw->rows(), 1);
  EXPECT_EQ(hw->Text(0, 0), "board-1");
  auto changes = conn->Query(
      "SELECT old_value || '->' || new_value FROM node_hardware_changes ORDER BY changed_at_us");
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->rows(), 2);
  EXPECT_EQ(changes->Text(0, 0), "board-1->board-2");
  EXPECT_EQ(changes->Text(1, 0), "board-2->board-1");
}

// The session dies between the plan's writes and COMMIT: the batch fails UNAVAILABLE, nothing of
// it is stored; the next Commit reconnects and stores it. A session killed while idle is found
// gone by the next BEGIN, which reconnects and runs the batch.
TEST(IngestConformanceTest, AKilledSessionFailsTheBatchAndTheNextCommitReconnects) {
  PROV_PG_SERVER_OR_SKIP(pg);
  auto conninfo = pg->FreshDatabase();
  ASSERT_TRUE(conninfo.ok()) << conninfo.status();
  std::unique_ptr<PgConn> admin = ConnectPg(*conninfo);
  ASSERT_NE(admin, nullptr);
  auto kill = [&] {
    auto killed = admin->Query(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
        "WHERE application_name = 'provd/ingest-killed' AND datname = current_database()");
    ASSERT_TRUE(killed.ok()) << killed.status();
    ASSERT_EQ(*killed->Int64(0, 0), 1);
  };
  std::atomic<bool> armed{false};
  PgIngestOptions options{.application_name = "provd/ingest-killed"};
  options.before_commit = [&] {
    if (armed.exchange(false)) kill();
  };
  auto repo = PgIngestRepository::Open(*conninfo, options);
  ASSERT_TRUE(repo.ok()) << repo.status();
  auto count = [&] { return *admin->Query("SELECT count(*) FROM reports")->Int64(0, 0); };

  std::vector<NodeReport> first = StreamBatch({"gpu-1", "gpu-2"}, 1, 5);
  std::vector<ReportToCommit> batch = testing::CommitBatch(Pointers(first));
  armed = true;
  auto failed = (*repo)->Commit(batch, kT0 + absl::Seconds(60));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
  EXPECT_EQ(count(), 0);
  EXPECT_EQ(*admin->Query("SELECT count(*) FROM nodes")->Int64(0, 0), 0);

  batch = testing::CommitBatch(Pointers(first));
  auto retried = (*repo)->Commit(batch, kT0 + absl::Seconds(61));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->stored, 10u);
  EXPECT_EQ(count(), 10);

  kill();  // idle: libpq notices only when the next BEGIN is sent
  std::vector<NodeReport> second = StreamBatch({"gpu-1", "gpu-2"}, 6, 8);
  batch = testing::CommitBatch(Pointers(second));
  auto next = (*repo)->Commit(batch, kT0 + absl::Seconds(90));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->stored, 6u);
  EXPECT_EQ(count(), 16);

  // RecordRejections after an idle kill reconnects the same way.
  kill();
  auto notes = (*repo)->RecordRejections(std::vector<NodeRejections>{
      {"gpu-1", 1, kT0 + absl::Seconds(95), kT0 + absl::Seconds(95), "seq: too far"}});
  ASSERT_TRUE(notes.ok()) << notes.status();
  ASSERT_EQ(notes->size(), 1u);
  EXPECT_EQ((*notes)[0].reports_rejected, 1);

  // Agent bytes with a NUL (PostgreSQL text cannot hold one) fail nobody's record: the node id
  // is left out (it has no row), the reason is written with "\0".
  notes = (*repo)->RecordRejections(std::vector<NodeRejections>{
      {std::string("gpu\0x", 5), 1, kT0 + absl::Seconds(96), kT0 + absl::Seconds(96), "x"},
      {"gpu-1", 1, kT0 + absl::Seconds(97), kT0 + absl::Seconds(97), std::string("a\0b", 3)}});
  ASSERT_TRUE(notes.ok()) << notes.status();
  ASSERT_EQ(notes->size(), 1u);
  EXPECT_EQ((*notes)[0].node_id, "gpu-1");
  EXPECT_EQ((*notes)[0].last_rejection, "a\\0b");
}

}  // namespace
}  // namespace prov::server
