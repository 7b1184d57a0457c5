// The adversarial evaluation against a provd replica pair (issue 12): tools/eval/run_eval.sh
// --replicas 2 on the small preset, with a private PostgreSQL started by the script, prov-sim's
// agents spread over both replicas, and (the first suite) the leading replica SIGKILLed once 30%
// of the reports are stored. What must hold (the script prints one `check ...: OK|FAIL` line each):
// every acked report stored exactly once, a standby takes over, no flag duplicated or lost, no
// flag's first_time moved by the takeover, the killed replica back as a standby serving the
// leader's flags, and the scorer's goal met against the survivor. The second suite runs the pair
// without a kill (the same checks minus the takeover), so a failure of the first says whether
// the takeover or the replicas themselves are at fault.
//
// Needs PostgreSQL 15 (initdb, pg_ctl, postgres under $PROV_PG_BINDIR, default
// /usr/lib/postgresql/15/bin) and, as root, a `postgres` user: skipped without them unless
// PROV_REQUIRE_POSTGRES=1 (tools/test.sh), like the store's PostgreSQL tests.
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace {

// Why PostgreSQL cannot run here ("" when it can).
std::string PostgresMissing() {
  const char* dir = std::getenv("PROV_PG_BINDIR");
  const std::string bin = dir != nullptr && dir[0] != '\0' ? dir : "/usr/lib/postgresql/15/bin";
  for (const char* tool : {"initdb", "pg_ctl", "postgres"}) {
    const std::string path = bin + "/" + tool;
    if (access(path.c_str(), X_OK) != 0) {
      return path + " is missing (install postgresql-15 or set PROV_PG_BINDIR)";
    }
  }
  if (geteuid() == 0 && getpwnam("postgres") == nullptr) {
    return "running as root and there is no `postgres` user to run PostgreSQL as";
  }
  return "";
}

bool Required() {
  const char* r = std::getenv("PROV_REQUIRE_POSTGRES");
  return r != nullptr && std::string(r) == "1";
}

struct EvalRun {
  int exit_code = -1;
  std::string out;
};

// Runs run_eval.sh with `args` (small preset, --require-goal) at `time_scale`, its output in
// build/tests/<log>.
//
// The time scales. Time compression multiplies every real-time delay the replay meets: the
// policy's hardware silence window (hardware.silent_min, 5 minutes: policy_text.cc sets none) is
// 1.25 s of real time at 240. The pair without a kill replays at 240 (PROV_EVAL_TIME_SCALE). The
// kill run replays at 60 (PROV_EVAL_KILL_TIME_SCALE, a 5 s window): the killed leader's agents
// fail over to the survivor and resend their spools in real time, and on a 2-core box starved by
// a build beside the test a few were not acked again within 1.25 s, so healthy nodes were
// flagged hardware_silent (2 runs of 5 at 240). In production the window is minutes against a
// failover of seconds (a hung replica: the agent's 120 s ack timeout), and a mass failover is
// held by the outage guard (hardware.outage_*). Sanitizer builds replay both at 40 (7.5 s): two
// replicas and PostgreSQL under ASan on two cores ack up to 5 s late.
EvalRun RunEval(const std::string& args, const std::string& log_name, int time_scale) {
  const std::string build = PROV_BUILD_DIR;
  const std::string log = build + "/tests/" + log_name;
  const std::string cmd = "tools/eval/run_eval.sh " + build + " --preset small --time-scale " +
                          std::to_string(time_scale) + " --require-goal " + args + " > " + log +
                          " 2>&1";
  EvalRun run;
  const int status = std::system(cmd.c_str());
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  run.out = ss.str();
  return run;
}

bool Has(const EvalRun& run, const std::string& text) {
  return run.out.find(text) != std::string::npos;
}

#define PROV_SKIP_WITHOUT_POSTGRES()                                     \
  do {                                                                   \
    const std::string missing = PostgresMissing();                       \
    if (!missing.empty()) {                                              \
      if (Required()) FAIL() << missing << " (PROV_REQUIRE_POSTGRES=1)"; \
      GTEST_SKIP() << "PostgreSQL 15 is not available here: " << missing \
                   << " (skipped; PROV_REQUIRE_POSTGRES=1 fails)";       \
    }                                                                    \
  } while (false)

// One run per suite, shared by its tests (the kill run about 55 s, the pair 25 s on a loaded 2-core
// box).
class EvalReplicasKillTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!PostgresMissing().empty()) return;
    run_ = new EvalRun(RunEval("--replicas 2 --kill-leader-at 0.3", "eval_replicas_kill_test.log",
                               PROV_EVAL_KILL_TIME_SCALE));
  }
  static void TearDownTestSuite() {
    delete run_;
    run_ = nullptr;
  }
  void SetUp() override {
    PROV_SKIP_WITHOUT_POSTGRES();
    ASSERT_NE(run_, nullptr);
  }
  static EvalRun* run_;
};
EvalRun* EvalReplicasKillTest::run_ = nullptr;

