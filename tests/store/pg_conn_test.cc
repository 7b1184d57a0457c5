// PgConn against a real PostgreSQL 15 (pg_server.h): parameters and rows, the statement cache,
// transactions, and how server errors map to absl::Status codes.
#include "server/store/pg/pg_conn.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log/log.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/pg/pg_status.h"
#include "tests/store/pg_server.h"

namespace prov::server {
namespace {

using ::testing::HasSubstr;

class PgConnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PROV_PG_SERVER_OR_SKIP(pg);
    pg_ = pg;
    auto conninfo = pg->FreshDatabase();
    ASSERT_TRUE(conninfo.ok()) << conninfo.status();
    conninfo_ = *conninfo;
    conn_ = Connect();
    ASSERT_NE(conn_, nullptr);
  }
  std::unique_ptr<PgConn> Connect() {
    auto conn = PgConn::Connect(conninfo_, {.application_name = "prov-test", .search_path = ""});
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }
  // Raises a server error with this SQLSTATE (a real error through libpq, not a fake).
  absl::Status Raise(const std::string& sqlstate) {
    return conn_->Exec(absl::StrCat("DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '",
                                    sqlstate, "'; END $$"));
  }

  testing::PgServer* pg_ = nullptr;
  std::string conninfo_;
  std::unique_ptr<PgConn> conn_;
};

