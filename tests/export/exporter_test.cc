// The Exporter on a real SQLite file: rows in -> files out with consistent counts, the case
// overlay, one snapshot, the manifest verifies and chains, the export is recorded with its audit
// entry, and nothing half-written is ever left looking complete.
#include "server/export/exporter.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "common/csv.h"
#include "common/integrity/export_check.h"
#include "common/sha256.h"
#include "nlohmann/json.hpp"
#include "server/export/signing_key.h"
#include "tests/export/export_fixture.h"

namespace prov::server::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ExporterTest : public ExportFixture {};

std::vector<std::vector<std::string>> CsvRows(const std::string& path) {
  std::string text = ReadAll(path);
  CsvReader reader(text);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> fields;
  while (true) {
    auto more = reader.Next(&fields);
    EXPECT_TRUE(more.ok()) << path << ": " << more.status();
    if (!more.ok() || !*more) break;
    rows.push_back(fields);
  }
  return rows;
}

std::vector<json> JsonRows(const std::string& path) {
  std::vector<json> out;
  std::stringstream in(ReadAll(path));
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

TEST_F(ExporterTest, RowsInFilesOutWithConsistentCounts) {
  Seed(/*usage_hours=*/7);
  std::vector<std::string> stages;
  auto r = exporter_->Run("request", "token:admin", [&](const provenance::v1::ExportProgress& p) {
    if (stages.empty() || stages.back() != p.stage()) stages.push_back(p.stage());
    EXPECT_LE(p.done(), p.total());
  });
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string dir = r->summary.server_path();
  EXPECT_EQ(dir, export_dir() + "/" + r->summary.export_id());
  EXPECT_EQ(r->summary.trigger(), "request");
  EXPECT_TRUE(r->summary.previous_manifest_sha256().empty());
  EXPECT_EQ(r->summary.manifest_sha256(), Sha256Hex(ReadAll(dir + "/manifest.json")));

  // Each table: CSV rows (after the header) == JSONL lines == the manifest's rows.<table>.
  const std::map<std::string, size_t> expected = {
      {"flags", 2},           {"bundles", 1},      {"links", 1},     {"case_actions", 3},
      {"usage_hourly", 7},    {"workloads", 2},    {"accounts", 2},  {"screening_hits", 1},
      {"nodes", 2},           {"accelerators", 2}, {"audit_log", 2}, {"kyc_imports", 1},
      {"screening_lists", 1}, {"policies", 0}};
  for (const auto& [table, rows] : expected) {
    EXPECT_EQ(CsvRows(dir + "/" + table + ".csv").size(), rows + 1) << table;
    EXPECT_EQ(Lines(dir + "/" + table + ".jsonl"), rows) << table;
    EXPECT_EQ(r->manifest.metadata.at("rows." + table), std::to_string(rows)) << table;
  }
  EXPECT_EQ(CsvRows(dir + "/flag_evidence.csv").size(), 1u + 4u);  // 2 steps per flag
  EXPECT_EQ(stages.front(), "flags");
  EXPECT_EQ(stages.back(), "audit_log");

  const auto& md = r->manifest.metadata;
  EXPECT_EQ(md.at("audit_head_seq"), "2");
  EXPECT_EQ(md.at("kyc_version"), "1");
  EXPECT_EQ(md.at("screening_list_version"), "csl-sha256:cafe");
  EXPECT_EQ(md.at("policy_version"), "policy-v7");
  EXPECT_EQ(md.at("retention_days"), "1826");
  EXPECT_EQ(md.at("requested_by"), "token:admin");
  EXPECT_FALSE(md.at("records_from").empty());
  EXPECT_LE(md.at("records_from"), md.at("records_to"));

  integrity::ExportVerification v = integrity::VerifyExport(dir, key_.public_key);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0]);
  EXPECT_EQ(v.audit_entries, 2u);
}

