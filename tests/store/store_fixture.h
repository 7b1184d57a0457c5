// StoreTest: a value-parameterised fixture that runs a repository test on each engine, SQLite
// (a provd.db in a temp dir) and PostgreSQL (a fresh database on the shared PgServer).
//
//   class TokensTest : public testing::StoreTest {};
//   TEST_P(TokensTest, Something) {
//     if (engine() == testing::Engine::kSqlite) ... else ...   // open the repository
//     ASSERT_TRUE(RawExec("...").ok());                          // plant rows behind its back
//   }
//   PROV_STORE_TEST_P(TokensTest);
//
// SetUp skips the PostgreSQL instance when PostgreSQL is not available here (pg_server.h), and
// fails it when PROV_REQUIRE_POSTGRES=1. Test names end in /sqlite and /postgres.
#pragma once

#include <memory>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tests/server/temp_dir.h"

namespace prov::testing {

enum class Engine { kSqlite, kPostgres };
std::string EngineName(Engine engine);
inline void PrintTo(Engine engine, std::ostream* os) { *os << EngineName(engine); }

class StoreTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override;
  Engine engine() const { return GetParam(); }
  const std::string& sqlite_path() const { return sqlite_path_; }  // kSqlite: provd.db
  const std::string& pg_conninfo() const { return pg_conninfo_; }  // kPostgres
  // Runs SQL on the engine directly (PostgreSQL: with search_path provd), bypassing repositories.
  absl::Status RawExec(const std::string& sql);

 private:
  server::testing::TempDir dir_;
  std::string sqlite_path_;
  std::string pg_conninfo_;
};

}  // namespace prov::testing

#define PROV_STORE_TEST_P(suite)                                                               \
  INSTANTIATE_TEST_SUITE_P(                                                                    \
      Engines, suite,                                                                          \
      ::testing::Values(::prov::testing::Engine::kSqlite, ::prov::testing::Engine::kPostgres), \
      [](const auto& info) { return ::prov::testing::EngineName(info.param); })