TEST_F(PgConnTest, QueryBindsTextParametersAndReadsRows) {
  ASSERT_TRUE(conn_
                  ->Exec("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT, d DOUBLE PRECISION, "
                         "b BYTEA, note TEXT)")
                  .ok());
  const std::string bytes("\x00\x01\xff zero", 8);
  auto ins = conn_->Query("INSERT INTO t VALUES ($1, $2, $3, $4, $5)",
                          {"a", int64_t{-9007199254740993}, 0.1, PgParam::Bytes(bytes), nullptr});
  ASSERT_TRUE(ins.ok()) << ins.status();
  EXPECT_EQ(ins->affected(), 1);
  auto r = conn_->Query("SELECT k, n, d, b, note FROM t WHERE k = $1", {"a"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows(), 1);
  ASSERT_EQ(r->columns(), 5);
  EXPECT_EQ(r->Text(0, 0), "a");
  EXPECT_EQ(*r->Int64(0, 1), -9007199254740993);
  EXPECT_EQ(*r->Double(0, 2), 0.1);
  EXPECT_EQ(*r->Bytes(0, 3), bytes);
  EXPECT_TRUE(r->IsNull(0, 4));
  EXPECT_FALSE(r->IsNull(0, 0));
  // A text column read as a number is DATA_LOSS, not a crash or a silent 0.
  EXPECT_EQ(r->Int64(0, 0).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(PgConnTest, StatementsArePreparedOnceAndCachedBySqlText) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(conn_->Query("SELECT $1::bigint + 1", {i}).ok());
  EXPECT_EQ(conn_->cached_statements(), 1u);
  ASSERT_TRUE(conn_->Query("SELECT $1::bigint + 2", {1}).ok());
  EXPECT_EQ(conn_->cached_statements(), 2u);
  auto r = conn_->Query("SELECT $1::bigint + 1", {41});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r->Int64(0, 0), 42);
  // A statement that fails to prepare is not cached.
  EXPECT_FALSE(conn_->Query("SELECT FROM nowhere_at_all").ok());
  EXPECT_EQ(conn_->cached_statements(), 2u);
}

TEST_F(PgConnTest, TransactionCommitsOrRollsBack) {
  ASSERT_TRUE(conn_->Exec("CREATE TABLE t (k TEXT PRIMARY KEY)").ok());
  absl::Status failed = conn_->Transaction([&]() -> absl::Status {
    EXPECT_TRUE(conn_->InTransaction());
    EXPECT_TRUE(conn_->Query("INSERT INTO t VALUES ($1)", {"a"}).ok());
    return absl::CancelledError("body gave up");
  });
  EXPECT_EQ(failed.code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(conn_->InTransaction());
  EXPECT_EQ(conn_->Query("SELECT k FROM t")->rows(), 0);

  ASSERT_TRUE(
      conn_->Transaction([&] { return conn_->Query("INSERT INTO t VALUES ('b')").status(); }).ok());
  EXPECT_EQ(conn_->Query("SELECT k FROM t")->rows(), 1);

  // A body that swallows a statement error cannot commit: PostgreSQL answers COMMIT with ROLLBACK.
  absl::Status swallowed = conn_->Transaction([&]() -> absl::Status {
    (void)conn_->Query("INSERT INTO t VALUES ('c')");
    (void)conn_->Query("INSERT INTO t VALUES ('b')");  // duplicate: the transaction is aborted
    return absl::OkStatus();
  });
  EXPECT_EQ(swallowed.code(), absl::StatusCode::kAborted) << swallowed;
  EXPECT_EQ(conn_->Query("SELECT k FROM t")->rows(), 1);
}

TEST_F(PgConnTest, UniqueViolationIsAlreadyExists) {
  ASSERT_TRUE(conn_->Exec("CREATE TABLE t (k TEXT PRIMARY KEY)").ok());
  ASSERT_TRUE(conn_->Query("INSERT INTO t VALUES ($1)", {"a"}).ok());
  auto dup = conn_->Query("INSERT INTO t VALUES ($1)", {"a"});
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists) << dup.status();
  EXPECT_THAT(std::string(dup.status().message()), HasSubstr("[23505]"));
  EXPECT_THAT(std::string(dup.status().message()), HasSubstr("INSERT INTO t"));
}

TEST_F(PgConnTest, SerializationFailureIsAborted) {
  ASSERT_TRUE(conn_->Exec("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT)").ok());
  ASSERT_TRUE(conn_->Exec("INSERT INTO t VALUES ('a', 1)").ok());
  auto other = Connect();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(conn_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ").ok());
  ASSERT_TRUE(conn_->Query("SELECT n FROM t").ok());  // the snapshot is taken here
  ASSERT_TRUE(other->Exec("UPDATE t SET n = 2 WHERE k = 'a'").ok());
  auto conflict = conn_->Query("UPDATE t SET n = 3 WHERE k = 'a'");
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAborted) << conflict.status();
  EXPECT_THAT(std::string(conflict.status().message()), HasSubstr("[40001]"));
  ASSERT_TRUE(conn_->Exec("ROLLBACK").ok());
}

TEST_F(PgConnTest, ServerErrorsMapToStatusCodes) {
  struct Case {
    const char* sqlstate;
    absl::StatusCode code;
  } cases[] = {
      {"53100", absl::StatusCode::kResourceExhausted},   // disk_full
      {"40P01", absl::StatusCode::kAborted},             // deadlock_detected
      {"40001", absl::StatusCode::kAborted},             // serialization_failure
      {"55P03", absl::StatusCode::kUnavailable},         // lock_not_available
      {"57014", absl::StatusCode::kUnavailable},         // query_canceled (statement_timeout)
      {"25006", absl::StatusCode::kUnavailable},         // read_only_sql_transaction (standby)
      {"23505", absl::StatusCode::kAlreadyExists},       // unique_violation
      {"23502", absl::StatusCode::kFailedPrecondition},  // not_null_violation
      {"22P02", absl::StatusCode::kInvalidArgument},     // invalid_text_representation
      {"42P01", absl::StatusCode::kInternal},            // undefined_table: a bug
  };
  for (const Case& c : cases) {
    absl::Status s = Raise(c.sqlstate);
    EXPECT_EQ(s.code(), c.code) << c.sqlstate << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("[", c.sqlstate, "]")));
    EXPECT_EQ(PgStatusCode(c.sqlstate), c.code) << c.sqlstate;
  }
  EXPECT_EQ(PgStatusCode("08006"), absl::StatusCode::kUnavailable);  // connection_failure
  EXPECT_EQ(PgStatusCode("08P01"), absl::StatusCode::kInternal);     // protocol_violation
  EXPECT_EQ(PgStatusCode("57P01"), absl::StatusCode::kUnavailable);  // admin_shutdown
  EXPECT_EQ(PgStatusCode(""), absl::StatusCode::kUnavailable);       // no answer at all
}

