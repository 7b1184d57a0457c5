#include "server/identity/import_slot.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "server/identity/transcode.h"

namespace prov::server {
namespace {

TEST(ImportSlotTest, OneHolderAtATime) {
  ImportSlot slot;
  ASSERT_TRUE(slot.Acquire({}));
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    got = slot.Acquire({});
    slot.Release();
  });
  // The waiter cannot get the slot until it is released; Release wakes it.
  while (slot.waiting() == 0) std::this_thread::yield();
  EXPECT_FALSE(got.load());
  slot.Release();
  waiter.join();
  EXPECT_TRUE(got.load());
}

// Issue 14: imports whose callers had gone queued up behind a long one and then ran for nobody.
TEST(ImportSlotTest, WaiterWhoseCallerIsGoneGivesUp) {
  ImportSlot slot(absl::Milliseconds(1));
  ASSERT_TRUE(slot.Acquire({}));
  std::atomic<bool> gone{false};
  std::atomic<int> polls{0};
  bool acquired = true;
  std::thread waiter([&] {
    acquired = slot.Acquire([&] {
      ++polls;
      return gone.load();
    });
  });
  while (polls.load() == 0) std::this_thread::yield();
  gone = true;  // the caller's deadline passed
  waiter.join();
  EXPECT_FALSE(acquired);
  EXPECT_EQ(slot.waiting(), 0);
  slot.Release();
  EXPECT_TRUE(slot.Acquire([] { return false; }));  // free again: the gone waiter took nothing
  slot.Release();
}

TEST(TranscodeTest, Windows1252ToUtf8) {
  auto out = TranscodeToUtf8("Soci\xe9t\xe9 G\xe9n\xe9rale \x80", "windows-1252");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale \xe2\x82\xac");
  EXPECT_EQ(*TranscodeToUtf8("caf\xe9", "latin1"), "caf\xc3\xa9");
  EXPECT_EQ(*TranscodeToUtf8("as is \xff", ""), "as is \xff");  // the parsers check UTF-8
}

TEST(TranscodeTest, UndefinedByteAndUnknownEncodingAreNamed) {
  auto bad = TranscodeToUtf8("a\nbc\xe9", "us-ascii");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "encoding us-ascii: line 2, column 3: byte 0xE9 is not a us-ascii character");
  auto unknown = TranscodeToUtf8("x", "no-such-encoding");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace prov::server
