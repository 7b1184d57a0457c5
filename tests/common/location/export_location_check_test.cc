// Offline re-derivation of exported location verdicts (provctl location verify) on real export
// folders: real Ed25519 landmark signatures, real ECDSA node answers, a sealed manifest.
#include "common/location/export_location_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/escaping.h"
#include "tests/common/location/location_export_builder.h"

namespace prov::location {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::LocationExportBuilder;

// gpu-1 is declared in fra1 and answers lm-fra in 1 ms: verified. gpu-2 is declared in fra1 too,
// but answers lm-nyc in 2 ms (within 200 km of New York): contradicted.
class ExportLocationCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/location_export_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    b_ = std::make_unique<LocationExportBuilder>(dir_);
    b_->AddLandmark("lm-fra", {50.11, 8.68});
    b_->AddLandmark("lm-par", {48.86, 2.35});
    b_->AddLandmark("lm-nyc", {40.71, -74.01});
    b_->AddSite("fra1", {50.10, 8.70});
    b_->AddNode("gpu-1");
    b_->AddNode("gpu-2");
    fra_ = b_->AddNodeRecord("lm-fra", "gpu-1", 1.0);
    par_ = b_->AddNodeRecord("lm-par", "gpu-1", 6.0);
    pair_ = b_->AddPairRecord("lm-fra", "lm-par", 5.5);
    nyc_ = b_->AddNodeRecord("lm-nyc", "gpu-2", 2.0);
    far_ = b_->AddNodeRecord("lm-fra", "gpu-2", 70.0);
    b_->AddVerdict({"gpu-1", "fra1", "verified", {fra_, par_}, {{"lm-fra", {pair_}}}});
    b_->AddVerdict({"gpu-2", "fra1", "contradicted", {nyc_, far_}, {}});
    b_->Write();
  }

  LocationExportCheck Check() { return CheckLocationExport(dir_, b_->export_key().public_key); }

  std::string dir_;
  std::unique_ptr<LocationExportBuilder> b_;
  int64_t fra_ = 0, par_ = 0, pair_ = 0, nyc_ = 0, far_ = 0;
};

TEST_F(ExportLocationCheckTest, EveryVerdictReDerivesFromTheSignedRecords) {
  LocationExportCheck c = Check();
  EXPECT_TRUE(c.export_check.ok());
  EXPECT_THAT(c.problems, ElementsAre());
  ASSERT_EQ(c.nodes.size(), 2u);
  EXPECT_EQ(c.nodes[0].node_id, "gpu-1");
  EXPECT_EQ(c.nodes[0].rederived_verdict, "verified");
  EXPECT_EQ(c.nodes[0].records_checked, 3);  // two disks and the calibration pair
  EXPECT_THAT(c.nodes[0].problems, ElementsAre());
  EXPECT_EQ(c.nodes[1].rederived_verdict, "contradicted");
  EXPECT_THAT(c.nodes[1].rederived_reason, HasSubstr("lm-nyc"));
  EXPECT_THAT(c.nodes[1].problems, ElementsAre());
  EXPECT_TRUE(c.ok());
}

TEST_F(ExportLocationCheckTest, TamperedMeasurementByteBreaksTheLandmarkSignature) {
  auto& line = b_->record_line(fra_);
  std::string bytes;
  ASSERT_TRUE(absl::Base64Unescape(line["measurement_b64"].get<std::string>(), &bytes));
  bytes[bytes.size() / 2] ^= 0x01;
  line["measurement_b64"] = absl::Base64Escape(bytes);
  b_->Write();  // the exporter re-seals: the manifest verifies, the record does not
  LocationExportCheck c = Check();
  EXPECT_TRUE(c.export_check.ok());
  EXPECT_FALSE(c.ok());
  // Without the 1 ms record only lm-par's 600 km disk is left: too large to prove anything.
  EXPECT_THAT(c.nodes[0].problems,
              ElementsAre("record 1: landmark signature invalid (landmark lm-fra)",
                          "verdict differs: exported verified, re-derived unverified"));
  EXPECT_THAT(c.nodes[1].problems, ElementsAre());
}

TEST_F(ExportLocationCheckTest, AnEditedFileWithoutResealingFailsTheManifest) {
  std::ofstream(dir_ + "/" + kVerdictsFile, std::ios::app) << "\n";
  LocationExportCheck c = Check();
  EXPECT_FALSE(c.export_check.ok());
  EXPECT_THAT(c.export_check.problems, Contains(HasSubstr(kVerdictsFile)));
  EXPECT_FALSE(c.ok());
}

TEST_F(ExportLocationCheckTest, SwappedNodeKeyInvalidatesTheAnswers) {
  b_->node_key_line("gpu-1")["spki_der_hex"] = LocationExportBuilder::FreshNodeKeyHex();
  b_->Write();
  LocationExportCheck c = Check();
  EXPECT_FALSE(c.ok());
  EXPECT_THAT(c.nodes[0].problems,
              ElementsAre("record 1: node answer signature invalid (node gpu-1)",
                          "record 2: node answer signature invalid (node gpu-1)",
                          "verdict differs: exported verified, re-derived unverified"));
  EXPECT_THAT(c.nodes[1].problems, ElementsAre());  // gpu-2's key is untouched
}