TEST_F(PgConnTest, ErrorsOnALiveSessionAreNotUnavailable) {
  // The server's 08P01 (a wrong parameter count) leaves the session up: a bug, not "retry later".
  auto wrong = conn_->Query("SELECT $1::int + $2::int", {1});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInternal) << wrong.status();
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("[08P01]"));
  // A class 08 SQLSTATE raised on a live session is no lost connection either.
  absl::Status raised = Raise("08006");
  EXPECT_EQ(raised.code(), absl::StatusCode::kInternal) << raised;
  // An error libpq raises itself (no SQLSTATE): more parameters than the protocol allows.
  std::vector<PgParam> too_many(70000, PgParam(int64_t{1}));
  auto refused = conn_->Query("SELECT 1", too_many);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInternal) << refused.status();
  EXPECT_TRUE(conn_->ok());
  EXPECT_TRUE(conn_->Query("SELECT 1").ok());
}

TEST_F(PgConnTest, TextParametersWithANulByteAreRefused) {
  const std::string with_nul("ab\0cd", 5);
  auto r = conn_->Query("SELECT $1::text", {with_nul});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("$1"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("NUL"));
  // Bytes carry NULs.
  auto b = conn_->Query("SELECT length($1::bytea)", {PgParam::Bytes(with_nul)});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*b->Int64(0, 0), 5);
}

TEST_F(PgConnTest, NestedTransactionsAreRefusedAndWarningsLogged) {
  ASSERT_TRUE(conn_->Exec("CREATE TABLE t (k TEXT PRIMARY KEY)").ok());
  absl::Status inner;
  absl::Status outer = conn_->Transaction([&]() -> absl::Status {
    PROV_RETURN_IF_ERROR(conn_->Query("INSERT INTO t VALUES ('outer')").status());
    inner =
        conn_->Transaction([&] { return conn_->Query("INSERT INTO t VALUES ('in')").status(); });
    return absl::CancelledError("outer gives up");
  });
  EXPECT_EQ(inner.code(), absl::StatusCode::kFailedPrecondition) << inner;
  EXPECT_EQ(outer.code(), absl::StatusCode::kCancelled) << outer;
  // The outer rollback took everything: the inner call committed nothing.
  EXPECT_EQ(conn_->Query("SELECT k FROM t")->rows(), 0);

  // A server WARNING (here: COMMIT outside a transaction) reaches the project's log.
  static std::ostringstream logged;  // the replaced Logger is kept alive, so is its stream
  log::SetDefault(std::make_unique<log::Logger>(log::LogOptions{.out = &logged}));
  ASSERT_TRUE(conn_->Exec("COMMIT").ok());
  log::SetDefault(std::make_unique<log::Logger>(log::LogOptions{}));
  EXPECT_THAT(logged.str(), HasSubstr("there is no transaction in progress"));
  EXPECT_THAT(logged.str(), HasSubstr("25P01"));
}

