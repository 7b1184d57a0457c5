// The audit log (server/store/repo/audit_log.h) behaves the same on SQLite and on PostgreSQL:
// appends inside the caller's transaction (and only there), listing, and verification that finds
// rows edited, removed, reordered or cut off (against an export's anchor) with plain SQL, run
// against both engines. PostgreSQL only: appenders on several sessions at once build one chain.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/connection.h"
#include "server/store/pg/pg_audit_log.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/repo/audit_log.h"
#include "server/store/schema.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/transaction.h"
#include "tests/store/pg_server.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

using integrity::ChainAnchor;
using integrity::ChainEntry;
using integrity::ChainProblem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<uint64_t> Seqs(const std::vector<ChainEntry>& entries) {
  std::vector<uint64_t> seqs;
  for (const ChainEntry& e : entries) seqs.push_back(e.seq);
  return seqs;
}

std::vector<std::string> Actions(const std::vector<ChainEntry>& entries) {
  std::vector<std::string> actions;
  for (const ChainEntry& e : entries) actions.push_back(e.action);
  return actions;
}

bool HasProblem(const AuditVerification& v, ChainProblem::Kind kind, uint64_t seq,
                const std::string& text) {
  for (const ChainProblem& p : v.problems) {
    if (p.kind == kind && p.seq == seq && p.message.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string Problems(const AuditVerification& v) {
  std::string out;
  for (const ChainProblem& p : v.problems) absl::StrAppend(&out, p.message, "\n");
  return out;
}

class AuditLogTest : public prov::testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // The writer: the connection of "the change being recorded", migrated as provd's store is.
    if (engine() == prov::testing::Engine::kSqlite) {
      auto db = OpenConnection(sqlite_path(), SqliteDb::kReadWrite);
      ASSERT_TRUE(db.ok()) << db.status();
      sqlite_ = *std::move(db);
      ASSERT_TRUE(MigrateSchema(*sqlite_).ok());
      auto repo = SqliteAuditLogRepository::Open(sqlite_path());
      ASSERT_TRUE(repo.ok()) << repo.status();
      repo_ = *std::move(repo);
    } else {
      auto conn = PgConn::Connect(pg_conninfo(),
                                  {.application_name = "prov-test", .search_path = kPgSchema});
      ASSERT_TRUE(conn.ok()) << conn.status();
      pg_ = *std::move(conn);
      auto repo = PgAuditLogRepository::Open(pg_conninfo());  // migrates
      ASSERT_TRUE(repo.ok()) << repo.status();
      repo_ = *std::move(repo);
    }
  }

  absl::StatusOr<ChainEntry> AppendOn(absl::string_view actor, absl::string_view action,
                                      absl::string_view payload) {
    if (sqlite_) return AppendAuditEntry(*sqlite_, actor, action, payload, now_);
    return AppendAuditEntry(*pg_, actor, action, payload, now_);
  }

  // Appends one entry in a transaction of its own, committed or rolled back.
  absl::StatusOr<ChainEntry> AppendInTransaction(absl::string_view action,
                                                 absl::string_view payload = "{}",
                                                 bool commit = true) {
    absl::StatusOr<ChainEntry> e = absl::UnknownError("not appended");
    now_ += absl::Seconds(1);
    if (sqlite_) {
      auto txn = Transaction::Begin(*sqlite_, Transaction::kWrite);
      if (!txn.ok()) return txn.status();
      e = AppendOn("token:alice", action, payload);
      if (e.ok() && commit) {
        absl::Status committed = txn->Commit();
        if (!committed.ok()) return committed;
      }
      return e;  // not committed: ~Transaction rolls back
    }
    absl::Status s = pg_->Transaction([&]() -> absl::Status {
      e = AppendOn("token:alice", action, payload);
      if (!e.ok()) return e.status();
      return commit ? absl::OkStatus() : absl::AbortedError("rolled back by the test");
    });
    if (!s.ok() && commit) return s;
    return e;
  }

  void Append(int n, absl::string_view action = "case.note") {
    for (int i = 0; i < n; ++i) {
      auto e = AppendInTransaction(action, AuditPayload({{"flag_id", absl::StrCat("F-", i)}}));
      ASSERT_TRUE(e.ok()) << e.status();
    }
  }

  AuditVerification Verify(std::optional<ChainAnchor> anchor = std::nullopt) {
    auto v = repo_->Verify(anchor);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *std::move(v) : AuditVerification{};
  }

  std::vector<ChainEntry> List(uint64_t after_seq, uint32_t limit, absl::string_view prefix) {
    auto entries = repo_->List(after_seq, limit, prefix);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *std::move(entries) : std::vector<ChainEntry>{};
  }

  void Sql(const std::string& sql) { ASSERT_TRUE(RawExec(sql).ok()) << sql; }

  // An export row recording `anchor`.
  void PlantExport(const std::string& id, int64_t created_us, const ChainAnchor& anchor) {
    const char* empty_blob = engine() == prov::testing::Engine::kSqlite ? "x''" : "''::bytea";
    Sql(
        absl::StrCat("INSERT INTO exports(export_id, created_us, audit_head_seq, "
                     "audit_head_hash, trigger, path, manifest_sha256, "
                     "previous_manifest_sha256, summary) VALUES ('",
                     id, "', ", created_us, ", ", anchor.seq, ", '", anchor.hash,
                     "', 'request', '/x', 'm', '', ", empty_blob, ")"));
  }

  absl::Time now_ = absl::FromUnixSeconds(1'760'000'000);
  std::unique_ptr<SqliteDb> sqlite_;
  std::unique_ptr<PgConn> pg_;
  std::unique_ptr<AuditLogRepository> repo_;
};

TEST_P(AuditLogTest, AnEmptyLogIsIntact) {
  auto head = repo_->Head();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->seq, 0u);
  EXPECT_EQ(head->hash, integrity::kGenesisHash);
  AuditVerification v = Verify();
  EXPECT_TRUE(v.intact()) << Problems(v);
  EXPECT_EQ(v.entries, 0u);
  EXPECT_FALSE(v.anchor.has_value());
  EXPECT_THAT(List(0, 100, ""), IsEmpty());
}

TEST_P(AuditLogTest, AppendedEntriesListInOrderWithEveryFieldAndVerify) {
  Append(4);
  auto last = AppendInTransaction("policy.load", R"({"note":"quote \" café 東京"})");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->seq, 5u);

  std::vector<ChainEntry> entries = List(0, 100, "");
  ASSERT_THAT(Seqs(entries), ElementsAre(1u, 2u, 3u, 4u, 5u));
  EXPECT_EQ(entries[0].prev_hash, integrity::kGenesisHash);
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].hash, integrity::EntryHash(entries[i])) << "entry " << i + 1;
    if (i > 0) {
      EXPECT_EQ(entries[i].prev_hash, entries[i - 1].hash) << "entry " << i + 1;
    }
    EXPECT_EQ(entries[i].actor, "token:alice");
  }
  EXPECT_EQ(entries[1].payload, R"({"flag_id":"F-1"})");
  const ChainEntry& got = entries[4];
  EXPECT_EQ(got.action, "policy.load");
  EXPECT_EQ(got.payload, R"({"note":"quote \" café 東京"})");
  EXPECT_EQ(got.time_unix_micros, absl::ToUnixMicros(now_));
  EXPECT_EQ(got.hash, last->hash);

  AuditVerification v = Verify();
  EXPECT_TRUE(v.intact()) << Problems(v);
  EXPECT_EQ(v.entries, 5u);
  EXPECT_EQ(v.head.seq, 5u);
  EXPECT_EQ(v.head.hash, last->hash);
  auto head = repo_->Head();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->seq, 5u);
  EXPECT_EQ(head->hash, last->hash);
}

