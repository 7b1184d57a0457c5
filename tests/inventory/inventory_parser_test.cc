// The declared-inventory import parser (server/inventory/inventory_parser.h): a good file in each
// format, every bad-field case named by line and field, and the whole-file refusals.
#include "server/inventory/inventory_parser.h"

#include "common/fs.h"
#include "gtest/gtest.h"

namespace prov::inventory {
namespace {

using provenance::v1::DeclaredAccelerator;

constexpr char kHeader[] =
    "serial,uuid,declared_model,vendor_id,device_id,node_id,datacenter,rack,account,status\n";

InventoryParseResult Parse(const std::string& text, InventoryFormat format = InventoryFormat::kCsv,
                           InventoryParseOptions options = {}) {
  auto r = ParseInventory(text, format, "inv.csv", options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : InventoryParseResult{};
}

// The one error of a one-bad-row file.
std::string OnlyError(const std::string& row) {
  InventoryParseResult r = Parse(std::string(kHeader) + row + "\n");
  EXPECT_EQ(r.rows.size(), 0u);
  EXPECT_EQ(r.errors.size(), 1u);
  return r.errors.empty() ? "" : r.errors[0].message;
}

TEST(InventoryParserTest, GoodCsv) {
  InventoryParseResult r = Parse(std::string(kHeader) +
                                 "1654923004511,GPU-8f1c,H100 SXM5 80GB,0x10de,0x2330,gpu-17,fra1,"
                                 "r12,acme,in_service\n"
                                 " SN-2 ,,\"Ascend 910B, 64GB\",6629,53250,gpu-18,fra1,r12,,spare\n"
                                 "SN-3,,,,,,,,,\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].message;
  ASSERT_EQ(r.rows.size(), 3u);
  const DeclaredAccelerator& a = r.rows[0];
  EXPECT_EQ(a.serial(), "1654923004511");
  EXPECT_EQ(a.uuid(), "GPU-8f1c");
  EXPECT_EQ(a.declared_model(), "H100 SXM5 80GB");
  EXPECT_EQ(a.vendor_id(), 0x10deu);
  EXPECT_EQ(a.device_id(), 0x2330u);
  EXPECT_EQ(a.node_id(), "gpu-17");
  EXPECT_EQ(a.datacenter(), "fra1");
  EXPECT_EQ(a.rack(), "r12");
  EXPECT_EQ(a.account(), "acme");
  EXPECT_EQ(a.status(), provenance::v1::INVENTORY_STATUS_IN_SERVICE);
  EXPECT_EQ(r.rows[1].serial(), "SN-2") << "trimmed";
  EXPECT_EQ(r.rows[1].declared_model(), "Ascend 910B, 64GB");
  EXPECT_EQ(r.rows[1].vendor_id(), 0x19e5u) << "decimal IDs";
  EXPECT_EQ(r.rows[1].device_id(), 0xd002u);
  EXPECT_EQ(r.rows[1].account(), "") << "not rented";
  EXPECT_EQ(r.rows[1].status(), provenance::v1::INVENTORY_STATUS_SPARE);
  EXPECT_EQ(r.rows[2].status(), provenance::v1::INVENTORY_STATUS_IN_SERVICE) << "empty: in service";
  EXPECT_EQ(r.content_digest.size(), 64u);
}

TEST(InventoryParserTest, HeaderInAnyOrderWithOnlySomeColumnsAndABom) {
  InventoryParseResult r =
      Parse("\xEF\xBB\xBFStatus, Serial ,RACK\nrma,SN-1,r1\n\nretired,SN-2,r2\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].message;
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].status(), provenance::v1::INVENTORY_STATUS_RMA);
  EXPECT_EQ(r.rows[1].status(), provenance::v1::INVENTORY_STATUS_RETIRED);
  EXPECT_EQ(r.rows[1].rack(), "r2");
}

TEST(InventoryParserTest, EachBadFieldIsNamedByLineAndField) {
  EXPECT_EQ(OnlyError(",,,,,,,,,"), "line 2: field serial: must not be empty");
  EXPECT_EQ(OnlyError("SN,,,0xzz,,,,,,"),
            "line 2: field vendor_id: \"0xzz\" is not a PCI ID (hex like 0x10de, or decimal)");
  EXPECT_EQ(OnlyError("SN,,,0x10de,70000,,,,,"),
            "line 2: field device_id: \"70000\" exceeds 0xffff");
  EXPECT_EQ(OnlyError("SN,,,-1,,,,,,"),
            "line 2: field vendor_id: \"-1\" is not a PCI ID (hex like 0x10de, or decimal)");
  EXPECT_EQ(OnlyError("SN,,,,0x2330,,,,,"), "line 2: field device_id: given without vendor_id");
  EXPECT_EQ(OnlyError("SN,,,,,,,,,broken"),
            "line 2: field status: \"broken\" is not one of in_service, spare, rma, retired");
  EXPECT_EQ(OnlyError("SN,,," + std::string(300, 'm') + ",,,,,,"),
            "line 2: field vendor_id: 300 bytes; the limit is 256 bytes");
  EXPECT_EQ(OnlyError("SN,,,,,,fra1"), "line 2: expected 10 fields, got 7");
}

TEST(InventoryParserTest, BadRowsNeverDropGoodOnesAndDuplicatesAreErrors) {
  InventoryParseResult r = Parse(std::string(kHeader) +
                                 "SN-1,,,,,,,,,\n"
                                 "SN-2,,,,,,,,,nope\n"
                                 "SN-1,,,,,,,,,spare\n"
                                 "SN-3,,,,,,,,,\n");
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[1].serial(), "SN-3");
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].line, 3);
  EXPECT_EQ(r.errors[1].message, "line 4: field serial: \"SN-1\" already given on line 2");
}