TEST_F(PgConnTest, ASessionWhoseSetupFailedIsSetUpAgainOnReconnect) {
  ASSERT_TRUE(conn_->Exec("CREATE SCHEMA provd; CREATE TABLE provd.t (k TEXT)").ok());
  int setups = 0;
  bool fail = false;
  auto scoped = PgConn::Connect(conninfo_, {.search_path = "provd", .after_setup = [&] {
                                              ++setups;
                                              return fail ? absl::InternalError("setup refused")
                                                          : absl::OkStatus();
                                            }});
  ASSERT_TRUE(scoped.ok()) << scoped.status();
  auto pid = (*scoped)->Query("SELECT pg_backend_pid()");
  ASSERT_TRUE(pid.ok()) << pid.status();
  ASSERT_EQ(*testing::TerminateBackends(*conn_, absl::StrCat("pid = ", pid->Text(0, 0))), 1);
  EXPECT_FALSE((*scoped)->Query("SELECT 1").ok());
  fail = true;
  EXPECT_EQ((*scoped)->Reconnect().code(), absl::StatusCode::kInternal);
  EXPECT_FALSE((*scoped)->ok());
  EXPECT_EQ((*scoped)->Query("SELECT k FROM t").status().code(), absl::StatusCode::kUnavailable);
  fail = false;
  ASSERT_TRUE((*scoped)->Reconnect().ok());
  EXPECT_EQ(setups, 3);  // connect, the failed one, this one
  EXPECT_TRUE((*scoped)->ok());
  EXPECT_TRUE((*scoped)->Query("SELECT k FROM t").ok());
}

TEST_F(PgConnTest, SessionSettingsHaveDefaultsTheConnectionStringOverrides) {
  auto conn = PgConn::Connect(conninfo_, {.application_name = "prov-test",
                                          .statement_timeout = absl::Milliseconds(1500),
                                          .lock_timeout = absl::Milliseconds(700)});
  ASSERT_TRUE(conn.ok()) << conn.status();
  auto r = (*conn)->Query(
      "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), "
      "current_setting('application_name')");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Text(0, 0), "1500ms");
  EXPECT_EQ(r->Text(0, 1), "700ms");
  EXPECT_EQ(r->Text(0, 2), "prov-test");
  // The connection string's values win over the defaults, options included.
  auto mine = PgConn::Connect(
      conninfo_ + " application_name=mine connect_timeout=7 options='-c lock_timeout=3s'",
      {.application_name = "prov-test"});
  ASSERT_TRUE(mine.ok()) << mine.status();
  r = (*mine)->Query(
      "SELECT current_setting('application_name'), current_setting('lock_timeout'), "
      "current_setting('statement_timeout')");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Text(0, 0), "mine");
  EXPECT_EQ(r->Text(0, 1), "3s");
  EXPECT_EQ(r->Text(0, 2), "1min");  // the default statement_timeout still applies
  bool found_timeout = false;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfo((*mine)->raw()),
                                                                       &PQconninfoFree);
  ASSERT_NE(options, nullptr);
  for (PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (std::string(o->keyword) == "connect_timeout") {
      EXPECT_STREQ(o->val, "7");
      found_timeout = true;
    }
    if (std::string(o->keyword) == "keepalives_idle") {
      EXPECT_STREQ(o->val, "30");
    }
    if (std::string(o->keyword) == "tcp_user_timeout") {
      EXPECT_STREQ(o->val, "60000");
    }
  }
  EXPECT_TRUE(found_timeout);
}

