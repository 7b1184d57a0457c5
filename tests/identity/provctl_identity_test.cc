// The real provctl binary against IdentityServiceImpl in-process on port 0 (real provd.db in a
// temp dir), and against a fake AnalysisService for the flag and bundle commands (the real one is
// the analysis engine's).
#include <atomic>
#include <thread>

#include "common/fs.h"
#include "common/proto_json.h"
#include "common/testing/fake_clock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "server/identity/identity_service.h"
#include "tests/integration/subprocess.h"
#include "tests/server/temp_dir.h"

namespace prov::server {
namespace {

using namespace provenance::v1;
using prov::testing::BinDir;
using prov::testing::RunCommand;

Flag MakeFlag(int n) {
  Flag f;
  f.set_flag_id("F-" + std::to_string(n));
  f.set_rule("compute_tier:eu-ai-act-systemic-1e25");
  f.set_subject("bundle:B-0123456789ab");
  f.set_severity(SEVERITY_HIGH);
  f.set_status(FLAG_STATUS_OPEN);
  f.set_summary("bundle B-0123456789ab reached 1.2e25 training FLOP");
  f.set_revision(n);
  f.mutable_updated_at()->set_seconds(1'764'032'523 + n);
  return f;
}

// Streams three flags, then holds the stream open until the client cancels.
class FakeAnalysis final : public AnalysisService::Service {
 public:
  grpc::Status WatchFlags(grpc::ServerContext* context, const WatchFlagsRequest* request,
                          grpc::ServerWriter<Flag>* writer) override {
    last_min_severity = request->min_severity();
    for (int i = 1; i <= 3; ++i) writer->Write(MakeFlag(i));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!context->IsCancelled() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    cancelled = context->IsCancelled();
    return grpc::Status::OK;
  }
  grpc::Status GetFlag(grpc::ServerContext*, const GetFlagRequest* request,
                       GetFlagResponse* response) override {
    if (request->flag_id() != "F-2") return grpc::Status(grpc::StatusCode::NOT_FOUND, "no flag");
    *response->mutable_flag() = MakeFlag(2);
    response->mutable_bundle()->set_bundle_id("B-0123456789ab");
    return grpc::Status::OK;
  }
  std::atomic<int> last_min_severity{-1};
  std::atomic<bool> cancelled{false};
};

class ProvctlIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(-1); }
  void StartServer(int max_receive_bytes) {
    auto service =
        IdentityServiceImpl::Create(dir_.path() + "/provd.db", clock_, nullptr, LoadedPolicy{});
    ASSERT_TRUE(service.ok()) << service.status();
    identity_ = *std::move(service);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(identity_.get());
    builder.RegisterService(&analysis_);
    if (max_receive_bytes > 0) builder.SetMaxReceiveMessageSize(max_receive_bytes);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override { server_->Shutdown(); }
  std::pair<int, std::string> Provctl(std::vector<std::string> args) {
    args.insert(args.begin(), {BinDir() + "/provctl", "--server", address_, "--insecure"});
    return RunCommand(args);
  }

  prov::server::testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<IdentityServiceImpl> identity_;
  FakeAnalysis analysis_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

constexpr char kFixtures[] = "tests/fixtures/identity/";

TEST_F(ProvctlIdentityTest, ImportsAndAccountEndToEnd) {
  auto [rc, out] = Provctl({"accounts", "import", std::string(kFixtures) + "accounts_bad_row.csv"});
  EXPECT_EQ(rc, 1) << out;  // kubectl-style: the good rows are in, but the import failed
  EXPECT_NE(out.find("KYC version 1 from"), std::string::npos) << out;
  EXPECT_NE(out.find("2 accounts accepted, 1 rows rejected"), std::string::npos) << out;
  EXPECT_NE(out.find("accounts_bad_row.csv: line 3: field country_of_incorporation"),
            std::string::npos)
      << out;

  std::tie(rc, out) = Provctl({"accounts", "import", std::string(kFixtures) + "accounts.csv"});
  ASSERT_EQ(rc, 0) << out;
  std::tie(rc, out) = Provctl({"screening", "import", std::string(kFixtures) + "csl_sample.csv"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("6 entries (28 columns)"), std::string::npos) << out;
  EXPECT_NE(out.find("6 screening hits"), std::string::npos) << out;

  std::tie(rc, out) = Provctl({"account", "end-customer"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("KYC version:         2"), std::string::npos) << out;
  EXPECT_NE(out.find("reseller 'Gryphon Aerospace Pte Ltd' ~ name 'Gryphon Aerospace'"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("- reseller chain end-customer -> reseller-mid -> reseller-top"),
            std::string::npos)
      << out;

  std::tie(rc, out) = Provctl({"account", "guian-cloud", "-o", "json"});
  ASSERT_EQ(rc, 0) << out;
  GetAccountResponse parsed;
  ASSERT_TRUE(FromJson(out, &parsed).ok()) << out;
  EXPECT_EQ(parsed.screening_size(), 1);
  EXPECT_EQ(parsed.identity().country_of_incorporation(), "CN");

  std::tie(rc, out) = Provctl({"account", "nobody"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("account nobody: no KYC record"), std::string::npos) << out;
}

// Issue 14: a broken file imported its first rows and exited 0; row errors exited 0 as well.
TEST_F(ProvctlIdentityTest, ImportFailuresExitNonZeroNamingEveryBadRow) {
  const std::string header = "account_id,legal_entity,country_of_incorporation\n";
  const std::string broken = dir_.path() + "/broken.csv";
  ASSERT_TRUE(
      WriteFileAtomically(broken, header + "a1,A One,US\na2,\"Open Quote,US\na3,A Three,US\n")
          .ok());
  auto [rc, out] = Provctl({"accounts", "import", broken});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("broken.csv: line 3: unterminated quoted field; nothing in this file was "
                     "imported"),
            std::string::npos)
      << out;
  std::tie(rc, out) = Provctl({"account", "a1"});
  EXPECT_EQ(rc, 1) << "a broken file imported a row: " << out;

  const std::string rows = dir_.path() + "/rows.csv";
  ASSERT_TRUE(WriteFileAtomically(rows, header + "b1,B One,USA\nb2,B Two,US\nb3,,US\n").ok());
  std::tie(rc, out) = Provctl({"accounts", "import", rows});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("rows.csv: line 2: field country_of_incorporation"), std::string::npos) << out;
  EXPECT_NE(out.find("rows.csv: line 4: field legal_entity: empty"), std::string::npos) << out;
  EXPECT_NE(out.find("rows.csv: 2 row errors; the other rows were imported"), std::string::npos)
      << out;

  const std::string latin = dir_.path() + "/latin.csv";
  ASSERT_TRUE(WriteFileAtomically(latin, header + "sg-1,Soci\xe9t\xe9 G\xe9n\xe9rale,FR\n").ok());
  std::tie(rc, out) = Provctl({"accounts", "import", latin});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("latin.csv: line 2, column 10: byte 0xE9 is not valid UTF-8"),
            std::string::npos)
      << out;
  std::tie(rc, out) = Provctl({"accounts", "import", latin, "--encoding", "windows-1252"});
  EXPECT_EQ(rc, 0) << out;
  std::tie(rc, out) = Provctl({"account", "sg-1"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale"), std::string::npos) << out;
}

TEST_F(ProvctlIdentityTest, FileLargerThanTheTransportAcceptsIsNamed) {
  server_->Shutdown();
  server_.reset();  // before the service it serves
  StartServer(1024);
  auto [rc, out] = Provctl({"screening", "import", std::string(kFixtures) + "csl_sample.csv"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("csl_sample.csv ("), std::string::npos) << out;
  EXPECT_NE(out.find("bytes) is larger than provd accepts"), std::string::npos) << out;
}

TEST_F(ProvctlIdentityTest, PolicyLoadAndShow) {
  const std::string good = dir_.path() + "/good.yaml";
  const std::string bad = dir_.path() + "/bad.yaml";
  FILE* f = std::fopen(good.c_str(), "w");
  std::fputs("version: \"cli-1\"\nscreening:\n  min_score: 0.9\n", f);
  std::fclose(f);
  f = std::fopen(bad.c_str(), "w");
  std::fputs("version: \"cli-2\"\nscreening:\n  min_score: lots\n", f);
  std::fclose(f);
  auto [rc, out] = Provctl({"policy", "load", bad});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("bad.yaml:3"), std::string::npos) << out;
  std::tie(rc, out) = Provctl({"policy", "show"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("no policy loaded"), std::string::npos) << out;
  std::tie(rc, out) = Provctl({"policy", "load", good});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "policy cli-1 loaded from " + good + "\n");
  std::tie(rc, out) = Provctl({"policy", "show"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("source:              good.yaml"), std::string::npos) << out;
  EXPECT_NE(out.find("loaded:              2023-11-14 22:13:20 UTC"), std::string::npos) << out;
  EXPECT_NE(out.find("min_score: 0.9"), std::string::npos) << out;
  std::tie(rc, out) = Provctl({"policy", "load", dir_.path() + "/missing.yaml"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("cannot read"), std::string::npos) << out;
}

TEST_F(ProvctlIdentityTest, FlagsWatchStopsAfterCountAndShowPrintsTheFlag) {
  auto [rc, out] = Provctl({"flags", "watch", "--severity", "medium", "--count", "2"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("F-1 rev 1  high  open"), std::string::npos) << out;
  EXPECT_NE(out.find("F-2 rev 2"), std::string::npos) << out;
  EXPECT_EQ(out.find("F-3"), std::string::npos) << out;
  EXPECT_EQ(analysis_.last_min_severity.load(), static_cast<int>(SEVERITY_MEDIUM));

  std::tie(rc, out) = Provctl({"flags", "watch", "--count", "1", "-o", "json"});
  EXPECT_EQ(rc, 0) << out;
  Flag flag;
  ASSERT_TRUE(FromJson(out, &flag).ok()) << out;
  EXPECT_EQ(flag.flag_id(), "F-1");
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one JSON object on one line: " << out;

  std::tie(rc, out) = Provctl({"flags", "show", "F-2"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("updated:       2025-11-25 01:02:05 UTC"), std::string::npos) << out;
  EXPECT_NE(out.find("bundle:        B-0123456789ab"), std::string::npos) << out;
  std::tie(rc, out) = Provctl({"flags", "show", "F-404"});
  EXPECT_EQ(rc, 1) << out;
  // Not implemented by the fake: the error is reported, not a crash.
  std::tie(rc, out) = Provctl({"bundles", "list"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("bundles list failed"), std::string::npos) << out;
}

}  // namespace
}  // namespace prov::server
