#include "common/accelerator_catalog.h"

#include "gtest/gtest.h"

namespace prov {
namespace {

TEST(AcceleratorCatalogTest, BuiltinResolvesExactModels) {
  const auto& c = AcceleratorCatalog::Builtin();
  auto h100 = c.Lookup(0x10de, 0x2330);
  ASSERT_TRUE(h100.has_value());
  EXPECT_TRUE(h100->exact);
  EXPECT_EQ(h100->entry->model, "H100 SXM5 80GB");
  EXPECT_DOUBLE_EQ(h100->entry->peak_flops, 989e12);
  auto mi300 = c.Lookup(0x1002, 0x74a1);
  ASSERT_TRUE(mi300.has_value());
  EXPECT_EQ(mi300->entry->vendor, "amd");
}

TEST(AcceleratorCatalogTest, UnknownHuaweiDeviceIsAscendFamily) {
  auto m = AcceleratorCatalog::Builtin().Lookup(0x19e5, 0xd803);
  ASSERT_TRUE(m.has_value());
  EXPECT_FALSE(m->exact);
  EXPECT_EQ(m->entry->family, "ascend");
  EXPECT_EQ(m->entry->vendor, "huawei");
}

TEST(AcceleratorCatalogTest, UnknownVendorHasNoMatch) {
  EXPECT_FALSE(AcceleratorCatalog::Builtin().Lookup(0x8086, 0x1234).has_value());
  EXPECT_EQ(AcceleratorCatalog::Builtin().VendorName(0x8086), "unknown");
  EXPECT_EQ(AcceleratorCatalog::Builtin().VendorName(0x1da3), "habana");
}

TEST(AcceleratorCatalogTest, SwitchesAreMarked) {
  auto m = AcceleratorCatalog::Builtin().Lookup(0x10de, 0x22a3);
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->entry->is_switch);
}

TEST(AcceleratorCatalogTest, ParseErrorsNameLineAndColumn) {
  std::string tsv =
      "vendor_id\tdevice_id\tvendor\tmodel\tfamily\tkind\tpeak_tflops\tmemory_gib\n"
      "0x10de\t0x2330\tnvidia\tH100\thopper\taccelerator\tfast\t80\n";
  auto parsed = AcceleratorCatalog::Parse(tsv, "test.tsv");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(), "test.tsv:2: column peak_tflops: not a non-negative number");
}

TEST(AcceleratorCatalogTest, DuplicateRowsRejected) {
  std::string tsv =
      "vendor_id\tdevice_id\tvendor\tmodel\tfamily\tkind\tpeak_tflops\tmemory_gib\n"
      "0x10de\t0x2330\tnvidia\tH100\thopper\taccelerator\t989\t80\n"
      "0x10de\t0x2330\tnvidia\tH100\thopper\taccelerator\t989\t80\n";
  auto parsed = AcceleratorCatalog::Parse(tsv, "t");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("t:3"), std::string::npos);
}

}  // namespace
}  // namespace prov
