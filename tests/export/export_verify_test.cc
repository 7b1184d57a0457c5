// Tampering with an export, each kind named by VerifyExport (what `provctl export verify`
// prints): an edited CSV byte, a deleted file, an added file, an edited manifest, the wrong key,
// a broken chain, an audit log cut short and re-sealed by someone holding the key.
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "common/integrity/export_check.h"
#include "tests/export/export_fixture.h"

namespace prov::server::testing {
namespace {

namespace fs = std::filesystem;

class ExportVerifyTest : public ExportFixture {
 protected:
  void SetUp() override {
    ExportFixture::SetUp();
    Seed();
    first_ = Export("schedule").summary.server_path();
    clock_.Advance(absl::Hours(24));
    second_ = Export("request").summary.server_path();
  }
  integrity::ExportVerification Verify(const std::string& dir, const std::string* previous) {
    return integrity::VerifyExport(dir, key_.public_key, previous);
  }
  // Passes when some problem contains every one of `words`.
  static ::testing::AssertionResult Names(const integrity::ExportVerification& v,
                                          std::vector<std::string> words) {
    for (const std::string& p : v.problems) {
      bool all = true;
      for (const std::string& w : words) all = all && absl::StrContains(p, w);
      if (all) return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "no problem names " << absl::StrJoin(words, " + ")
                                         << "; problems: " << absl::StrJoin(v.problems, " | ");
  }
  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }

  std::string first_, second_;
};

TEST_F(ExportVerifyTest, AnIntactChainVerifies) {
  integrity::ExportVerification v = Verify(second_, &first_);
  EXPECT_TRUE(v.ok()) << absl::StrJoin(v.problems, " | ");
  EXPECT_TRUE(v.chain_checked);
  EXPECT_TRUE(Verify(first_, nullptr).ok());
}

TEST_F(ExportVerifyTest, AnEditedCsvByteIsNamed) {
  std::string text = ReadAll(second_ + "/usage_hourly.csv");
  text[text.size() - 3] = text[text.size() - 3] == 'x' ? 'y' : 'x';  // same size, other byte
  Write(second_ + "/usage_hourly.csv", text);
  integrity::ExportVerification v = Verify(second_, &first_);
  EXPECT_TRUE(Names(v, {"usage_hourly.csv", "changed"}));
  EXPECT_EQ(v.problems.size(), 1u);  // signature, chain and the other files are still fine
}

TEST_F(ExportVerifyTest, ADeletedFileIsNamed) {
  fs::remove(second_ + "/accounts.jsonl");
  EXPECT_TRUE(Names(Verify(second_, &first_), {"accounts.jsonl", "missing"}));
}

TEST_F(ExportVerifyTest, AnAddedFileIsNamed) {
  Write(second_ + "/flags-extra.csv", "flag_id\nF-999\n");
  EXPECT_TRUE(Names(Verify(second_, &first_), {"flags-extra.csv", "added"}));
}

TEST_F(ExportVerifyTest, AnEditedManifestBreaksTheSignature) {
  std::string m = ReadAll(second_ + "/manifest.json");
  const size_t at = m.find("\"rows.flags\": \"2\"");
  ASSERT_NE(at, std::string::npos);
  m.replace(at, 17, "\"rows.flags\": \"1\"");
  Write(second_ + "/manifest.json", m);
  integrity::ExportVerification v = Verify(second_, nullptr);
  EXPECT_TRUE(Names(v, {"manifest.sig", "does not verify"}));
}

TEST_F(ExportVerifyTest, TheWrongKeyIsNamed) {
  integrity::SigningKey other = *integrity::SigningKeyFromSeed(std::string(32, '\x09'));
  integrity::ExportVerification v = integrity::VerifyExport(second_, other.public_key, &first_);
  EXPECT_TRUE(Names(v, {"manifest.sig", "another key"}));
  EXPECT_TRUE(Names(v, {"signing_public_key", "not the expected key"}));
}

TEST_F(ExportVerifyTest, ABrokenChainIsNamed) {
  // The second export checked against an export that is not its predecessor.
  clock_.Advance(absl::Hours(24));
  std::string third = Export("request").summary.server_path();
  EXPECT_TRUE(Names(Verify(third, &first_), {"chain", "previous"}));
  EXPECT_TRUE(Verify(third, &second_).ok());
  // A previous folder whose manifest is gone.
  fs::remove(first_ + "/manifest.json");
  EXPECT_TRUE(Names(Verify(second_, &first_), {"chain", "cannot be read"}));
}

TEST_F(ExportVerifyTest, AnAuditLogCutShortAndResealedIsNamed) {
  // Someone with the signing key drops the newest audit entry and re-seals: signature and files
  // check out, but the log no longer reaches the audit head the manifest records.
  std::string log = ReadAll(second_ + "/audit_log.jsonl");
  log.pop_back();
  log = log.substr(0, log.rfind('\n') + 1);
  Write(second_ + "/audit_log.jsonl", log);
  auto manifest = integrity::ManifestFromJson(ReadAll(second_ + "/manifest.json"));
  ASSERT_TRUE(manifest.ok());
  ASSERT_TRUE(integrity::SealExportDir(second_, &*manifest, key_).ok());
  integrity::ExportVerification v = Verify(second_, &first_);
  EXPECT_TRUE(Names(v, {"audit_log.jsonl", "audit head"})) << absl::StrJoin(v.problems, " | ");
}

TEST_F(ExportVerifyTest, AnEditedAuditEntryIsNamedEvenWhenResealed) {
  std::string log = ReadAll(second_ + "/audit_log.jsonl");
  const size_t at = log.find("token:alice");
  ASSERT_NE(at, std::string::npos);
  log.replace(at, 11, "token:mallo");
  Write(second_ + "/audit_log.jsonl", log);
  auto manifest = integrity::ManifestFromJson(ReadAll(second_ + "/manifest.json"));
  ASSERT_TRUE(manifest.ok());
  ASSERT_TRUE(integrity::SealExportDir(second_, &*manifest, key_).ok());
  integrity::ExportVerification v = Verify(second_, &first_);
  EXPECT_TRUE(Names(v, {"audit_log.jsonl", "entry 2"})) << absl::StrJoin(v.problems, " | ");
}

TEST_F(ExportVerifyTest, WithoutAKeyTheManifestsOwnKeyIsUsedAndSaidSo) {
  integrity::ExportVerification v = integrity::VerifyExport(second_, "", &first_);
  EXPECT_TRUE(v.ok()) << absl::StrJoin(v.problems, " | ");
  ASSERT_FALSE(v.notes.empty());
  EXPECT_TRUE(absl::StrContains(v.notes[0], "names itself"));
}

TEST_F(ExportVerifyTest, AMissingManifestIsNamed) {
  fs::remove(second_ + "/manifest.json");
  EXPECT_TRUE(Names(Verify(second_, nullptr), {"manifest.json", "missing"}));
}

}  // namespace
}  // namespace prov::server::testing
