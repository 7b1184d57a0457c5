#include "common/accelerator_naming.h"

#include "gtest/gtest.h"

namespace prov {
namespace {

TEST(AcceleratorNamingTest, DesignationIsTheFirstTokenWithADigit) {
  EXPECT_EQ(ModelDesignation("H100 SXM5 80GB"), "h100");
  EXPECT_EQ(ModelDesignation("Ascend 910B"), "910b");
  EXPECT_EQ(ModelDesignation("Instinct MI300X"), "mi300x");
  EXPECT_EQ(ModelDesignation("Gaudi"), "gaudi");
  EXPECT_EQ(ModelDesignation(""), "");
}

TEST(AcceleratorNamingTest, AgreementIgnoresVendorsSpellings) {
  EXPECT_FALSE(ReportedNameDisagrees("H100 SXM5 80GB", "NVIDIA H100 80GB HBM3"));
  EXPECT_FALSE(ReportedNameDisagrees("A100 SXM4 80GB", "NVIDIA A100-SXM4-80GB"));
  EXPECT_FALSE(ReportedNameDisagrees("Tesla V100 SXM2 16GB", "Tesla V100-SXM2-16GB"));
  EXPECT_FALSE(ReportedNameDisagrees("Ascend 910B", "Ascend910B"));
  EXPECT_FALSE(ReportedNameDisagrees("Instinct MI300X", "AMD Instinct MI300X"));
  EXPECT_FALSE(ReportedNameDisagrees("H100 SXM5 80GB", "")) << "nothing to judge";
  EXPECT_FALSE(ReportedNameDisagrees("", "A100")) << "the catalog names nothing";
}

TEST(AcceleratorNamingTest, RelabelsDisagree) {
  EXPECT_TRUE(ReportedNameDisagrees("Ascend 910B", "A100-SXM4-80GB"));
  EXPECT_TRUE(ReportedNameDisagrees("A10", "NVIDIA A100 80GB")) << "a token, not a substring";
  EXPECT_TRUE(ReportedNameDisagrees("H100 SXM5 80GB", "NVIDIA H20"));
  EXPECT_TRUE(ReportedNameDisagrees("Ascend (unidentified model)", "Tesla T4"));
}

TEST(AcceleratorNamingTest, NameFromCatalogKeepsTheAgentsStringAsReportedName) {
  const auto& catalog = AcceleratorCatalog::Builtin();
  provenance::v1::Accelerator a;
  a.set_vendor_id(0x19e5);
  a.set_device_id(0xd802);
  a.set_vendor("nvidia");
  a.set_model("A100");
  a.set_model_known(true);
  NameFromCatalog(catalog, &a);
  EXPECT_EQ(a.model(), "Ascend 910B");
  EXPECT_EQ(a.vendor(), "huawei");
  EXPECT_EQ(a.family(), "ascend");
  EXPECT_TRUE(a.model_known());
  EXPECT_EQ(a.reported_name(), "A100");
  EXPECT_TRUE(a.name_disagrees());
  EXPECT_EQ(a.fact_sources().at("model"), provenance::v1::FACT_SOURCE_CATALOG);

  // 910C/910D IDs are not public: any other Huawei accelerator is Ascend-family, model unknown.
  provenance::v1::Accelerator c;
  c.set_vendor_id(0x19e5);
  c.set_device_id(0xd803);
  c.set_model("H100");
  NameFromCatalog(catalog, &c);
  EXPECT_EQ(c.model(), "Ascend (unidentified model)");
  EXPECT_FALSE(c.model_known());
  EXPECT_EQ(c.family(), "ascend");
  EXPECT_TRUE(c.name_disagrees());

  // A vendor the catalog does not know: no name, nothing judged, the agent's string kept.
  provenance::v1::Accelerator u;
  u.set_vendor_id(0x1eee);
  u.set_device_id(0x0001);
  u.set_model("Mystery NPU");
  NameFromCatalog(catalog, &u);
  EXPECT_EQ(u.model(), "");
  EXPECT_FALSE(u.model_known());
  EXPECT_EQ(u.vendor(), "unknown");
  EXPECT_EQ(u.reported_name(), "Mystery NPU");
  EXPECT_FALSE(u.name_disagrees());
}

}  // namespace
}  // namespace prov
