#include "common/utf8.h"

#include <string>

#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "provenance/v1/report.pb.h"

namespace prov {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8Test, ValidInputIsKeptAsIs) {
  for (const std::string& s :
       {std::string(""), std::string("10.20.0.7"), std::string("Zürich"),
        std::string("\xE2\x82\xAC"), std::string("\xF0\x9F\x98\x80"), std::string("a\0b", 3)}) {
    EXPECT_TRUE(IsValidUtf8(s)) << s;
    Utf8Result r = MakeValidUtf8(s);
    EXPECT_EQ(r.value, s);
    EXPECT_FALSE(r.changed());
  }
}

TEST(Utf8Test, TheIssueValueBecomesValid) {
  Utf8Result r = MakeValidUtf8("10.20.0.\xff\xfe");
  EXPECT_EQ(r.value, "10.20.0." + kFffd + kFffd);
  EXPECT_TRUE(r.replaced);
  EXPECT_FALSE(r.truncated);
  EXPECT_TRUE(IsValidUtf8(r.value));
}

TEST(Utf8Test, IllFormedSequencesBecomeOneReplacementPerMaximalSubpart) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"\xC0\xAF", kFffd + kFffd},                          // overlong '/': C0 is never valid
      {"\xE0\x80\xAF", kFffd + kFffd + kFffd},              // overlong three-byte form
      {"\xED\xA0\x80", kFffd + kFffd + kFffd},              // UTF-16 surrogate D800
      {"\xF4\x90\x80\x80", kFffd + kFffd + kFffd + kFffd},  // above U+10FFFF
      {"\xE2\x82", kFffd},  // truncated euro sign: one maximal subpart
      {"a\xE2\x82"
       "b",
       "a" + kFffd + "b"},
      {"\x80\x80", kFffd + kFffd},  // stray continuation bytes
      {"\xF0\x9F\x98", kFffd},      // emoji missing its last byte
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(IsValidUtf8(c.in));
    Utf8Result r = MakeValidUtf8(c.in);
    EXPECT_EQ(r.value, c.out) << "input of " << c.in.size() << " bytes";
    EXPECT_TRUE(r.replaced);
    EXPECT_TRUE(IsValidUtf8(r.value));
  }
}

TEST(Utf8Test, TruncatesAtACodePointBoundary) {
  Utf8Result r = MakeValidUtf8("ab\xE2\x82\xAC", 4);  // the euro sign would be cut in half
  EXPECT_EQ(r.value, "ab");
  EXPECT_TRUE(r.truncated);
  EXPECT_FALSE(r.replaced);
  r = MakeValidUtf8("abc", 3);
  EXPECT_FALSE(r.changed());
  r = MakeValidUtf8(std::string(1 << 20, 'x'), 255);
  EXPECT_EQ(r.value.size(), 255u);
  EXPECT_TRUE(r.truncated);
  r = MakeValidUtf8("\xff\xff\xff", 4);  // 9 bytes after repair: one U+FFFD fits
  EXPECT_EQ(r.value, kFffd);
  EXPECT_TRUE(r.replaced && r.truncated);
}

// protobuf's own UTF-8 check (what makes a report parse or not) agrees with IsValidUtf8, and
// accepts every repaired value.
bool ProtobufAccepts(const std::string& s) {
  provenance::v1::NodeIdentity n;
  n.set_hostname(s);
  provenance::v1::NodeIdentity back;
  return back.ParseFromString(n.SerializeAsString());
}

TEST(Utf8Test, AgreesWithProtobufOnEveryTwoAndThreeByteString) {
  google::protobuf::LogSilencer quiet;  // protobuf logs each invalid string it meets
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      for (int c : {-1, 0x00, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF}) {
        std::string s{static_cast<char>(a), static_cast<char>(b)};
        if (c >= 0) s += static_cast<char>(c);
        ASSERT_EQ(IsValidUtf8(s), ProtobufAccepts(s)) << a << " " << b << " " << c;
        ASSERT_TRUE(ProtobufAccepts(MakeValidUtf8(s).value)) << a << " " << b << " " << c;
      }
    }
  }
}

TEST(Utf8Test, EveryByteStringRepairsToValidUtf8) {
  // Exhaustive over all two-byte strings and a sweep of three-byte prefixes.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      std::string s{static_cast<char>(a), static_cast<char>(b)};
      Utf8Result r = MakeValidUtf8(s, 3);
      ASSERT_TRUE(IsValidUtf8(r.value)) << a << " " << b;
      ASSERT_LE(r.value.size(), 3u);
      for (int c : {0x00, 0x80, 0xBF, 0xC0, 0xFF}) {
        std::string t = s + static_cast<char>(c);
        ASSERT_TRUE(IsValidUtf8(MakeValidUtf8(t).value)) << a << " " << b << " " << c;
      }
    }
  }
}

TEST(Utf8CheckTest, AcceptsValidText) {
  EXPECT_TRUE(CheckUtf8("").ok());
  EXPECT_TRUE(CheckUtf8("plain ascii\nline two").ok());
  EXPECT_TRUE(CheckUtf8("Soci\xc3\xa9t\xc3\xa9 \xe5\x8d\x8e\xe4\xb8\xba \xf0\x9f\x98\x80").ok());
}

TEST(Utf8CheckTest, NamesLineColumnAndByte) {
  absl::Status s = CheckUtf8("a,b\nSoci\xe9t\xe9");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "line 2, column 5: byte 0xE9 is not valid UTF-8");
  // Columns count characters, not bytes.
  s = CheckUtf8("\xc3\xa9\xc3\xa9\xff");
  EXPECT_EQ(s.message(), "line 1, column 3: byte 0xFF is not valid UTF-8");
}

TEST(Utf8CheckTest, RejectsWhatProtobufRejects) {
  EXPECT_FALSE(CheckUtf8("\xc0\xaf").ok());          // overlong '/'
  EXPECT_FALSE(CheckUtf8("\xed\xa0\x80").ok());      // surrogate U+D800
  EXPECT_FALSE(CheckUtf8("\xf4\x90\x80\x80").ok());  // above U+10FFFF
  EXPECT_FALSE(CheckUtf8("ab\xe2\x82").ok());        // cut short
  EXPECT_FALSE(CheckUtf8("\x80").ok());              // lone continuation byte
  EXPECT_EQ(ValidUtf8Prefix("ok\x80"), 2u);
}

}  // namespace
}  // namespace prov
