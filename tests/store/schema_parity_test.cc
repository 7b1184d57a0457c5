// The two migration lists cannot drift: every table both engines have is created with the same
// columns, in the same order, with the same NOT NULL constraints and primary key (but for the
// partition key PostgreSQL's day-partitioned tables add to it: kPgPartitionKeysInPrimaryKey), and
// corresponding types (SQLite INTEGER = PostgreSQL bigint only: a 32-bit integer column would
// overflow on values SQLite takes; TEXT = text, REAL = double precision, BLOB = bytea). Every
// PostgreSQL text column is COLLATE "C" (byte order, as SQLite's BINARY; the test server's
// --locale=C would hide a missing COLLATE from an ordering test). A slice that moves a domain to
// PostgreSQL has every one of SQLite's tables (schema_version aside: each engine keeps its own
// version counter), so a table added to one engine's migrations fails here until the other has it.
#include <algorithm>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/schema.h"
#include "server/store/sqlite.h"
#include "tests/server/temp_dir.h"
#include "tests/store/pg_server.h"

namespace prov::server {
namespace {

// SQLite's version table counts SQLite's migrations; PostgreSQL has its own (and provd_meta,
// leader, which SQLite needs no table for).
const char* const kEngineOwnTables[] = {"schema_version"};

// PostgreSQL's day-partitioned tables (pg_partitions.h): a partitioned table's primary key must
// hold its partition key, so reports' is (id, collected_at_us) where SQLite's is id. The only
// difference allowed.
struct PartitionKey {
  const char* table;
  const char* column;
};
const PartitionKey kPgPartitionKeysInPrimaryKey[] = {{"reports", "collected_at_us"}};

struct Column {
  std::string name;
  std::string type;  // normalised: integer, text, real, blob
  bool not_null = false;
  bool primary_key = false;
  bool operator==(const Column&) const = default;
};

void PrintTo(const Column& c, std::ostream* os) {
  *os << c.name << " " << c.type << (c.not_null ? " NOT NULL" : "") << (c.primary_key ? " PK" : "");
}

std::string FromSqlite(std::string type) {
  type = absl::AsciiStrToLower(type);
  return type;  // integer, text, real, blob as declared
}

std::string FromPg(const std::string& type) {
  if (type == "bigint") return "integer";
  if (type == "integer") return "int32";  // never matches SQLite's 64-bit INTEGER
  if (type == "smallint") return "int16";
  if (type == "text") return "text";
  if (type == "double precision") return "real";
  if (type == "bytea") return "blob";
  return "unmapped:" + type;
}

// A fresh PostgreSQL database with provd's schema; null (with a failure recorded) otherwise.
std::unique_ptr<PgConn> MigratedPg(::prov::testing::PgServer* pg) {
  auto conninfo = pg->FreshDatabase();
  EXPECT_TRUE(conninfo.ok()) << conninfo.status();
  if (!conninfo.ok()) return nullptr;
  auto conn =
      PgConn::Connect(*conninfo, {.application_name = "prov-test", .search_path = kPgSchema});
  EXPECT_TRUE(conn.ok()) << conn.status();
  if (!conn.ok()) return nullptr;
  absl::Status migrated = MigratePgSchema(**conn);
  EXPECT_TRUE(migrated.ok()) << migrated;
  return migrated.ok() ? *std::move(conn) : nullptr;
}

std::vector<Column> SqliteColumns(SqliteDb& db, const std::string& table) {
  std::vector<Column> out;
  auto info = db.Prepare(absl::StrCat("PRAGMA table_info(", table, ")"));
  EXPECT_TRUE(info.ok()) << info.status();
  if (!info.ok()) return out;
  while (*(*info)->Step()) {
    // A PRIMARY KEY column of a WITHOUT ROWID table is NOT NULL even when not declared so.
    const bool pk = (*info)->ColumnInt64(5) != 0;
    out.push_back({(*info)->ColumnText(1), FromSqlite((*info)->ColumnText(2)),
                   (*info)->ColumnInt64(3) != 0 || pk, pk});
  }
  return out;
}

std::vector<Column> PgColumns(PgConn& conn, const std::string& table) {
  std::vector<Column> out;
  auto cols = conn.Query(
      "SELECT c.column_name, c.data_type, c.is_nullable = 'NO', EXISTS (SELECT 1 FROM "
      "information_schema.table_constraints t JOIN information_schema.key_column_usage k USING "
      "(constraint_schema, constraint_name) WHERE t.constraint_type = 'PRIMARY KEY' AND "
      "t.table_schema = c.table_schema AND t.table_name = c.table_name AND k.column_name = "
      "c.column_name) FROM information_schema.columns c WHERE c.table_schema = $1 AND "
      "c.table_name = $2 ORDER BY c.ordinal_position",
      {kPgSchema, table});
  EXPECT_TRUE(cols.ok()) << cols.status();
  if (!cols.ok()) return out;
  for (int i = 0; i < cols->rows(); ++i) {
    out.push_back({cols->Text(i, 0), FromPg(cols->Text(i, 1)), cols->Text(i, 2) == "t",
                   cols->Text(i, 3) == "t"});
  }
  return out;
}

std::vector<std::string> SqliteTables(SqliteDb& db) {
  std::vector<std::string> out;
  auto st = db.Prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY "
      "name");
  EXPECT_TRUE(st.ok()) << st.status();
  if (!st.ok()) return out;
  while (*(*st)->Step()) {
    std::string name = (*st)->ColumnText(0);
    if (std::find(std::begin(kEngineOwnTables), std::end(kEngineOwnTables), name) ==
        std::end(kEngineOwnTables)) {
      out.push_back(std::move(name));
    }
  }
  return out;
}

TEST(SchemaParityTest, EverySqliteTableMatchesOnPostgres) {
  PROV_PG_SERVER_OR_SKIP(pg);
  std::unique_ptr<PgConn> conn = MigratedPg(pg);
  ASSERT_NE(conn, nullptr);
  testing::TempDir dir;
  auto db = SqliteDb::Open(dir.path() + "/provd.db", SqliteDb::kReadWrite);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE(MigrateSchema(**db).ok());

  const std::vector<std::string> tables = SqliteTables(**db);
  ASSERT_GE(tables.size(), 40u) << "SQLite's schema lost its tables?";
  for (const std::string& table : tables) {
    std::vector<Column> sqlite = SqliteColumns(**db, table);
    std::vector<Column> postgres = PgColumns(*conn, table);
    ASSERT_FALSE(sqlite.empty()) << table;
    EXPECT_FALSE(postgres.empty()) << table << " is missing on PostgreSQL";
    for (const PartitionKey& k : kPgPartitionKeysInPrimaryKey) {
      for (Column& c : postgres) {
        if (table == k.table && c.name == k.column) {
          EXPECT_TRUE(c.primary_key) << table << "." << c.name << " is the partition key";
          c.primary_key = false;
        }
      }
    }
    EXPECT_EQ(sqlite, postgres) << table;
  }
}

TEST(SchemaParityTest, EveryPostgresTextColumnIsByteOrdered) {
  PROV_PG_SERVER_OR_SKIP(pg);
  std::unique_ptr<PgConn> conn = MigratedPg(pg);
  ASSERT_NE(conn, nullptr);
  auto cols = conn->Query(
      "SELECT table_name || '.' || column_name, COALESCE(collation_name, '(default)') FROM "
      "information_schema.columns WHERE table_schema = $1 AND data_type IN ('text', 'character "
      "varying', 'character') ORDER BY 1",
      {kPgSchema});
  ASSERT_TRUE(cols.ok()) << cols.status();
  ASSERT_GT(cols->rows(), 0);
  for (int i = 0; i < cols->rows(); ++i) {
    EXPECT_EQ(cols->Text(i, 1), "C") << cols->Text(i, 0) << " is not COLLATE \"C\"";
  }
}

}  // namespace
}  // namespace prov::server