TEST_P(AuditLogTest, AppendOutsideATransactionIsRefused) {
  auto e = AppendOn("a", "b", "{}");
  EXPECT_EQ(e.status().code(), absl::StatusCode::kFailedPrecondition) << e.status();
  EXPECT_THAT(std::string(e.status().message()), HasSubstr("inside the transaction"));
  EXPECT_THAT(List(0, 100, ""), IsEmpty());
}

TEST_P(AuditLogTest, AnEntryAppendedInARolledBackTransactionIsGone) {
  Append(2);
  auto rolled_back = AppendInTransaction("case.resolve", "{}", /*commit=*/false);
  ASSERT_TRUE(rolled_back.ok()) << rolled_back.status();
  EXPECT_EQ(rolled_back->seq, 3u);
  EXPECT_THAT(Actions(List(0, 100, "")), ElementsAre("case.note", "case.note"));
  EXPECT_EQ(repo_->Head()->seq, 2u);
  // The next append takes seq 3 again and links to entry 2: the chain is whole.
  auto next = AppendInTransaction("token.issue");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->seq, 3u);
  EXPECT_NE(next->hash, rolled_back->hash);
  EXPECT_THAT(Actions(List(0, 100, "")), ElementsAre("case.note", "case.note", "token.issue"));
  AuditVerification v = Verify();
  EXPECT_TRUE(v.intact()) << Problems(v);
  EXPECT_EQ(v.entries, 3u);
}

