#include "common/fs.h"

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace prov {
namespace {

std::string TempDir() {
  std::string tmpl = ::testing::TempDir() + "/fs_test_XXXXXX";
  char* d = ::mkdtemp(tmpl.data());
  EXPECT_NE(d, nullptr);
  return tmpl;
}

TEST(FsTest, WriteReadAndList) {
  std::string dir = TempDir();
  ASSERT_TRUE(CreateDirectories(JoinPath(dir, "a/b")).ok());
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "a/b/f.txt"), "hello", /*sync=*/true).ok());
  auto text = ReadFileToString(JoinPath(dir, "a/b/f.txt"));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "hello");
  auto names = ListDirectory(JoinPath(dir, "a/b"));
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"f.txt"});
}

TEST(FsTest, MissingFileIsNotFound) {
  auto text = ReadFileToString("/nonexistent/definitely/not");
  EXPECT_TRUE(absl::IsNotFound(text.status()));
  EXPECT_FALSE(PathExists("/nonexistent/definitely/not"));
}

// A file over the limit is refused with an error naming it, never cut short (issue 9: a large
// prov-sim scenario failed later with "Closing quote expected").
TEST(FsTest, AFileOverTheLimitIsRefusedNotCut) {
  std::string dir = TempDir();
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "big"), std::string(100, 'x')).ok());
  auto text = ReadFileToString(JoinPath(dir, "big"), 10);
  ASSERT_FALSE(text.ok());
  EXPECT_TRUE(absl::IsOutOfRange(text.status())) << text.status();
  EXPECT_NE(text.status().message().find(JoinPath(dir, "big")), absl::string_view::npos);
  EXPECT_NE(text.status().message().find("10-byte limit"), absl::string_view::npos);
  auto exact = ReadFileToString(JoinPath(dir, "big"), 100);  // exactly the limit: whole
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(exact->size(), 100u);
}

TEST(FsTest, AFileOverTheDefaultLimitIsRefused) {
  std::string dir = TempDir();
  ASSERT_TRUE(
      WriteFileAtomically(JoinPath(dir, "huge.json"), std::string((16u << 20) + 1, ' ')).ok());
  EXPECT_TRUE(absl::IsOutOfRange(ReadFileToString(JoinPath(dir, "huge.json")).status()));
}

TEST(FsTest, ReadFilePrefixTakesTheFirstBytes) {
  std::string dir = TempDir();
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir, "big"), std::string(100, 'x')).ok());
  auto text = ReadFilePrefix(JoinPath(dir, "big"), 10);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->size(), 10u);
}

// The stamp the TLS reloaders compare: an atomic rewrite (rename) is a change even at the same
// size and within the same clock tick; an unchanged file keeps its stamp; a missing one has none.
TEST(FsTest, StampFileTellsARewriteFromNoChange) {
  std::string dir = TempDir();
  const std::string path = dir + "/cert.pem";
  EXPECT_EQ(StampFile(path).size, -1);
  ASSERT_TRUE(WriteFileAtomically(path, "aaaa").ok());
  const FileStamp first = StampFile(path);
  EXPECT_EQ(first.size, 4);
  EXPECT_EQ(StampFile(path), first);
  ASSERT_TRUE(WriteFileAtomically(path, "bbbb").ok());
  EXPECT_NE(StampFile(path), first) << "a new inode";
}

TEST(FsTest, JoinPath) {
  EXPECT_EQ(JoinPath("/a/", "/b"), "/a/b");
  EXPECT_EQ(JoinPath("/a", "b"), "/a/b");
  EXPECT_EQ(JoinPath("", "b"), "b");
}

}  // namespace
}  // namespace prov