TEST_F(ExportLocationCheckTest, VerdictEditedFromContradictedToVerifiedDiffers) {
  b_->verdict_line(1)["verdict"] = "verified";
  b_->Write();
  LocationExportCheck c = Check();
  EXPECT_TRUE(c.export_check.ok());
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.nodes[1].exported_verdict, "verified");
  EXPECT_EQ(c.nodes[1].rederived_verdict, "contradicted");
  EXPECT_THAT(c.nodes[1].problems,
              ElementsAre("verdict differs: exported verified, re-derived contradicted"));
}

TEST_F(ExportLocationCheckTest, MissingRecordIsNamed) {
  b_->RemoveRecord(nyc_);
  b_->Write();
  LocationExportCheck c = Check();
  EXPECT_FALSE(c.ok());
  EXPECT_THAT(c.nodes[1].problems,
              Contains("record 4: referenced (disk) but missing from location_measurements.jsonl"));
}

TEST_F(ExportLocationCheckTest, MissingCalibrationRecordIsNamedWithItsUse) {
  b_->RemoveRecord(pair_);
  b_->Write();
  LocationExportCheck c = Check();
  EXPECT_THAT(c.nodes[0].problems,
              ElementsAre("record 3: referenced (calibration of lm-fra) but missing from "
                          "location_measurements.jsonl"));
}

// gpu-3 answers lm-par in 4 ms: 400 km at the nominal speed, and fra1 is 478 km from Paris. The
// pair lm-par -> lm-fra measured 3 ms, an implied 319 km/ms: lm-par's disks grow to 638 km, which
// contains fra1 but proves nothing (over 500 km). Without the calibration it would be a
// contradiction, so the re-derivation must use it.
TEST_F(ExportLocationCheckTest, CalibrationFromPairRecordsGrowsTheDisks) {
  b_->AddNode("gpu-3");
  const int64_t slow = b_->AddNodeRecord("lm-par", "gpu-3", 4.0);
  const int64_t fast_pair = b_->AddPairRecord("lm-par", "lm-fra", 3.0);
  b_->AddVerdict({"gpu-3", "fra1", "unverified", {slow}, {{"lm-par", {fast_pair}}}});
  b_->Write();
  LocationExportCheck c = Check();
  ASSERT_EQ(c.nodes.size(), 3u);
  EXPECT_THAT(c.nodes[2].problems, ElementsAre());
  EXPECT_EQ(c.nodes[2].rederived_verdict, "unverified");
  EXPECT_TRUE(c.ok());
  // The same record without its calibration: the disk is 400 km and excludes the site.
  b_->verdict_line(2)["calibration_measurement_ids"] = nlohmann::json::object();
  b_->Write();
  c = Check();
  EXPECT_THAT(c.nodes[2].problems,
              ElementsAre("verdict differs: exported unverified, re-derived contradicted"));
}

TEST_F(ExportLocationCheckTest, ExportWithoutLocationFilesSaysSo) {
  std::filesystem::remove(dir_ + "/" + kVerdictsFile);
  b_->Reseal();
  LocationExportCheck c = Check();
  EXPECT_THAT(c.problems, Contains("location_verdicts.jsonl: not in this export's manifest"));
  EXPECT_FALSE(c.ok());
}

// Writes the location_export fuzz target's seed (tests/fuzz/README.md); run by hand with
// --gtest_also_run_disabled_tests --gtest_filter='*WriteFuzzSeed*' from the source root.
TEST_F(ExportLocationCheckTest, DISABLED_WriteFuzzSeed) {
  std::filesystem::create_directories("tests/fuzz/corpus/location_export");
  std::ofstream("tests/fuzz/corpus/location_export/signed_two_nodes", std::ios::binary)
      << b_->FuzzInput();
}

TEST(ParseLocationFilesTest, BadLinesAreNamedAndSkipped) {
  LocationFiles f;
  f.landmarks =
      "{\"landmark_id\":\"lm-1\",\"lat\":91,\"lon\":0,\"region\":\"r\",\"public_key_hex\":\"\"}\n"
      "not json\n";
  f.measurements =
      "{\"id\":1,\"landmark_id\":\"lm-1\",\"target_kind\":\"moon\",\"target_id\":\"x\"}\n";
  f.verdicts = "[1,2]\n";
  std::vector<std::string> problems;
  ParsedLocationExport p = ParseLocationFiles(f, &problems);
  EXPECT_TRUE(p.landmarks.empty());
  EXPECT_TRUE(p.records.empty());
  EXPECT_THAT(problems, ElementsAre(HasSubstr("location_landmarks.jsonl: line 1: lat 91"),
                                    HasSubstr("location_landmarks.jsonl: line 2: "),
                                    HasSubstr("location_measurements.jsonl: line 1: target_kind "
                                              "'moon'"),
                                    "location_verdicts.jsonl: line 1: not a JSON object"));
}

}  // namespace
}  // namespace prov::location
