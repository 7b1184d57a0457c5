// Issue 14: SIGTERM waited over 125 s for a long KYC import. The real provd and provctl: a large
// accounts import is in flight when provd gets SIGTERM; provd must exit promptly, the import must
// fail for the client, and nothing of it may be stored.
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/provd_process.h"
#include "tests/integration/subprocess.h"
#include "tests/server/temp_dir.h"

namespace prov {
namespace {

using testing::BinDir;
using testing::ProvdProcess;
using testing::RunCommand;
using testing::Subprocess;

int64_t CountRows(const std::string& db_path, const char* table) {
  sqlite3* db = nullptr;
  int64_t n = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    const std::string sql = std::string("SELECT COUNT(*) FROM ") + table;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

TEST(ImportShutdownTest, SigtermDuringAnImportIsPromptAndStoresNothingOfIt) {
  server::testing::TempDir dir;
  const std::string data = dir.path() + "/data";
  std::filesystem::create_directories(data);
  ProvdProcess provd(data, 0, {"--insecure"});
  ASSERT_TRUE(provd.ok()) << provd.log();
  auto provctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {BinDir() + "/provctl", "--server", provd.address(), "--insecure",
                               "--token-file", provd.token_path(), "--timeout", "600"});
    return args;
  };
  auto [rc, out] =
      RunCommand(provctl({"screening", "import", "tests/fixtures/identity/csl_sample.csv"}));
  ASSERT_EQ(rc, 0) << out;

  // 1,000,000 accounts (the per-import cap): parsing, screening and writing them takes many
  // seconds, far longer than the second this test waits before SIGTERM.
  const std::string big = dir.path() + "/big.csv";
  {
    std::ofstream f(big);
    f << "account_id,legal_entity,country_of_incorporation\n";
    for (int i = 0; i < 1000000; ++i) f << "acct-" << i << ",Company " << i << " Holdings Ltd,US\n";
  }
  Subprocess import(provctl({"accounts", "import", big}), dir.path() + "/import.log");
  ASSERT_TRUE(import.started());
  // Long enough for the 30 MB request to reach provd (loopback), short against the import.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ASSERT_TRUE(import.Running()) << "the import finished before SIGTERM: "
                                << testing::ReadFile(dir.path() + "/import.log");

  const auto sigterm = std::chrono::steady_clock::now();
  provd.Kill(SIGTERM);
  std::optional<int> provd_rc = provd.Wait(std::chrono::seconds(30));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - sigterm).count();
  ASSERT_TRUE(provd_rc.has_value()) << "provd still running 30 s after SIGTERM\n" << provd.log();
  EXPECT_EQ(*provd_rc, 0) << provd.log();
  std::printf("provd exited %.2f s after SIGTERM during a 1,000,000-row import\n", seconds);
  EXPECT_LT(seconds, 10.0) << provd.log();

  std::optional<int> import_rc = import.Wait(std::chrono::seconds(30));
  ASSERT_TRUE(import_rc.has_value());
  EXPECT_NE(*import_rc, 0) << testing::ReadFile(dir.path() + "/import.log");
  EXPECT_EQ(CountRows(data + "/provd.db", "kyc_imports"), 0) << "a cancelled import was stored";
  EXPECT_EQ(CountRows(data + "/provd.db", "accounts"), 0);
}

}  // namespace
}  // namespace prov
