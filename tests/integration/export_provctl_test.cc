// Signed audit exports end to end: the real provd (process) exports at first start and on
// `provctl export --out`, the downloaded folder matches provd's byte for byte, and
// `provctl export verify` (offline) passes it, then names each tampering and exits 1.
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "common/proto_json.h"
#include "gtest/gtest.h"
#include "provenance/v1/compliance.pb.h"
#include "tests/integration/provd_process.h"
#include "tests/integration/subprocess.h"
#include "tests/uplink/test_util.h"

namespace prov {
namespace {

namespace fs = std::filesystem;
using testing::BinDir;
using testing::RunCommand;

class ExportProvctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.Sub("data"));
    provd_ = std::make_unique<testing::ProvdProcess>(dir_.Sub("data"), 0,
                                                     std::vector<std::string>{"--insecure"});
    ASSERT_TRUE(provd_->ok()) << provd_->log();
  }
  std::pair<int, std::string> Provctl(std::vector<std::string> args, bool with_token = true) {
    std::vector<std::string> argv = {BinDir() + "/provctl", "--server", provd_->address(),
                                     "--insecure"};
    if (with_token) argv.insert(argv.end(), {"--token-file", provd_->token_path()});
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, std::chrono::seconds(60));
  }
  std::pair<int, std::string> Verify(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BinDir() + "/provctl", "export", "verify"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);  // offline: no --server, no token
  }
  std::string Data(const std::string& rel) { return dir_.Sub("data") + "/" + rel; }

  testing::TempDir dir_;
  std::unique_ptr<testing::ProvdProcess> provd_;
};

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(ExportProvctlTest, ExportDownloadVerifyAndTamper) {
  // Some records: a short simulated fleet.
  auto [sim_rc, sim_out] =
      RunCommand({BinDir() + "/prov-sim", "--server", provd_->address(), "--insecure", "--nodes",
                  "4", "--accounts", "2", "--reports-per-node", "3", "--interval", "10",
                  "--time-scale", "1000", "--wait-acks", "30"},
                 std::chrono::seconds(90));
  ASSERT_EQ(sim_rc, 0) << sim_out;

  const std::string out = dir_.Sub("export-1");
  auto [rc, text] = Provctl({"export", "--out", out});
  ASSERT_EQ(rc, 0) << text << provd_->log();
  EXPECT_TRUE(absl::StrContains(text, "export: nodes")) << "progress on stderr: " << text;
  EXPECT_TRUE(absl::StrContains(text, "downloaded to:")) << text;
  ASSERT_TRUE(fs::exists(out + "/manifest.json"));
  ASSERT_TRUE(fs::exists(out + "/manifest.sig"));

  // The scheduler exported at first start; the request chains to it.
  auto [list_rc, list_json] = Provctl({"exports", "list", "-o", "json"});
  ASSERT_EQ(list_rc, 0) << list_json;
  provenance::v1::ListExportsResponse list;
  ASSERT_TRUE(FromJson(list_json, &list).ok()) << list_json;
  ASSERT_EQ(list.exports_size(), 2);
  EXPECT_EQ(list.exports(0).trigger(), "schedule");
  EXPECT_EQ(list.exports(1).trigger(), "request");
  EXPECT_EQ(list.exports(1).previous_manifest_sha256(), list.exports(0).manifest_sha256());
  const std::string server_copy = list.exports(1).server_path();
  const std::string first = list.exports(0).server_path();

  // What provctl wrote is what provd sealed, byte for byte.
  int files = 0;
  for (const auto& e : fs::directory_iterator(server_copy)) {
    ++files;
    EXPECT_EQ(Slurp(e.path()), Slurp(fs::path(out) / e.path().filename())) << e.path();
  }
  EXPECT_EQ(files, static_cast<int>(list.exports(1).files()));
  EXPECT_GT(fs::file_size(out + "/nodes.csv"), 100u);

  // The public key from provd (any role may read it) matches the one beside the key file.
  auto [key_rc, key_line] = Provctl({"exports", "key"});
  ASSERT_EQ(key_rc, 0) << key_line;
  EXPECT_EQ(key_line, Slurp(Data("export-signing.pub")));
  const std::string pub = dir_.Sub("auditor.pub");
  std::ofstream(pub) << key_line;

  auto [ok_rc, ok_text] = Verify({out, "--public-key", pub, "--previous", first});
  EXPECT_EQ(ok_rc, 0) << ok_text;
  EXPECT_TRUE(absl::StrContains(ok_text, "OK: signature valid")) << ok_text;
  EXPECT_TRUE(absl::StrContains(ok_text, "chained to the previous export")) << ok_text;

  // The lead's audit verification anchors on the export's head: still intact.
  auto [audit_rc, audit_text] = Provctl({"audit", "verify"});
  EXPECT_EQ(audit_rc, 0) << audit_text;

  // Tampering: one edited byte, one removed file, one added file; each named, exit 1.
  {
    std::fstream f(out + "/workloads.csv", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('#');
  }
  fs::remove(out + "/accounts.jsonl");
  std::ofstream(out + "/notes.txt") << "added by hand\n";
  auto [bad_rc, bad_text] = Verify({out, "--public-key", pub, "--previous", first});
  EXPECT_EQ(bad_rc, 1) << bad_text;
  EXPECT_TRUE(absl::StrContains(bad_text, "PROBLEM workloads.csv: changed")) << bad_text;
  EXPECT_TRUE(absl::StrContains(bad_text,
                                "PROBLEM accounts.jsonl: listed in the manifest but "
                                "missing"))
      << bad_text;
  EXPECT_TRUE(absl::StrContains(bad_text, "PROBLEM notes.txt: present but not in the manifest"))
      << bad_text;

  // The chain checked against the wrong predecessor; the signature against the wrong key.
  auto [chain_rc, chain_text] = Verify({server_copy, "--previous", server_copy});
  EXPECT_EQ(chain_rc, 1);
  EXPECT_TRUE(absl::StrContains(chain_text, "PROBLEM chain:")) << chain_text;
  auto [key_bad_rc, key_bad_text] = Verify({server_copy, "--public-key", std::string(64, 'a')});
  EXPECT_EQ(key_bad_rc, 1);
  EXPECT_TRUE(absl::StrContains(key_bad_text, "PROBLEM manifest.sig")) << key_bad_text;
}

TEST_F(ExportProvctlTest, ExportsNeedTheAdminRole) {
  auto [anon_rc, anon_text] = Provctl({"export"}, /*with_token=*/false);
  EXPECT_EQ(anon_rc, 1);
  EXPECT_TRUE(absl::StrContains(anon_text, "(code 16)")) << anon_text;
  auto [issue_rc, issued] =
      Provctl({"tokens", "issue", "auditor", "--role", "viewer", "-o", "json"});
  ASSERT_EQ(issue_rc, 0) << issued;
  provenance::v1::IssueTokenResponse token;
  ASSERT_TRUE(FromJson(issued, &token).ok()) << issued;
  std::vector<std::string> viewer = {BinDir() + "/provctl", "--server", provd_->address(),
                                     "--insecure",          "--token",  token.token()};
  auto with = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = viewer;
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  };
  auto [denied_rc, denied] = with({"export"});
  EXPECT_EQ(denied_rc, 1);
  EXPECT_TRUE(absl::StrContains(denied, "(code 7)")) << denied;
  auto [key_rc, key] = with({"exports", "key"});
  EXPECT_EQ(key_rc, 0) << key;
  EXPECT_TRUE(absl::StrContains(key, "ed25519-public ")) << key;
}

}  // namespace
}  // namespace prov