// The repository reads committed entries only: an append whose transaction is still open is
// not listed and does not move the head.
TEST_P(AuditLogTest, AnUncommittedAppendIsNotSeenByTheRepository) {
  Append(1);
  auto check = [&]() -> absl::Status {
    auto e = AppendOn("token:bob", "case.note", "{}");
    if (!e.ok()) return e.status();
    EXPECT_EQ(e->seq, 2u);
    auto head = repo_->Head();
    EXPECT_TRUE(head.ok()) << head.status();
    if (head.ok()) {
      EXPECT_EQ(head->seq, 1u);
    }
    EXPECT_THAT(Seqs(List(0, 100, "")), ElementsAre(1u));
    return absl::OkStatus();
  };
  if (sqlite_) {
    auto txn = Transaction::Begin(*sqlite_, Transaction::kWrite);
    ASSERT_TRUE(txn.ok()) << txn.status();
    ASSERT_TRUE(check().ok());
    ASSERT_TRUE(txn->Commit().ok());
  } else {
    absl::Status s = pg_->Transaction(check);
    ASSERT_TRUE(s.ok()) << s;
  }
  EXPECT_EQ(repo_->Head()->seq, 2u);
}

TEST_P(AuditLogTest, ActionPrefixSelectsByteExactPrefixes) {
  for (const char* action :
       {"case.note", "cases.bulk", "case.resolve", "token.issue", "Case.note", "a_b", "axb"}) {
    ASSERT_TRUE(AppendInTransaction(action).ok()) << action;
  }
  EXPECT_THAT(Actions(List(0, 100, "case.")), ElementsAre("case.note", "case.resolve"));
  EXPECT_THAT(Actions(List(0, 100, "case")),
              ElementsAre("case.note", "cases.bulk", "case.resolve"));
  EXPECT_THAT(Actions(List(0, 100, "Case.")), ElementsAre("Case.note"));
  EXPECT_THAT(Actions(List(0, 100, "token.issue")), ElementsAre("token.issue"));
  // No pattern characters: '_' and '%' are themselves.
  EXPECT_THAT(Actions(List(0, 100, "a_")), ElementsAre("a_b"));
  EXPECT_THAT(List(0, 100, "%"), IsEmpty());
  EXPECT_THAT(List(0, 100, "case.note.more"), IsEmpty());
  EXPECT_EQ(List(0, 100, "").size(), 7u);
}

TEST_P(AuditLogTest, PagesByAfterSeqAndLimit) {
  Append(3, "case.note");
  Append(2, "token.issue");
  Append(2, "case.note");
  EXPECT_THAT(Seqs(List(0, 3, "")), ElementsAre(1u, 2u, 3u));
  EXPECT_THAT(Seqs(List(3, 3, "")), ElementsAre(4u, 5u, 6u));
  EXPECT_THAT(Seqs(List(6, 3, "")), ElementsAre(7u));
  EXPECT_THAT(List(7, 3, ""), IsEmpty());
  EXPECT_THAT(List(0, 0, ""), IsEmpty());
  // Paging a filtered listing: after_seq is a seq, not a position among the matches.
  EXPECT_THAT(Seqs(List(0, 2, "case.")), ElementsAre(1u, 2u));
  EXPECT_THAT(Seqs(List(2, 2, "case.")), ElementsAre(3u, 6u));
  EXPECT_THAT(Seqs(List(6, 2, "case.")), ElementsAre(7u));
  EXPECT_THAT(Seqs(List(3, 100, "token.")), ElementsAre(4u, 5u));
}

