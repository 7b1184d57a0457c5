// SIGKILL DURING A WRITE: the real provd is SIGKILLed after random short delays while provctl
// runs a large KYC import, a stream of case updates, or an export; it is restarted on the same
// data dir and port each time. After every restart each piece of work is either fully there or
// not at all, checked in the SQLite file itself and on disk, and `provctl audit verify` passes:
//   import: every kyc_imports row has its kyc.import audit entry and all `accepted` identity rows,
//           and every current account carries the newest version (no half-applied import);
//   case:   the case's revision = its case_actions rows = its case.* audit entries;
//   export: the folders under exports/ = the `exports` rows = the export audit entries, no
//           .tmp-* folder is left, and every folder verifies against provd's signing key.
// The delays are drawn (fixed seed) over the measured duration of one uninterrupted run.
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/provd_process.h"
#include "tests/integration/subprocess.h"
#include "tests/uplink/test_util.h"

namespace prov {
namespace {

namespace fs = std::filesystem;
using testing::BinDir;

int64_t QueryInt(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  int64_t n = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

class SigkillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.Sub("data");
    ASSERT_EQ(::mkdir(data_.c_str(), 0755), 0);
    port_ = testing::PickFreePort();
    Start();
  }
  void Start() {
    provd_ = std::make_unique<testing::ProvdProcess>(data_, port_,
                                                     std::vector<std::string>{"--insecure"});
    ASSERT_TRUE(provd_->ok()) << provd_->log();
  }
  void Kill() {
    provd_->Kill(SIGKILL);
    ASSERT_EQ(provd_->Wait(std::chrono::seconds(10)), 128 + SIGKILL);
  }
  std::vector<std::string> Ctl(std::vector<std::string> args) const {
    args.insert(args.begin(),
                {BinDir() + "/provctl", "--server", "127.0.0.1:" + std::to_string(port_),
                 "--insecure", "--token-file", data_ + "/admin.token", "--timeout", "120"});
    return args;
  }
  std::pair<int, std::string> Run(std::vector<std::string> args) const {
    return testing::RunCommand(Ctl(std::move(args)), std::chrono::seconds(120));
  }
  void ExpectAuditVerifies() {
    auto [rc, out] = Run({"audit", "verify"});
    EXPECT_EQ(rc, 0) << "audit verify after a SIGKILL:\n" << out << provd_->log();
  }
  // Runs `args` in the background and SIGKILLs provd after `delay`; true when the command had
  // already finished (the kill came after the work).
  bool KillDuring(const std::vector<std::string>& args, std::chrono::milliseconds delay) {
    testing::Subprocess work(Ctl(args), dir_.Sub("work.log"));
    EXPECT_TRUE(work.started());
    std::this_thread::sleep_for(delay);  // the point of the test: a random moment mid-work
    const bool finished = !work.Running();
    Kill();
    // The client fails while provd is down; only then restart on the same data dir and port.
    EXPECT_TRUE(work.Wait(std::chrono::seconds(30)).has_value());
    Start();
    return finished;
  }
  std::chrono::milliseconds Timed(const std::vector<std::string>& args) {
    const auto start = std::chrono::steady_clock::now();
    auto [rc, out] = Run(args);
    EXPECT_EQ(rc, 0) << out;
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  }
  std::string db() const { return data_ + "/provd.db"; }

