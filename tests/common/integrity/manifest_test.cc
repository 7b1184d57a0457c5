#include "common/integrity/manifest.h"

#include <cstdlib>

#include "common/fs.h"
#include "common/sha256.h"
#include "gtest/gtest.h"

namespace prov::integrity {
namespace {

std::string TempDir() {
  std::string tmpl = ::testing::TempDir() + "/export_XXXXXX";
  EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

bool Mentions(const ExportCheck& check, const std::string& needle) {
  for (const auto& p : check.problems) {
    if (p.find(needle) != std::string::npos) return true;
  }
  return false;
}

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    ASSERT_TRUE(WriteFileAtomically(JoinPath(dir_, "flags.csv"), "id,rule\n1,tier-1e25\n").ok());
    ASSERT_TRUE(CreateDirectories(JoinPath(dir_, "ledger")).ok());
    ASSERT_TRUE(WriteFileAtomically(JoinPath(dir_, "ledger/usage.jsonl"), "{\"a\":1}\n").ok());
    key_ = *GenerateSigningKey();
    Manifest m;
    m.export_id = "e1";
    m.created_at = "2026-11-25T00:00:00Z";
    m.metadata["audit_head_seq"] = "12";
    ASSERT_TRUE(SealExportDir(dir_, &m, key_).ok());
  }
  std::string dir_;
  SigningKey key_;
};

TEST_F(ManifestTest, SealedExportVerifies) {
  ExportCheck check = VerifyExportDir(dir_, key_.public_key);
  EXPECT_TRUE(check.ok()) << check.problems[0];
  ASSERT_EQ(check.manifest.files.size(), 2u);
  EXPECT_EQ(check.manifest.files[0].path, "flags.csv");
  EXPECT_EQ(check.manifest.files[1].path, "ledger/usage.jsonl");
  EXPECT_EQ(check.manifest.metadata.at("audit_head_seq"), "12");
}

TEST_F(ManifestTest, ChangedMissingAndAddedFilesNamed) {
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir_, "flags.csv"), "id,rule\n1,none\n").ok());
  ASSERT_EQ(std::remove(JoinPath(dir_, "ledger/usage.jsonl").c_str()), 0);
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir_, "extra.txt"), "x").ok());
  ExportCheck check = VerifyExportDir(dir_, key_.public_key);
  EXPECT_EQ(check.problems.size(), 3u);
  EXPECT_TRUE(Mentions(check, "flags.csv: changed"));
  EXPECT_TRUE(Mentions(check, "ledger/usage.jsonl: listed in the manifest but missing"));
  EXPECT_TRUE(Mentions(check, "extra.txt: present but not in the manifest"));
}

TEST_F(ManifestTest, EditedManifestFailsSignature) {
  auto text = ReadFileToString(JoinPath(dir_, kManifestName));
  ASSERT_TRUE(text.ok());
  std::string edited = *text;
  edited.replace(edited.find("\"12\""), 4, "\"11\"");
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir_, kManifestName), edited).ok());
  EXPECT_TRUE(Mentions(VerifyExportDir(dir_, key_.public_key), "signature does not verify"));
}

TEST_F(ManifestTest, WrongKeyFailsSignature) {
  SigningKey other = *GenerateSigningKey();
  EXPECT_TRUE(Mentions(VerifyExportDir(dir_, other.public_key), "signature does not verify"));
}

TEST_F(ManifestTest, ChainLinksToPreviousManifest) {
  std::string first = *ReadFileToString(JoinPath(dir_, kManifestName));
  std::string next = TempDir();
  ASSERT_TRUE(WriteFileAtomically(JoinPath(next, "flags.csv"), "id\n").ok());
  Manifest m;
  m.export_id = "e2";
  m.previous_manifest_sha256 = Sha256Hex(first);
  ASSERT_TRUE(SealExportDir(next, &m, key_).ok());
  EXPECT_TRUE(VerifyExportDir(next, key_.public_key, &first).ok());
  std::string unrelated = "{}";
  EXPECT_TRUE(Mentions(VerifyExportDir(next, key_.public_key, &unrelated), "chain:"));
}

TEST(Ed25519Test, KeyFilesRoundTripAndRejectGarbage) {
  std::string dir = TempDir();
  SigningKey key = *GenerateSigningKey();
  ASSERT_TRUE(SaveSigningKey(JoinPath(dir, "k"), key).ok());
  ASSERT_TRUE(SavePublicKey(JoinPath(dir, "k.pub"), key.public_key).ok());
  auto loaded = LoadSigningKey(JoinPath(dir, "k"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->public_key, key.public_key);
  EXPECT_EQ(*LoadPublicKey(JoinPath(dir, "k.pub")), key.public_key);
  std::string sig = SignDetached(*loaded, "hello");
  EXPECT_TRUE(VerifyDetached(key.public_key, "hello", sig));
  EXPECT_FALSE(VerifyDetached(key.public_key, "hellp", sig));
  EXPECT_FALSE(VerifyDetached(key.public_key, "hello", "zz"));
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "bad"), "ed25519-seed 1234\n").ok());
  auto bad = LoadSigningKey(JoinPath(dir, "bad"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("64 hex digits"), std::string::npos);
}

}  // namespace
}  // namespace prov::integrity
