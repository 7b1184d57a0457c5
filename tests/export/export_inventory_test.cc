// The declared inventory in a signed export (issue 10): the inventory versions and the rows
// current at the snapshot are files of the export, counted, covered by the signed manifest (a
// changed row fails verification), and the hardware_* discrepancy flags travel in flags.*.
#include <fstream>

#include "common/csv.h"
#include "common/integrity/export_check.h"
#include "nlohmann/json.hpp"
#include "server/export/exporter.h"
#include "server/store/inventory_store.h"
#include "tests/export/export_fixture.h"

namespace prov::server::testing {
namespace {

using nlohmann::json;
using provenance::v1::DeclaredAccelerator;

class ExportInventoryTest : public ExportFixture {
 protected:
  void Import(const std::vector<DeclaredAccelerator>& rows, const std::string& source,
              const std::string& digest) {
    auto txn = Transaction::Begin(*db_, Transaction::kWrite);
    ASSERT_TRUE(txn.ok()) << txn.status();
    auto summary = ImportInventoryRows(*db_, rows, source, "token:admin", digest, 0, clock_.Now());
    ASSERT_TRUE(summary.ok()) << summary.status();
    ASSERT_TRUE(txn->Commit().ok());
  }
  static DeclaredAccelerator Row(const std::string& serial, const std::string& node,
                                 const std::string& account) {
    DeclaredAccelerator d;
    d.set_serial(serial);
    d.set_uuid("GPU-" + serial);
    d.set_declared_model("H100 SXM5 80GB");
    d.set_vendor_id(0x10de);
    d.set_device_id(0x2330);
    d.set_node_id(node);
    d.set_datacenter("fra1");
    d.set_rack("r07");
    d.set_account(account);
    d.set_status(provenance::v1::INVENTORY_STATUS_IN_SERVICE);
    return d;
  }
  void AddHardwareFlag() {
    provenance::v1::Flag f;
    f.set_flag_id("F-000009");
    f.set_rule("hardware_moved");
    f.set_subject("accelerator:S2");
    f.set_severity(provenance::v1::SEVERITY_HIGH);
    f.set_status(provenance::v1::FLAG_STATUS_OPEN);
    f.set_summary("serial S2 declared on n-1 reported by n-2");
    f.add_nodes("n-1");
    f.add_nodes("n-2");
    f.add_datacenters("fra1");
    f.add_accelerators("n-2/0000:3b:00.0");
    f.add_evidence()->set_sentence("declared on n-1 (fra1/r07) by inventory version 2");
    Blob(absl::StrCat("INSERT INTO flags VALUES ('F-000009', 'hardware_moved', 'accelerator:S2', "
                      "3, 1, ",
                      NowUs(), ", ?1)"),
         f);
  }
};

std::vector<std::vector<std::string>> CsvRows(const std::string& path) {
  std::string text = ReadAll(path);
  CsvReader reader(text);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> fields;
  while (reader.Next(&fields).value_or(false)) rows.push_back(fields);
  return rows;
}

TEST_F(ExportInventoryTest, VersionsAndCurrentRowsAreSignedFilesOfTheExport) {
  Seed();
  Import({Row("S1", "n-1", "acme"), Row("S2", "n-1", "")}, "netbox-1.csv", "sha256:11");
  clock_.Advance(absl::Hours(1));
  // Version 2 moves S2 to n-2 and adds S3; S1 keeps its row of version 1.
  Import({Row("S2", "n-2", ""), Row("S3", "n-2", "zeta")}, "netbox-2.jsonl", "sha256:22");
  AddHardwareFlag();

  ExportResult r = Export();
  const std::string dir = r.summary.server_path();
  const auto& md = r.manifest.metadata;
  EXPECT_EQ(md.at("inventory_version"), "2");
  EXPECT_EQ(md.at("rows.inventory_imports"), "2");
  EXPECT_EQ(md.at("rows.inventory"), "3");

  auto imports = CsvRows(dir + "/inventory_imports.csv");
  ASSERT_EQ(imports.size(), 3u);
  EXPECT_EQ(imports[0], (std::vector<std::string>{"version", "imported_at", "source", "actor",
                                                  "content_digest", "rows", "errors"}));
  EXPECT_EQ(imports[2][0], "2");
  EXPECT_EQ(imports[2][2], "netbox-2.jsonl");
  EXPECT_EQ(imports[2][4], "sha256:22");
  EXPECT_EQ(imports[2][5], "2");

  auto rows = CsvRows(dir + "/inventory.csv");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1][0], "S1");
  EXPECT_EQ(rows[1][3], "0x10de");
  EXPECT_EQ(rows[1][8], "acme");
  EXPECT_EQ(rows[1][9], "INVENTORY_STATUS_IN_SERVICE");
  EXPECT_EQ(rows[1][10], "1");  // the version that set it
  EXPECT_EQ(rows[2][0], "S2");
  EXPECT_EQ(rows[2][5], "n-2");  // as current at the export, not as first declared
  EXPECT_EQ(rows[2][10], "2");
  std::ifstream jsonl(dir + "/inventory.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(jsonl, line));
  json first = json::parse(line);
  EXPECT_EQ(first["declared"]["serial"], "S1");
  EXPECT_EQ(first["version"], 1);

  // The discrepancy flag travels with the other flags, with its subject, nodes and evidence.
  bool found = false;
  std::ifstream flags(dir + "/flags.jsonl");
  while (std::getline(flags, line)) {
    json f = json::parse(line);
    if (f["rule"] != "hardware_moved") continue;
    found = true;
    EXPECT_EQ(f["subject"], "accelerator:S2");
    EXPECT_EQ(f["nodes"], json::array({"n-1", "n-2"}));
    EXPECT_EQ(f["accelerators"][0], "n-2/0000:3b:00.0");
    EXPECT_EQ(f["evidence"].size(), 1u);
  }
  EXPECT_TRUE(found);

  integrity::ExportVerification v = integrity::VerifyExport(dir, key_.public_key);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0]);

  // Editing a declared row after the fact (S1 "rented to" another account) breaks verification.
  std::string text = ReadAll(dir + "/inventory.csv");
  const size_t at = text.find("acme");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 4, "emca");
  std::ofstream(dir + "/inventory.csv", std::ios::binary | std::ios::trunc) << text;
  v = integrity::VerifyExport(dir, key_.public_key);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.problems[0].find("inventory.csv"), std::string::npos) << v.problems[0];
}

TEST_F(ExportInventoryTest, NoInventoryYetGivesEmptyFilesAndVersionZero) {
  Seed();
  ExportResult r = Export();
  EXPECT_EQ(r.manifest.metadata.at("inventory_version"), "0");
  EXPECT_EQ(r.manifest.metadata.at("rows.inventory"), "0");
  EXPECT_EQ(CsvRows(r.summary.server_path() + "/inventory.csv").size(), 1u);  // the header
  EXPECT_TRUE(integrity::VerifyExport(r.summary.server_path(), key_.public_key).ok());
}

}  // namespace
}  // namespace prov::server::testing