TEST_F(EvalReplicasKillTest, EveryAckedReportStoredOnceAndTheStandbyTakesOver) {
  EXPECT_TRUE(Has(*run_, "leader killed: r")) << run_->out;
  EXPECT_TRUE(Has(*run_, "check reports: OK")) << run_->out;
  EXPECT_TRUE(Has(*run_, "check takeover: OK")) << run_->out;
}

TEST_F(EvalReplicasKillTest, NoFlagLostOrDuplicated) {
  EXPECT_TRUE(Has(*run_, "check flags duplicated: OK")) << run_->out;
  EXPECT_TRUE(Has(*run_, "check flags lost: OK")) << run_->out;
  // The killed leader, started again, serves the new leader's flags.
  EXPECT_TRUE(Has(*run_, "restarted: ")) << run_->out;
  EXPECT_TRUE(Has(*run_, "(the killed leader) as a standby")) << run_->out;
  EXPECT_FALSE(Has(*run_, "check standby r1: FAIL")) << run_->out;
  EXPECT_FALSE(Has(*run_, "check standby r2: FAIL")) << run_->out;
}

// A flag's first_time is the evidence time of the report on which its rule first held; the
// takeover must not move it (the scorer counts a compute_tier flag dated before its crossing as
// EARLY, which misses the goal).
TEST_F(EvalReplicasKillTest, NoFlagsFirstTimeMovedByTheTakeover) {
  EXPECT_TRUE(Has(*run_, "check flags kept: OK")) << run_->out;
}

// Every adversary detected on time, no look-alike or background flagged, against the survivor
// (the scorer's goal), and every replica check passed.
TEST_F(EvalReplicasKillTest, MeetsTheGoal) {
  EXPECT_TRUE(Has(*run_, "): MET")) << run_->out;
  EXPECT_TRUE(Has(*run_, "replica checks: all passed")) << run_->out;
  EXPECT_EQ(run_->exit_code, 0) << run_->out;
}

TEST(EvalReplicasTest, PairWithoutKillMeetsTheGoal) {
  PROV_SKIP_WITHOUT_POSTGRES();
  const EvalRun run = RunEval("--replicas 2", "eval_replicas_test.log", PROV_EVAL_TIME_SCALE);
  EXPECT_TRUE(Has(run, "check reports: OK")) << run.out;
  EXPECT_TRUE(Has(run, "check flags duplicated: OK")) << run.out;
  // The standby's follower engine serves the leader's flags.
  EXPECT_TRUE(Has(run, "check standby r")) << run.out;
  EXPECT_FALSE(Has(run, "check standby r1: FAIL")) << run.out;
  EXPECT_FALSE(Has(run, "check standby r2: FAIL")) << run.out;
  EXPECT_TRUE(Has(run, "): MET")) << run.out;
  EXPECT_EQ(run.exit_code, 0) << run.out;
}

}  // namespace
