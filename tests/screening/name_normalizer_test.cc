#include "server/screening/name_normalizer.h"

#include "gtest/gtest.h"

namespace prov::screening {
namespace {

using Tokens = std::vector<std::string>;

TEST(NameNormalizerTest, CasePunctuationAndLegalForms) {
  NameNormalizer n;
  NormalizedName name = n.Normalize("Huawei Technologies Co., Ltd.");
  EXPECT_EQ(name.tokens, (Tokens{"huawei", "technologies"}));
  EXPECT_EQ(name.dropped_legal_forms, (Tokens{"co", "ltd"}));
  EXPECT_EQ(n.Normalize("HUAWEI TECHNOLOGIES LIMITED").tokens, (Tokens{"huawei", "technologies"}));
}

// Issue 9 (b_layered_resellers-002 missed): "l.l.c." was three unpaired initials, not a legal form.
TEST(NameNormalizerTest, DottedLegalFormsAreLegalForms) {
  NameNormalizer n;
  NormalizedName name = n.Normalize("54th research institute china, l.l.c.");
  EXPECT_EQ(name.tokens, (Tokens{"54th", "research", "institute", "china"}));
  EXPECT_EQ(name.dropped_legal_forms, (Tokens{"llc"}));
  EXPECT_EQ(n.Normalize("Aceros del Norte S. A.").tokens, (Tokens{"aceros", "del", "norte"}));
  EXPECT_EQ(n.Normalize("Werkzeug G.m.b.H., Berlin").tokens, (Tokens{"werkzeug", "berlin"}));
  // Dotted letters that are not the end of a segment stay initials ("A. G." is not a company's
  // "AG" here), and neither do dotted letters that spell no legal form.
  EXPECT_EQ(n.Normalize("A. G. Smith").tokens, (Tokens{"a", "g", "smith"}));
  EXPECT_EQ(n.Normalize("Smith, J. R.").tokens, (Tokens{"smith", "j", "r"}));
}

TEST(NameNormalizerTest, MisTranscodedApostropheVanishes) {
  NameNormalizer n;
  // U+0092 as UTF-8 (C2 92), as in the real CSL's "Gui'an New District Huawei Investment".
  EXPECT_EQ(n.Normalize("Gui\xC2\x92"
                        "an New District")
                .tokens,
            (Tokens{"guian", "new", "district"}));
  EXPECT_EQ(n.Normalize("Gui'an New District").tokens, (Tokens{"guian", "new", "district"}));
}

TEST(NameNormalizerTest, DiacriticsAndScriptsBecomeAscii) {
  NameNormalizer n;
  EXPECT_EQ(n.Normalize("Société Générale").tokens, (Tokens{"societe", "generale"}));
  EXPECT_EQ(n.Normalize("ООО Ромашка").tokens, (Tokens{"romaska"}));  // Cyrillic, legal form ООО
  EXPECT_EQ(n.Normalize("华为").tokens, (Tokens{"hua", "wei"}));      // Han to pinyin
}

TEST(NameNormalizerTest, ListBoilerplateDropped) {
  NameNormalizer n;
  EXPECT_EQ(n.Normalize("Sinobright Import and Export Company; and any successor, sub-unit, or "
                        "subsidiary thereof")
                .tokens,
            (Tokens{"sinobright", "import", "export"}));
}

TEST(NameNormalizerTest, OnlyLegalFormsKeepsWords) {
  NameNormalizer n;
  EXPECT_EQ(n.Normalize("Holding Company Ltd").tokens, (Tokens{"holding", "company", "ltd"}));
}

}  // namespace
}  // namespace prov::screening
