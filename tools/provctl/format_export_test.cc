// provctl's export commands: parsing, the verification report, --public-key forms, file paths.
#include "tools/provctl/format_export.h"

#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"
#include "tools/provctl/cli.h"

namespace prov::provctl {
namespace {

TEST(CliExportTest, ExportVerifyAndList) {
  auto inv = ParseArgs({"export", "--out", "/tmp/x"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "export");
  EXPECT_EQ(inv->out_dir, "/tmp/x");
  EXPECT_EQ(inv->timeout_seconds, kExportTimeoutSeconds);
  inv = ParseArgs({"export", "verify", "/e/1", "--public-key", "k.pub", "--previous", "/e/0"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "export verify");
  EXPECT_EQ(inv->file, "/e/1");
  EXPECT_EQ(inv->public_key, "k.pub");
  EXPECT_EQ(inv->previous_dir, "/e/0");
  EXPECT_EQ(ParseArgs({"exports", "list"})->command, "exports list");
  EXPECT_EQ(ParseArgs({"exports", "key"})->command, "exports key");
  EXPECT_FALSE(ParseArgs({"export", "verify"}).ok());  // DIR is required
  EXPECT_FALSE(ParseArgs({"export", "--previous", "/e/0"}).ok());
  EXPECT_FALSE(ParseArgs({"export", "somewhere"}).ok());
  EXPECT_NE(Usage().find("export verify DIR"), std::string::npos);
}

TEST(FormatExportTest, VerificationTextListsProblemsThenAVerdict) {
  integrity::ExportVerification v;
  v.manifest.export_id = "20261202T000000Z";
  v.manifest.metadata["audit_head_seq"] = "12";
  v.manifest.files.resize(29);
  v.audit_entries = 12;
  v.chain_checked = true;
  EXPECT_EQ(VerificationText("/x", v),
            "export 20261202T000000Z: OK: signature valid, 29 files match the manifest, audit log "
            "intact (12 entries, head 12), chained to the previous export\n");
  v.problems = {"flags.csv: changed (...)", "extra.txt: present but not in the manifest: added"};
  v.notes = {"chain: not checked"};
  EXPECT_EQ(VerificationText("/x", v),
            "PROBLEM flags.csv: changed (...)\n"
            "PROBLEM extra.txt: present but not in the manifest: added\n"
            "note: chain: not checked\n"
            "export 20261202T000000Z: 2 problems\n");
}

TEST(FormatExportTest, PublicKeyFromHexOrKeyFile) {
  const std::string hex(64, 'a');
  auto raw = ParsePublicKeyArg(hex);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->size(), 32u);
  const std::string path = ::testing::TempDir() + "/export-signing.pub";
  std::ofstream(path) << "ed25519-public " << hex << "\n";
  auto from_file = ParsePublicKeyArg(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(*from_file, *raw);
  std::ofstream(path) << "ed25519-seed " << hex << "\n";  // a secret key file is refused
  EXPECT_FALSE(ParsePublicKeyArg(path).ok());
  EXPECT_FALSE(ParsePublicKeyArg("/no/such/file").ok());
  std::remove(path.c_str());
}

TEST(FormatExportTest, StreamedPathsStayInsideTheFolder) {
  EXPECT_TRUE(SafeRelativePath("flags.csv"));
  EXPECT_TRUE(SafeRelativePath("sub/flags.csv"));
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a//b", "./x"}) {
    EXPECT_FALSE(SafeRelativePath(bad)) << bad;
  }
}

TEST(FormatExportTest, ProgressAndTables) {
  provenance::v1::ExportProgress p;
  p.set_stage("flags");
  p.set_done(10000);
  p.set_total(52113);
  EXPECT_EQ(ProgressLine(p), "export: flags 10000/52113\n");
  provenance::v1::ListExportsResponse empty;
  EXPECT_EQ(ExportsTable(empty), "no exports yet\n");
  provenance::v1::ListExportsResponse list;
  auto* e = list.add_exports();
  e->set_export_id("20261202T000000Z");
  e->set_trigger("schedule");
  e->set_files(31);
  e->set_manifest_sha256(std::string(64, 'b'));
  std::string table = ExportsTable(list);
  EXPECT_NE(table.find("20261202T000000Z"), std::string::npos) << table;
  EXPECT_NE(table.find("bbbbbbbbbbbbbbbb"), std::string::npos) << table;
}

}  // namespace
}  // namespace prov::provctl