TEST_P(AuditLogTest, AnEditedEntryIsNamed) {
  Append(4);
  Sql("UPDATE audit_log SET payload = '{\"flag_id\":\"F-999\"}' WHERE seq = 2");
  AuditVerification v = Verify();
  ASSERT_FALSE(v.intact());
  EXPECT_EQ(v.problems[0].seq, 2u);
  EXPECT_EQ(v.problems[0].kind, ChainProblem::Kind::kEdited) << Problems(v);
  EXPECT_THAT(v.problems[0].message, HasSubstr("entry 2"));
  EXPECT_THAT(v.problems[0].message, HasSubstr("edited"));
  EXPECT_EQ(v.entries, 4u);
}

TEST_P(AuditLogTest, AnEntryEditedWithAFreshHashBreaksTheNextLink) {
  Append(4);
  // Rewrite entry 2 consistently with itself: its own hash matches, entry 3 no longer links.
  std::vector<ChainEntry> entries = List(0, 100, "");
  ChainEntry forged = entries[1];
  forged.actor = "token:mallory";
  forged.hash = integrity::EntryHash(forged);
  Sql(absl::StrCat("UPDATE audit_log SET actor = 'token:mallory', hash = '", forged.hash,
                   "' WHERE seq = 2"));
  AuditVerification v = Verify();
  EXPECT_TRUE(HasProblem(v, ChainProblem::Kind::kBrokenLink, 3, "entry 3 does not link"))
      << Problems(v);
}

TEST_P(AuditLogTest, ARemovedEntryIsNamed) {
  Append(4);
  Sql("DELETE FROM audit_log WHERE seq = 3");
  AuditVerification v = Verify();
  EXPECT_TRUE(HasProblem(v, ChainProblem::Kind::kRemoved, 4, "entry 3 is missing")) << Problems(v);
  EXPECT_EQ(v.entries, 3u);
}

TEST_P(AuditLogTest, ReorderedEntriesAreFound) {
  Append(4);
  // Swap entries 2 and 3 (contents move, seq stays): neither matches its hash any more.
  Sql("UPDATE audit_log SET seq = -2 WHERE seq = 2");
  Sql("UPDATE audit_log SET seq = 2 WHERE seq = 3");
  Sql("UPDATE audit_log SET seq = 3 WHERE seq = -2");
  AuditVerification v = Verify();
  EXPECT_TRUE(HasProblem(v, ChainProblem::Kind::kEdited, 2, "entry 2")) << Problems(v);
  EXPECT_TRUE(HasProblem(v, ChainProblem::Kind::kEdited, 3, "entry 3")) << Problems(v);
}

