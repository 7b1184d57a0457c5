#include "common/utf8.h"

#include "gtest/gtest.h"

namespace prov {
namespace {

TEST(Utf8Test, AcceptsValidText) {
  EXPECT_TRUE(CheckUtf8("").ok());
  EXPECT_TRUE(CheckUtf8("plain ascii\nline two").ok());
  EXPECT_TRUE(CheckUtf8("Soci\xc3\xa9t\xc3\xa9 \xe5\x8d\x8e\xe4\xb8\xba \xf0\x9f\x98\x80").ok());
}

TEST(Utf8Test, NamesLineColumnAndByte) {
  absl::Status s = CheckUtf8("a,b\nSoci\xe9t\xe9");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "line 2, column 5: byte 0xE9 is not valid UTF-8");
  // Columns count characters, not bytes.
  s = CheckUtf8("\xc3\xa9\xc3\xa9\xff");
  EXPECT_EQ(s.message(), "line 1, column 3: byte 0xFF is not valid UTF-8");
}

TEST(Utf8Test, RejectsWhatProtobufRejects) {
  EXPECT_FALSE(CheckUtf8("\xc0\xaf").ok());          // overlong '/'
  EXPECT_FALSE(CheckUtf8("\xed\xa0\x80").ok());      // surrogate U+D800
  EXPECT_FALSE(CheckUtf8("\xf4\x90\x80\x80").ok());  // above U+10FFFF
  EXPECT_FALSE(CheckUtf8("ab\xe2\x82").ok());        // cut short
  EXPECT_FALSE(CheckUtf8("\x80").ok());              // lone continuation byte
  EXPECT_EQ(ValidUtf8Prefix("ok\x80"), 2u);
}

}  // namespace
}  // namespace prov