TEST(InventoryParserTest, JsonLines) {
  InventoryParseResult r = Parse(
      "{\"serial\": \"SN-1\", \"vendor_id\": \"0x10de\", \"device_id\": 9008, \"status\": "
      "\"rma\"}\n"
      "\n"
      "{\"serial\": \"SN-2\", \"account\": null}\n"
      "[1, 2]\n"
      "{\"serial\": \"SN-3\", \"colour\": \"red\"}\n"
      "{\"serial\": \"SN-4\", \"rack\": 12}\n"
      "{\"serial\": \"SN-5\",\n",
      InventoryFormat::kJsonLines);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].vendor_id(), 0x10deu);
  EXPECT_EQ(r.rows[0].device_id(), 9008u);
  EXPECT_EQ(r.rows[0].status(), provenance::v1::INVENTORY_STATUS_RMA);
  EXPECT_EQ(r.rows[1].serial(), "SN-2");
  ASSERT_EQ(r.errors.size(), 4u);
  EXPECT_EQ(r.errors[0].message, "line 4: not a JSON object");
  EXPECT_EQ(r.errors[1].message.rfind("line 5: field \"colour\": unknown (known: serial,", 0), 0u)
      << r.errors[1].message;
  EXPECT_EQ(r.errors[2].message, "line 6: field rack: must be a string");
  EXPECT_EQ(r.errors[3].message, "line 7: not a JSON object");
}

TEST(InventoryParserTest, WholeFileRefusals) {
  auto not_utf8 = ParseInventory(std::string(kHeader) + "SN-1,,,,,,Z\xfcrich,,,\n",
                                 InventoryFormat::kCsv, "inv.csv");
  ASSERT_FALSE(not_utf8.ok());
  EXPECT_NE(not_utf8.status().message().find("line 2"), absl::string_view::npos)
      << not_utf8.status();
  EXPECT_NE(not_utf8.status().message().find("nothing in this file was imported"),
            absl::string_view::npos);

  auto quote = ParseInventory(std::string(kHeader) + "SN-1,\"open,,,,,,,,\n", InventoryFormat::kCsv,
                              "inv.csv");
  ASSERT_FALSE(quote.ok());
  EXPECT_NE(quote.status().message().find("nothing in this file was imported"),
            absl::string_view::npos)
      << quote.status();

  auto unknown = ParseInventory("serial,colour\nSN,red\n", InventoryFormat::kCsv, "inv.csv");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message().rfind("inv.csv: line 1: unknown column \"colour\"", 0), 0u)
      << unknown.status();
  auto no_serial = ParseInventory("uuid,rack\nu,r\n", InventoryFormat::kCsv, "inv.csv");
  ASSERT_FALSE(no_serial.ok());
  EXPECT_EQ(no_serial.status().message(),
            "inv.csv: line 1: header lacks the required column serial");
  auto twice = ParseInventory("serial,Serial\na,b\n", InventoryFormat::kCsv, "inv.csv");
  EXPECT_FALSE(twice.ok());
  auto empty = ParseInventory("", InventoryFormat::kCsv, "inv.csv");
  EXPECT_FALSE(empty.ok());
  auto many =
      ParseInventory("serial\na\nb\nc\n", InventoryFormat::kCsv, "inv.csv", {.max_rows = 2});
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.status().message().find("more than 2 rows"), absl::string_view::npos);
}

TEST(InventoryParserTest, FormatsIdsAndStatuses) {
  EXPECT_EQ(*InventoryFormatFrom("", "netbox.CSV"), InventoryFormat::kCsv);
  EXPECT_EQ(*InventoryFormatFrom("", "x.ndjson"), InventoryFormat::kJsonLines);
  EXPECT_EQ(*InventoryFormatFrom("jsonl", "x.csv"), InventoryFormat::kJsonLines);
  EXPECT_FALSE(InventoryFormatFrom("", "x.xlsx").ok());
  EXPECT_FALSE(InventoryFormatFrom("json", "x.json").ok());
  EXPECT_EQ(*ParsePciId("0x10DE"), 0x10deu);
  EXPECT_EQ(*ParsePciId("4318"), 4318u);
  EXPECT_FALSE(ParsePciId("0x10000").ok());
  EXPECT_FALSE(ParsePciId("10de").ok()) << "hex needs its 0x";
  EXPECT_FALSE(ParsePciId("").ok());
  EXPECT_EQ(InventoryStatusName(*ParseInventoryStatus("RMA")), "rma");
}

// The shipped examples (deploy/inventory/) parse without an error; tests run in the source tree.
TEST(InventoryParserTest, ShippedExamplesParse) {
  for (const char* path : {"deploy/inventory/example.csv", "deploy/inventory/example.jsonl"}) {
    auto text = ReadFileToString(path);
    ASSERT_TRUE(text.ok()) << text.status();
    auto format = InventoryFormatFrom("", path);
    ASSERT_TRUE(format.ok());
    InventoryParseResult r = Parse(*text, *format);
    EXPECT_TRUE(r.errors.empty()) << path << ": " << r.errors[0].message;
    EXPECT_GE(r.rows.size(), 3u) << path;
  }
}

}  // namespace
}  // namespace prov::inventory
