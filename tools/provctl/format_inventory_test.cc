// provctl's inventory commands: argument parsing and the text of import, list and show.
#include "tools/provctl/format_inventory.h"

#include "gtest/gtest.h"
#include "tools/provctl/cli.h"

namespace prov::provctl {
namespace {

TEST(FormatInventoryTest, CommandsParse) {
  auto imp = ParseArgs({"inventory", "import", "netbox.csv", "--format", "csv"});
  ASSERT_TRUE(imp.ok()) << imp.status();
  EXPECT_EQ(imp->command, "inventory import");
  EXPECT_EQ(imp->file, "netbox.csv");
  EXPECT_EQ(imp->format, "csv");
  auto list = ParseArgs({"inventory", "list", "--datacenter", "fra1", "--node", "n1"});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->datacenter, "fra1");
  EXPECT_EQ(list->node_id, "n1");
  auto show = ParseArgs({"inventory", "show", "SN-1"});
  ASSERT_TRUE(show.ok()) << show.status();
  EXPECT_EQ(show->name, "SN-1");
  EXPECT_FALSE(ParseArgs({"inventory", "show", "SN-1", "--datacenter", "x"}).ok());
}

TEST(FormatInventoryTest, ImportListAndShow) {
  provenance::v1::ImportInventoryResponse imported;
  imported.set_inventory_version(3);
  imported.set_accepted(5);
  imported.set_added(2);
  imported.set_changed(1);
  imported.set_unchanged(2);
  imported.add_errors("line 7: field status: ...");
  imported.set_content_digest("ab12");
  EXPECT_EQ(InventoryImported(imported, "inv.csv"),
            "inventory version 3 from inv.csv: 5 rows accepted (2 new, 1 changed, 2 unchanged), "
            "1 rows rejected\ncontent sha256: ab12\n");

  provenance::v1::ListInventoryResponse list;
  list.set_inventory_version(3);
  auto* e = list.add_entries();
  e->set_version(2);
  auto* d = e->mutable_declared();
  d->set_serial("SN-1");
  d->set_vendor_id(0x10de);
  d->set_device_id(0x2330);
  d->set_datacenter("fra1");
  d->set_status(provenance::v1::INVENTORY_STATUS_SPARE);
  std::string table = InventoryTable(list);
  EXPECT_EQ(table.rfind("1 declared accelerators (inventory version 3)\nSERIAL", 0), 0u) << table;
  EXPECT_NE(table.find("0x10de:0x2330"), std::string::npos) << table;
  EXPECT_NE(table.find("spare"), std::string::npos) << table;

  provenance::v1::GetInventoryResponse show;
  *show.mutable_current() = *e;
  show.set_inventory_version(3);
  EXPECT_NE(InventoryDetail(show).find("never observed"), std::string::npos);
  auto* o = show.mutable_last_observed();
  o->set_node_id("n2");
  o->set_matched_by("serial");
  o->mutable_accelerator()->set_model("Ascend 910B");
  o->mutable_accelerator()->set_model_known(true);
  o->mutable_accelerator()->set_reported_name("A100");
  o->mutable_accelerator()->set_name_disagrees(true);
  show.add_differences("node_id: declared n1, observed on n2");
  std::string detail = InventoryDetail(show);
  EXPECT_NE(detail.find("Ascend 910B"), std::string::npos) << detail;
  EXPECT_NE(detail.find("A100 (disagrees)"), std::string::npos) << detail;
  EXPECT_NE(detail.find("differences:\n  node_id: declared n1, observed on n2\n"),
            std::string::npos)
      << detail;
  EXPECT_NE(detail.find("matched by serial"), std::string::npos) << detail;
}

}  // namespace
}  // namespace prov::provctl
