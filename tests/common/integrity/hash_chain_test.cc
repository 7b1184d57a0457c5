#include "common/integrity/hash_chain.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace prov::integrity {
namespace {

using Kind = ChainProblem::Kind;

std::vector<ChainEntry> Chain(int n) {
  std::vector<ChainEntry> entries;
  absl::Time t = absl::FromUnixSeconds(1'764'000'000);
  for (int i = 0; i < n; ++i) {
    entries.push_back(MakeNextEntry(entries.empty() ? nullptr : &entries.back(),
                                    i % 2 ? "alice" : "bob", "case.update",
                                    absl::StrCat("{\"flag\":", i, "}"), t + absl::Seconds(i)));
  }
  return entries;
}

TEST(HashChainTest, IntactChainVerifies) {
  auto chain = Chain(5);
  EXPECT_EQ(chain[0].prev_hash, kGenesisHash);
  EXPECT_EQ(chain[4].seq, 5u);
  EXPECT_TRUE(VerifyChain(chain).empty());
  EXPECT_TRUE(VerifyChain(chain, ChainAnchor{5, chain[4].hash}).empty());
}

TEST(HashChainTest, EditedEntryFound) {
  auto chain = Chain(5);
  chain[2].actor = "mallory";
  auto problems = VerifyChain(chain);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].kind, Kind::kEdited);
  EXPECT_EQ(problems[0].seq, 3u);
  EXPECT_EQ(problems[0].message,
            "entry 3 (case.update by mallory): its content does not match its hash: edited");
}

TEST(HashChainTest, EditWithRecomputedHashBreaksNextLink) {
  auto chain = Chain(5);
  chain[2].payload = "{\"flag\":999}";
  chain[2].hash = EntryHash(chain[2]);
  auto problems = VerifyChain(chain);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].kind, Kind::kBrokenLink);
  EXPECT_EQ(problems[0].seq, 4u);
}

TEST(HashChainTest, RemovedEntryFound) {
  auto chain = Chain(5);
  chain.erase(chain.begin() + 1);
  auto problems = VerifyChain(chain);
  ASSERT_FALSE(problems.empty());
  EXPECT_EQ(problems[0].kind, Kind::kRemoved);
  EXPECT_EQ(problems[0].message, "entry 2 is missing: removed");
}

TEST(HashChainTest, ReorderedEntriesFound) {
  auto chain = Chain(5);
  std::swap(chain[1], chain[2]);
  auto problems = VerifyChain(chain);
  bool reordered = false;
  for (const auto& p : problems) reordered |= p.kind == Kind::kReordered;
  EXPECT_TRUE(reordered);
}

TEST(HashChainTest, TruncationOnlyVisibleAgainstAnchor) {
  auto chain = Chain(5);
  ChainAnchor anchor{5, chain[4].hash};
  chain.pop_back();
  EXPECT_TRUE(VerifyChain(chain).empty());
  auto problems = VerifyChain(chain, anchor);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].kind, Kind::kTruncated);
}

TEST(HashChainTest, FullRewriteCaughtByAnchor) {
  auto chain = Chain(3);
  ChainAnchor anchor{3, chain[2].hash};
  std::vector<ChainEntry> forged;
  for (const auto& e : chain) {
    forged.push_back(MakeNextEntry(forged.empty() ? nullptr : &forged.back(), "mallory", e.action,
                                   e.payload, absl::FromUnixMicros(e.time_unix_micros)));
  }
  EXPECT_TRUE(VerifyChain(forged).empty());
  auto problems = VerifyChain(forged, anchor);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].kind, Kind::kEdited);
}

}  // namespace
}  // namespace prov::integrity
