// PgConn against a real PostgreSQL 15 (pg_server.h): parameters and rows, the statement cache,
// transactions, and how server errors map to absl::Status codes.
#include "server/store/pg/pg_conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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
  EXPECT_EQ(PgStatusCode("57P01"), absl::StatusCode::kUnavailable);  // admin_shutdown
  EXPECT_EQ(PgStatusCode(""), absl::StatusCode::kUnavailable);       // no answer at all
}

TEST_F(PgConnTest, ALostConnectionIsUnavailableUntilReconnect) {
  ASSERT_TRUE(conn_->Query("SELECT 1").ok());
  auto pid = conn_->Query("SELECT pg_backend_pid()");
  ASSERT_TRUE(pid.ok());
  auto admin = Connect();
  ASSERT_NE(admin, nullptr);
  ASSERT_TRUE(admin->Query("SELECT pg_terminate_backend($1::int)", {pid->Text(0, 0)}).ok());
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
  ASSERT_TRUE(conn_->Query("SELECT pg_terminate_backend($1::int)", {pid->Text(0, 0)}).ok());
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
      absl::StrCat("host=127.0.0.1 port=", ntohs(addr.sin_port), " dbname=provd user=provd"),
      {.connect_timeout = absl::Seconds(2), .application_name = "prov-test", .search_path = ""});
  const absl::Duration took = absl::Now() - start;
  close(fd);
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kUnavailable) << conn.status();
  EXPECT_THAT(std::string(conn.status().message()), HasSubstr("timeout"));
  EXPECT_GE(took, absl::Seconds(1)) << "the timeout, not a refusal, ended it";
}

}  // namespace
}  // namespace prov::server