  testing::TempDir dir_;
  std::string data_;
  int port_ = 0;
  std::unique_ptr<testing::ProvdProcess> provd_;
  std::mt19937 rng_{20261206};
};

// accounts.csv with `n` accounts whose legal names carry `tag` (so every import changes all of
// them), plus one account named like an Entity List entry of csl_sample.csv (a screening_hit).
std::string WriteAccounts(const std::string& path, int n, const std::string& tag) {
  std::ofstream f(path);
  f << "account_id,legal_entity,country_of_incorporation\n";
  f << "acct-hit,54th Research Institute of China,CN\n";
  for (int i = 0; i < n; ++i) f << "acct-" << i << ",Company " << i << " " << tag << " Ltd,US\n";
  return path;
}

TEST_F(SigkillTest, AKycImportIsAllOrNothing) {
  constexpr int kAccounts = 30000, kKills = 4;
  ASSERT_EQ(Run({"screening", "import", "tests/fixtures/identity/csl_sample.csv"}).first, 0);
  const auto took =
      Timed({"accounts", "import", WriteAccounts(dir_.Sub("a0.csv"), kAccounts, "v0")});
  int there = 0, absent = 0;
  for (int k = 1; k <= kKills; ++k) {
    const int64_t before = QueryInt(db(), "SELECT COUNT(*) FROM kyc_imports");
    std::uniform_int_distribution<int64_t> at(took.count() / 20, took.count() * 3 / 2);
    const std::string csv = WriteAccounts(dir_.Sub("a.csv"), kAccounts, "v" + std::to_string(k));
    KillDuring({"accounts", "import", csv}, std::chrono::milliseconds(at(rng_)));
    const int64_t imports = QueryInt(db(), "SELECT COUNT(*) FROM kyc_imports");
    ASSERT_TRUE(imports == before || imports == before + 1) << imports << " after " << before;
    (imports == before ? absent : there)++;
    EXPECT_EQ(QueryInt(db(), "SELECT COUNT(*) FROM audit_log WHERE action = 'kyc.import'"),
              imports);
    EXPECT_EQ(QueryInt(db(),
                       "SELECT COUNT(*) FROM kyc_imports k WHERE k.accepted <> (SELECT "
                       "COUNT(*) FROM account_identities a WHERE a.version = k.version)"),
              0)
        << "an import with only part of its identities";
    EXPECT_EQ(QueryInt(db(), "SELECT COUNT(*) FROM accounts"), kAccounts + 1);
    EXPECT_EQ(QueryInt(db(),
                       "SELECT COUNT(*) FROM accounts WHERE version <> (SELECT "
                       "MAX(version) FROM kyc_imports)"),
              0)
        << "some accounts are at an older version: a half-applied import";
    ExpectAuditVerifies();
  }
  std::printf(
      "kyc import (%d accounts, %lld ms uninterrupted): %d kills, %d imports fully "
      "there, %d not at all\n",
      kAccounts + 1, static_cast<long long>(took.count()), kKills, there, absent);
}

TEST_F(SigkillTest, CaseUpdatesAreAllOrNothing) {
  ASSERT_EQ(Run({"screening", "import", "tests/fixtures/identity/csl_sample.csv"}).first, 0);
  ASSERT_EQ(Run({"accounts", "import", WriteAccounts(dir_.Sub("a.csv"), 10, "v0")}).first, 0);
  std::string flag;
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        auto [rc, out] = Run({"flags", "list", "--rule", "screening_hit", "-o", "json"});
        const size_t at = out.find("\"F-");
        if (rc != 0 || at == std::string::npos) return false;
        flag = out.substr(at + 1, out.find('"', at + 1) - at - 1);
        return true;
      },
      {}, std::chrono::seconds(20)))
      << "no screening_hit flag\n"
      << provd_->log();
  const std::string count_actions =
      "SELECT COUNT(*) FROM case_actions WHERE flag_id = '" + flag + "'";
  const std::string revision =
      "SELECT COALESCE((SELECT revision FROM cases WHERE flag_id = '" + flag + "'), 0)";
  const std::string audited =
      "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'case.%' AND "
      "payload LIKE '%" +
      flag + "%'";
  // One provctl after another, each a case note (one transaction each), until provd dies.
  const std::string loop = "for i in $(seq 1 100000); do " + BinDir() + "/provctl --server " +
                           "127.0.0.1:" + std::to_string(port_) + " --insecure --token-file " +
                           data_ + "/admin.token case note " + flag +
                           " --note \"note $i\" >/dev/null || exit 0; done";
  int64_t total_actions = 0;
  for (int k = 0; k < 8; ++k) {
    testing::Subprocess notes({"/bin/sh", "-c", loop}, dir_.Sub("notes.log"));
    ASSERT_TRUE(notes.started());
    // A random moment (later under the sanitizers, where a provctl call takes longer).
    const int scale = testing::ProvdProcess::TimeScale();
    std::uniform_int_distribution<int> at(300 * scale, 2000 * scale);
    std::this_thread::sleep_for(std::chrono::milliseconds(at(rng_)));
    Kill();
    ASSERT_TRUE(notes.Wait(std::chrono::seconds(30)).has_value());  // its provctl failed: done
    Start();
    const int64_t actions = QueryInt(db(), count_actions);
    EXPECT_GE(actions, total_actions) << "a stored case update was lost";
    total_actions = actions;
    EXPECT_EQ(QueryInt(db(), revision), actions) << "the case's revision disagrees with its log";
    EXPECT_EQ(QueryInt(db(), "SELECT COALESCE(MAX(seq), 0) FROM case_actions WHERE flag_id = '" +
                                 flag + "'"),
              actions);
    EXPECT_EQ(QueryInt(db(), audited), actions) << "a case update without its audit entry";
    ExpectAuditVerifies();
  }
  EXPECT_GT(total_actions, 0) << "no case update went through before any kill";
  std::printf("case updates: 8 kills, %lld updates stored, each with its audit entry\n",
              static_cast<long long>(total_actions));
}

TEST_F(SigkillTest, AnExportIsAllOrNothing) {
  ASSERT_EQ(Run({"screening", "import", "tests/fixtures/identity/csl_sample.csv"}).first, 0);
  ASSERT_EQ(Run({"accounts", "import", WriteAccounts(dir_.Sub("a.csv"), 30000, "v0")}).first, 0);
  const auto took = Timed({"export"});
  const std::string exports = data_ + "/exports";
  int kills = 0;
  for (int k = 0; k < 5; ++k) {
    std::uniform_int_distribution<int64_t> at(took.count() / 20, took.count() * 11 / 10);
    KillDuring({"export"}, std::chrono::milliseconds(at(rng_)));
    ++kills;
    std::set<std::string> folders;
    for (const auto& e : fs::directory_iterator(exports)) {
      const std::string name = e.path().filename().string();
      EXPECT_NE(name.rfind(".tmp-", 0), 0u) << "a half-written export survived the restart";
      folders.insert(name);
      auto [rc, out] =
          testing::RunCommand({BinDir() + "/provctl", "export", "verify", e.path().string(),
                               "--public-key", data_ + "/export-signing.pub"});
      EXPECT_EQ(rc, 0) << out;
    }
    const int64_t rows = QueryInt(db(), "SELECT COUNT(*) FROM exports");
    EXPECT_EQ(static_cast<int64_t>(folders.size()), rows) << "an export folder without its row";
    EXPECT_EQ(QueryInt(db(), "SELECT COUNT(*) FROM audit_log WHERE action = 'export'"), rows);
    ExpectAuditVerifies();
  }
  std::printf("exports (%lld ms uninterrupted): %d kills, %lld exports recorded in all\n",
              static_cast<long long>(took.count()), kills,
              static_cast<long long>(QueryInt(db(), "SELECT COUNT(*) FROM exports")));
}

}  // namespace
}  // namespace prov
