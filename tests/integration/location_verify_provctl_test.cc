// `provctl location verify DIR` end to end on the real binary (offline: no provd, no token):
// exit 0 on an export whose verdicts all re-derive, exit 1 naming the problem on a tampered one,
// the export's own key checked with --public-key, and -o json.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/escaping.h"
#include "nlohmann/json.hpp"
#include "tests/common/location/location_export_builder.h"
#include "tests/integration/subprocess.h"

namespace prov {
namespace {

using testing::BinDir;
using ::testing::HasSubstr;
using testing::RunCommand;

class LocationVerifyProvctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/location_verify_provctl";
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    b_ = std::make_unique<location::testing::LocationExportBuilder>(dir_);
    b_->AddLandmark("lm-fra", {50.11, 8.68});
    b_->AddLandmark("lm-nyc", {40.71, -74.01});
    b_->AddSite("fra1", {50.10, 8.70});
    b_->AddNode("gpu-1");
    b_->AddNode("gpu-2");
    const int64_t a = b_->AddNodeRecord("lm-fra", "gpu-1", 1.0);
    const int64_t c = b_->AddNodeRecord("lm-nyc", "gpu-2", 2.0);
    b_->AddVerdict({"gpu-1", "fra1", "verified", {a}, {}});
    b_->AddVerdict({"gpu-2", "fra1", "contradicted", {c}, {}});
    b_->Write();
    key_hex_ = absl::BytesToHexString(b_->export_key().public_key);
  }

  std::pair<int, std::string> Verify(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {BinDir() + "/provctl", "location", "verify", dir_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }

  std::string dir_, key_hex_;
  std::unique_ptr<location::testing::LocationExportBuilder> b_;
};

TEST_F(LocationVerifyProvctlTest, ExitCodesAndProblemLines) {
  auto [rc, out] = Verify({"--public-key", key_hex_});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr("gpu-2  contradicted  contradicted"));
  EXPECT_THAT(out, HasSubstr("OK: export verified, 2 location verdicts re-derived"));

  // Another exporter's key: the manifest's signature does not verify.
  std::tie(rc, out) = Verify({"--public-key", std::string(64, 'a')});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_THAT(out, HasSubstr("PROBLEM manifest"));

  b_->verdict_line(1)["verdict"] = "verified";
  b_->Write();
  std::tie(rc, out) = Verify({"--public-key", key_hex_});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_THAT(out, HasSubstr("PROBLEM gpu-2: verdict differs: exported verified, re-derived "
                             "contradicted"));

  std::tie(rc, out) = Verify({"--public-key", key_hex_, "-o", "json"});
  EXPECT_EQ(rc, 1) << out;
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_EQ(j["nodes"][1]["rederived_verdict"], "contradicted");
}

TEST_F(LocationVerifyProvctlTest, NotAnExportFolder) {
  auto [rc, out] = RunCommand({BinDir() + "/provctl", "location", "verify", dir_ + "/nothing"});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_THAT(out, HasSubstr("PROBLEM manifest.json"));
  std::tie(rc, out) = RunCommand({BinDir() + "/provctl", "location", "verify"});
  EXPECT_EQ(rc, 2) << out;  // usage: DIR is required
}

}  // namespace
}  // namespace prov