TEST_P(AuditLogTest, TruncationIsFoundAgainstTheNewestExportAnchor) {
  Append(3);
  auto older = repo_->Head();
  ASSERT_TRUE(older.ok()) << older.status();
  Append(2);
  auto head = repo_->Head();
  ASSERT_TRUE(head.ok()) << head.status();
  ASSERT_EQ(head->seq, 5u);
  PlantExport("e1", 1'000, *older);
  PlantExport("e2", 2'000, *head);                         // the newest: the anchor
  PlantExport("e0", 3'000, {0, integrity::kGenesisHash});  // no audit head: skipped
  AuditVerification v = Verify();
  EXPECT_TRUE(v.intact()) << Problems(v);
  ASSERT_TRUE(v.anchor.has_value());
  EXPECT_EQ(v.anchor->seq, 5u);
  EXPECT_EQ(v.anchor->hash, head->hash);

  Sql("DELETE FROM audit_log WHERE seq >= 4");  // cut the tail off
  v = Verify();
  ASSERT_FALSE(v.intact());
  ASSERT_TRUE(v.anchor.has_value());
  EXPECT_EQ(v.anchor->seq, 5u);
  EXPECT_TRUE(HasProblem(v, ChainProblem::Kind::kTruncated, 5, "is gone")) << Problems(v);
  // Without the export's anchor the shortened chain looks whole: that is what exports are for.
  AuditVerification against_older = Verify(*older);
  EXPECT_TRUE(against_older.intact()) << Problems(against_older);
  EXPECT_EQ(against_older.anchor->seq, 3u);
}

PROV_STORE_TEST_P(AuditLogTest);

// PostgreSQL only: there is no database-wide write lock, so appends from different sessions
// (replicas) are serialised by the audit append lock (pg_audit_log.h).

class PgAuditLogTest : public prov::testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto repo = PgAuditLogRepository::Open(pg_conninfo());  // migrates
    ASSERT_TRUE(repo.ok()) << repo.status();
    repo_ = *std::move(repo);
  }
  std::unique_ptr<PgConn> Connect(const std::string& name) {
    auto conn =
        PgConn::Connect(pg_conninfo(), {.application_name = name, .search_path = kPgSchema});
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }
  std::unique_ptr<PgAuditLogRepository> repo_;
};

// Two replicas appending at once, many times, each on its own connection and thread: every
// append succeeds (without the lock, two sessions reading the same head would collide on seq),
// seqs are 1..N without gaps, and the chain verifies. (Checked when written: with the lock
// statement replaced by a no-op, 42 to 93 of the 300 appends failed in three runs, and the
// waiting test below failed too.)
TEST_P(PgAuditLogTest, ConcurrentAppendersOnTwoSessionsBuildOneUnbrokenChain) {
  constexpr int kPerThread = 150;
  auto a = Connect("prov-test/a");
  auto b = Connect("prov-test/b");
  ASSERT_TRUE(a && b);
  std::atomic<int> failures{0};
  std::string first_failure;
  auto run = [&](PgConn* conn, const std::string& actor) {
    for (int i = 0; i < kPerThread; ++i) {
      absl::Status s = conn->Transaction([&]() -> absl::Status {
        // Some work of "the change" first, as a real caller has: widens the race window.
        auto r = conn->Query("SELECT count(*) FROM exports");
        if (!r.ok()) return r.status();
        return AppendAuditEntry(*conn, actor, "case.note", AuditPayload({{"i", absl::StrCat(i)}}),
                                absl::FromUnixSeconds(1'760'000'000 + i))
            .status();
      });
      if (!s.ok() && failures++ == 0) first_failure = s.ToString();
    }
  };
  std::thread ta(run, a.get(), "replica:a");
  std::thread tb(run, b.get(), "replica:b");
  ta.join();
  tb.join();
  EXPECT_EQ(failures.load(), 0) << first_failure;

  auto entries = repo_->List(0, 10'000, "");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 2u * kPerThread);
  int from_a = 0;
  for (size_t i = 0; i < entries->size(); ++i) {
    EXPECT_EQ((*entries)[i].seq, i + 1);
    from_a += (*entries)[i].actor == "replica:a";
  }
  EXPECT_EQ(from_a, kPerThread);
  auto v = repo_->Verify(std::nullopt);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->intact()) << Problems(*v);
  EXPECT_EQ(v->head.seq, 2u * kPerThread);
}

// The lock itself: a second session's append waits (seen in pg_locks, on key (1347571542, 1))
// until the first session's transaction ends, then links to the entry that transaction committed.
TEST_P(PgAuditLogTest, AnAppendWaitsForAnotherSessionsOpenAppend) {
  auto first = Connect("prov-test/first");
  auto second = Connect("prov-test/second");
  auto watcher = Connect("prov-test/watcher");
  ASSERT_TRUE(first && second && watcher);
  absl::StatusOr<ChainEntry> first_entry = absl::UnknownError("not run");
  absl::StatusOr<ChainEntry> second_entry = absl::UnknownError("not run");
  absl::Status second_txn;
  bool second_waited = false;
  std::thread waiter;
  absl::Status first_txn = first->Transaction([&]() -> absl::Status {
    first_entry = AppendAuditEntry(*first, "replica:a", "case.note", "{}", absl::Now());
    if (!first_entry.ok()) return first_entry.status();
    waiter = std::thread([&] {
      second_txn = second->Transaction([&]() -> absl::Status {
        second_entry = AppendAuditEntry(*second, "replica:b", "case.note", "{}", absl::Now());
        return second_entry.status();
      });
    });
    const absl::Time deadline = absl::Now() + absl::Seconds(8);  // under lock_timeout (10 s)
    while (!second_waited && absl::Now() < deadline) {
      auto waiting = watcher->Query(
          "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND "
          "classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 2",
          {int64_t{kPgLockKey}, int64_t{kPgAuditAppendLock}});
      second_waited = waiting.ok() && *waiting->Int64(0, 0) > 0;
      if (!second_waited) absl::SleepFor(absl::Milliseconds(10));  // polling a real server
    }
    return absl::OkStatus();
  });
  if (waiter.joinable()) waiter.join();
  ASSERT_TRUE(first_txn.ok()) << first_txn;
  EXPECT_TRUE(second_waited) << "the second append never waited on the audit append lock";
  ASSERT_TRUE(second_txn.ok()) << second_txn;
  ASSERT_TRUE(first_entry.ok() && second_entry.ok());
  EXPECT_EQ(first_entry->seq, 1u);
  EXPECT_EQ(second_entry->seq, 2u);
  EXPECT_EQ(second_entry->prev_hash, first_entry->hash);
  auto v = repo_->Verify(std::nullopt);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->intact()) << Problems(*v);
}

// The append lock is transaction-level: held until COMMIT or ROLLBACK, never past it.
TEST_P(PgAuditLogTest, TheAppendLockEndsWithTheTransaction) {
  auto conn = Connect("prov-test");
  ASSERT_NE(conn, nullptr);
  for (bool commit : {true, false}) {
    absl::Status s = conn->Transaction([&]() -> absl::Status {
      auto e = AppendAuditEntry(*conn, "a", "case.note", "{}", absl::Now());
      if (!e.ok()) return e.status();
      return commit ? absl::OkStatus() : absl::AbortedError("rolled back by the test");
    });
    EXPECT_EQ(s.ok(), commit) << s;
    auto held = conn->Query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'");
    ASSERT_TRUE(held.ok()) << held.status();
    EXPECT_EQ(*held->Int64(0, 0), 0) << (commit ? "after COMMIT" : "after ROLLBACK");
  }
}

TEST_P(PgAuditLogTest, AnAppendInARepeatableReadTransactionIsRefused) {
  auto conn = Connect("prov-test");
  ASSERT_NE(conn, nullptr);
  absl::StatusOr<ChainEntry> e = absl::UnknownError("not run");
  absl::Status s = conn->Transaction(
      [&]() -> absl::Status {
        e = AppendAuditEntry(*conn, "a", "case.note", "{}", absl::Now());
        return e.status();
      },
      "BEGIN ISOLATION LEVEL REPEATABLE READ");
  EXPECT_EQ(e.status().code(), absl::StatusCode::kFailedPrecondition) << e.status();
  EXPECT_THAT(std::string(e.status().message()), HasSubstr("repeatable read"));
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(*repo_->List(0, 10, ""), IsEmpty());
}

TEST_P(PgAuditLogTest, TheRepositoryReconnectsAfterTheServerDroppedItsSession) {
  auto conn = Connect("prov-test");
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->Transaction([&] {
                    return AppendAuditEntry(*conn, "a", "case.note", "{}", absl::Now()).status();
                  })
                  .ok());
  ASSERT_TRUE(repo_->Head().ok());  // the session is up
  auto n = prov::testing::TerminateBackends(*conn, "application_name = 'provd/audit'");
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, 1);
  auto entries = repo_->List(0, 10, "");
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(Seqs(*entries), ElementsAre(1u));
  n = prov::testing::TerminateBackends(*conn, "application_name = 'provd/audit'");
  ASSERT_TRUE(n.ok() && *n == 1);
  auto v = repo_->Verify(std::nullopt);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->intact());
  EXPECT_EQ(v->entries, 1u);
}

INSTANTIATE_TEST_SUITE_P(Engines, PgAuditLogTest,
                         ::testing::Values(prov::testing::Engine::kPostgres),
                         [](const auto& info) { return prov::testing::EngineName(info.param); });

}  // namespace
}  // namespace prov::server