TEST_F(PgConnTest, AStatementPastTheTimeoutIsCancelled) {
  auto conn = PgConn::Connect(conninfo_, {.statement_timeout = absl::Milliseconds(200)});
  ASSERT_TRUE(conn.ok()) << conn.status();
  const absl::Time start = absl::Now();
  absl::Status s = (*conn)->Exec("SELECT pg_sleep(10)");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("[57014]"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_TRUE((*conn)->ok());
}

TEST_F(PgConnTest, ALostConnectionIsUnavailableUntilReconnect) {
  ASSERT_TRUE(conn_->Query("SELECT 1").ok());
  auto pid = conn_->Query("SELECT pg_backend_pid()");
  ASSERT_TRUE(pid.ok()) << pid.status();
  auto admin = Connect();
  ASSERT_NE(admin, nullptr);
  auto terminated = testing::TerminateBackends(*admin, absl::StrCat("pid = ", pid->Text(0, 0)));
  ASSERT_TRUE(terminated.ok()) << terminated.status();
  ASSERT_EQ(*terminated, 1);
  auto lost = conn_->Query("SELECT 1");
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable) << lost.status();
  EXPECT_FALSE(conn_->ok());
  EXPECT_EQ(conn_->Exec("SELECT 1").code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(conn_->Reconnect().ok());
  EXPECT_TRUE(conn_->ok());
  EXPECT_EQ(conn_->cached_statements(), 0u);
  auto again = conn_->Query("SELECT 1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->Text(0, 0), "1");
}

TEST_F(PgConnTest, SearchPathIsSetOnConnectAndReconnect) {
  ASSERT_TRUE(conn_->Exec("CREATE SCHEMA provd; CREATE TABLE provd.t (k TEXT)").ok());
  auto scoped = PgConn::Connect(conninfo_, {.search_path = "provd"});
  ASSERT_TRUE(scoped.ok()) << scoped.status();
  EXPECT_TRUE((*scoped)->Query("SELECT k FROM t").ok());
  auto pid = (*scoped)->Query("SELECT pg_backend_pid()");
  ASSERT_TRUE(pid.ok()) << pid.status();
  auto terminated = testing::TerminateBackends(*conn_, absl::StrCat("pid = ", pid->Text(0, 0)));
  ASSERT_TRUE(terminated.ok()) << terminated.status();
  ASSERT_EQ(*terminated, 1);
  EXPECT_FALSE((*scoped)->Query("SELECT k FROM t").ok());
  ASSERT_TRUE((*scoped)->Reconnect().ok());
  EXPECT_TRUE((*scoped)->Query("SELECT k FROM t").ok());
}

TEST(PgConnConnectTest, NoServerIsUnavailable) {
  auto conn = PgConn::Connect("host=/nonexistent/socket/dir port=5432 dbname=provd", {});
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable) << conn.status();
  EXPECT_THAT(std::string(conn.status().message()), HasSubstr("cannot connect"));
}

TEST(PgConnConnectTest, AServerThatNeverAnswersTimesOut) {
  // A socket that listens but never accepts: TCP connects, the startup packet gets no answer.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const absl::Time start = absl::Now();
  auto conn = PgConn::Connect(
      // No TLS or GSSAPI negotiation (OpenSSL, Kerberos): the timeout is what is tested.
      absl::StrCat("host=127.0.0.1 port=", ntohs(addr.sin_port),
                   " dbname=provd user=provd sslmode=disable gssencmode=disable"),
      {.connect_timeout = absl::Seconds(2), .application_name = "prov-test", .search_path = ""});
  const absl::Duration took = absl::Now() - start;
  close(fd);
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable) << conn.status();
  EXPECT_THAT(std::string(conn.status().message()), HasSubstr("timeout"));
  EXPECT_GE(took, absl::Seconds(1)) << "the timeout, not a refusal, ended it";
}

TEST(PgServerTest, StartSweepsDirectoriesWhoseTestBinaryDied) {
  std::string base = "/tmp/prov-sweep-XXXXXX";
  ASSERT_NE(mkdtemp(base.data()), nullptr);
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);  // a pid that is now dead
  auto make = [&](const std::string& name, pid_t owner) {
    const std::string dir = base + "/" + name;
    std::filesystem::create_directories(dir + "/data");
    if (owner > 0) std::ofstream(dir + "/owner.pid") << owner << "\n";
    return dir;
  };
  const std::string dead = make("prov-pg-dead", child);
  const std::string alive = make("prov-pg-alive", getpid());
  const std::string starting = make("prov-pg-starting", -1);
  const std::string other = make("unrelated", child);
  EXPECT_EQ(testing::PgServer::SweepStale(base), 1);
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(alive));
  EXPECT_TRUE(std::filesystem::exists(starting));
  EXPECT_TRUE(std::filesystem::exists(other));
  std::filesystem::remove_all(base);
}

TEST(PgServerTest, StartRefusesToRunOffTheMainThread) {
  absl::Status status;
  std::thread([&] { status = testing::PgServer::Start().status(); }).join();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("main thread"));
}

}  // namespace
}  // namespace prov::server
