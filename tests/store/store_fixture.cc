#include "tests/store/store_fixture.h"

#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/sqlite.h"
#include "tests/store/pg_server.h"

namespace prov::testing {

std::string EngineName(Engine engine) { return engine == Engine::kSqlite ? "sqlite" : "postgres"; }

void StoreTest::SetUp() {
  if (engine() == Engine::kSqlite) {
    ASSERT_FALSE(dir_.path().empty());
    sqlite_path_ = dir_.path() + "/provd.db";
    return;
  }
  PROV_PG_SERVER_OR_SKIP(pg);
  auto conninfo = pg->FreshDatabase();
  ASSERT_TRUE(conninfo.ok()) << conninfo.status();
  pg_conninfo_ = *conninfo;
}

absl::Status StoreTest::RawExec(const std::string& sql) {
  if (engine() == Engine::kSqlite) {
    auto db = server::SqliteDb::Open(sqlite_path_, server::SqliteDb::kReadWrite);
    if (!db.ok()) return db.status();
    return (*db)->Exec(sql);
  }
  auto conn = server::PgConn::Connect(pg_conninfo_, {.search_path = server::kPgSchema});
  if (!conn.ok()) return conn.status();
  return (*conn)->Exec(sql);
}

}  // namespace prov::testing