TEST_F(ExporterTest, FlagsCarryTheirCaseAndEvidenceChain) {
  Seed();
  ExportResult r = Export();
  const std::string dir = r.summary.server_path();
  auto flags = JsonRows(dir + "/flags.jsonl");
  ASSERT_EQ(flags.size(), 2u);
  // cases is the truth: the stored flag says open, the case says resolved as a false positive.
  EXPECT_EQ(flags[0]["flag_id"], "F-000001");
  EXPECT_EQ(flags[0]["status"], "FLAG_STATUS_RESOLVED");
  EXPECT_EQ(flags[0]["disposition"], "DISPOSITION_FALSE_POSITIVE");
  EXPECT_EQ(flags[0]["assignee"], "alice");
  EXPECT_EQ(flags[0]["case"]["revision"], 3);
  EXPECT_EQ(flags[0]["evidence"].size(), 2u);
  EXPECT_EQ(flags[0]["evidence"][1]["link"]["kind"], "network_peer");
  EXPECT_EQ(flags[1]["status"], "FLAG_STATUS_OPEN");
  EXPECT_EQ(flags[1]["case"]["recorded"], false);

  auto csv = CsvRows(dir + "/flags.csv");
  ASSERT_EQ(csv.size(), 3u);
  EXPECT_EQ(csv[0][4], "status");
  EXPECT_EQ(csv[1][4], "FLAG_STATUS_RESOLVED");
  EXPECT_EQ(csv[1][10], "account acme, matches \"Evil Corp\"");  // quoted and read back
  auto actions = CsvRows(dir + "/case_actions.csv");
  ASSERT_EQ(actions.size(), 4u);
  EXPECT_EQ(actions[3][9], "cleared:\nline two");

  auto accounts = JsonRows(dir + "/accounts.jsonl");
  ASSERT_EQ(accounts.size(), 2u);
  EXPECT_EQ(accounts[0]["account_id"], "acme");
  EXPECT_EQ(accounts[0]["kyc_version"], 1);
  EXPECT_EQ(accounts[0]["screening_list_version"], "csl-sha256:cafe");
  ASSERT_EQ(accounts[0]["screening_hits"].size(), 1u);
  EXPECT_EQ(accounts[0]["screening_hits"][0]["entry_name"], "Evil Corp");
  EXPECT_EQ(accounts[1]["screening_hits"].size(), 0u);
  auto accel = CsvRows(dir + "/accelerators.csv");
  ASSERT_EQ(accel.size(), 3u);
  EXPECT_EQ(accel[1][5], "0x10de");
  EXPECT_EQ(accel[1][8], "H100 SXM5");
}

TEST_F(ExporterTest, OneSnapshotWritesDuringTheExportAreNotInIt) {
  Seed(/*usage_hours=*/3);
  auto writer = OpenConnection(db_path(), SqliteDb::kReadWrite);
  ASSERT_TRUE(writer.ok());
  bool wrote = false;
  auto r = exporter_->Run("request", "token:admin", [&](const provenance::v1::ExportProgress& p) {
    if (wrote || p.stage() != "flags") return;
    wrote = true;  // after the snapshot began, before usage and the audit log are read
    ASSERT_TRUE((*writer)
                    ->Exec("INSERT INTO account_usage_hourly VALUES ('late', 0, 1, 1, 0, 1, "
                           "1, 'x', 0)")
                    .ok());
    auto txn = Transaction::Begin(**writer, Transaction::kWrite);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(AppendAuditEntry(**writer, "token:bob", "case.note", "{}", clock_.Now()).ok());
    ASSERT_TRUE(txn->Commit().ok());
  });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(wrote);
  EXPECT_EQ(r->manifest.metadata.at("rows.usage_hourly"), "3");
  EXPECT_EQ(r->manifest.metadata.at("audit_head_seq"), "2");
  EXPECT_EQ(Lines(r->summary.server_path() + "/audit_log.jsonl"), 2u);
  EXPECT_TRUE(integrity::VerifyExport(r->summary.server_path(), key_.public_key).ok());
}

TEST_F(ExporterTest, ChainsToThePreviousExportAndRecordsEachWithAnAuditEntry) {
  Seed();
  ExportResult first = Export("schedule");
  clock_.Advance(absl::Hours(24));
  ExportResult second = Export("request");
  ASSERT_NE(first.summary.export_id(), second.summary.export_id());
  EXPECT_EQ(second.summary.previous_manifest_sha256(), first.summary.manifest_sha256());
  EXPECT_EQ(second.manifest.metadata.at("previous_export_id"), first.summary.export_id());
  // The first export's own audit entry (seq 3) is in the second export, anchored by its head.
  EXPECT_EQ(second.manifest.metadata.at("audit_head_seq"), "3");
  const std::string previous_dir = first.summary.server_path();
  integrity::ExportVerification v =
      integrity::VerifyExport(second.summary.server_path(), key_.public_key, &previous_dir);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0]);
  EXPECT_TRUE(v.chain_checked);

  auto list = exporter_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].export_id(), first.summary.export_id());
  EXPECT_EQ((*list)[1].trigger(), "request");
  auto last = exporter_->LastExportTime("schedule");
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ(**last, clock_.Now() - absl::Hours(24));

  auto reader = AuditLogReader::Open(db_path());
  ASSERT_TRUE(reader.ok());
  auto entries = (*reader)->List(0, 100, "export");
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].actor, "token:admin");
  EXPECT_NE((*entries)[1].payload.find(second.summary.manifest_sha256()), std::string::npos);
  // AuditLogReader::Verify anchors on the newest export's head: consistent with the manifest.
  auto verified = (*reader)->Verify(std::nullopt);
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->intact());
  ASSERT_TRUE(verified->anchor.has_value());
  EXPECT_EQ(verified->anchor->seq, 3u);
  EXPECT_EQ(verified->anchor->hash, second.manifest.metadata.at("audit_head_hash"));
}

TEST_F(ExporterTest, SameSecondGetsADistinctIdAndNoTemporaryFolderRemains) {
  ExportResult a = Export();
  ExportResult b = Export();
  EXPECT_EQ(b.summary.export_id(), a.summary.export_id() + "-2");
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(export_dir())) names.insert(e.path().filename());
  EXPECT_EQ(names, (std::set<std::string>{a.summary.export_id(), b.summary.export_id()}));
}

TEST_F(ExporterTest, ACrashedExportsTemporaryFolderIsRemovedAtOpen) {
  fs::create_directories(export_dir() + "/.tmp-20200101T000000Z");
  std::ofstream(export_dir() + "/.tmp-20200101T000000Z/flags.csv") << "half";
  OpenExporter();
  EXPECT_FALSE(fs::exists(export_dir() + "/.tmp-20200101T000000Z"));
}

// SIGKILL between the rename and the recording transaction leaves a sealed folder with no row:
// the next Open takes it away; recorded exports and folders that are not export ids stay.
TEST_F(ExporterTest, ASealedButUnrecordedFolderIsRemovedAtOpen) {
  Seed();
  ExportResult kept = Export();
  const std::string orphan = export_dir() + "/20200101T000000Z-3";
  fs::copy(export_dir() + "/" + kept.summary.export_id(), orphan);
  fs::create_directories(export_dir() + "/operator-notes");
  OpenExporter();
  EXPECT_FALSE(fs::exists(orphan));
  EXPECT_TRUE(fs::exists(export_dir() + "/" + kept.summary.export_id() + "/manifest.json"));
  EXPECT_TRUE(fs::exists(export_dir() + "/operator-notes"));
}

TEST_F(ExporterTest, AFailedRecordLeavesNoExportFolder) {
  Seed();
  // The exports row cannot be inserted (a CHECK no summary passes): the export is not recorded.
  Sql("DROP TABLE exports");
  Sql("CREATE TABLE exports (export_id TEXT PRIMARY KEY, created_us INTEGER NOT NULL, "
      "trigger TEXT NOT NULL, path TEXT NOT NULL, manifest_sha256 TEXT NOT NULL, "
      "previous_manifest_sha256 TEXT NOT NULL, audit_head_seq INTEGER NOT NULL, "
      "audit_head_hash TEXT NOT NULL, summary BLOB NOT NULL CHECK (length(summary) < 0))");
  auto r = exporter_->Run("request", "token:admin");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(fs::is_empty(export_dir()));
  auto reader = AuditLogReader::Open(db_path());
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->List(0, 100, "export")->size(), 0u);  // rolled back with the row
}

TEST(SigningKeyTest, MadeOnFirstUseOwnerOnlyWithThePublicKeyBeside) {
  TempDir dir;
  const std::string path = dir.path() + "/export-signing.key";
  auto made = LoadOrCreateSigningKey(path, /*create=*/true);
  ASSERT_TRUE(made.ok()) << made.status();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(PublicKeyPathFor(path), dir.path() + "/export-signing.pub");
  EXPECT_EQ(*integrity::LoadPublicKey(dir.path() + "/export-signing.pub"), made->public_key);
  auto again = LoadOrCreateSigningKey(path, /*create=*/true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key, made->public_key);  // the same key, not a new one
  auto named = LoadOrCreateSigningKey(dir.path() + "/typo.key", /*create=*/false);
  EXPECT_EQ(named.status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir.path() + "/typo.key"));
}

// An operator's key where nothing may be written (a Kubernetes Secret volume; here a file reached
// through /proc/self/fd, where not even root can create a file beside it): provd starts and signs
// with it, without the .pub file.
TEST(SigningKeyTest, AnOperatorsKeyInAReadOnlyPlaceStillSigns) {
  TempDir dir;
  auto made = LoadOrCreateSigningKey(dir.path() + "/export-signing.key", /*create=*/true);
  ASSERT_TRUE(made.ok()) << made.status();
  const int fd = ::open((dir.path() + "/export-signing.key").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const std::string read_only = absl::StrCat("/proc/self/fd/", fd);
  ASSERT_FALSE(integrity::SavePublicKey(read_only + ".pub", made->public_key).ok());
  auto named = LoadOrCreateSigningKey(read_only, /*create=*/false);
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->public_key, made->public_key);
  EXPECT_FALSE(fs::exists(read_only + ".pub"));
  ::close(fd);
}

}  // namespace
}  // namespace prov::server::testing
