#include "server/ingest/report_queue.h"

#include "gtest/gtest.h"

namespace prov::server {
namespace {

IngestItem Item(uint64_t seq) {
  IngestItem item;
  item.report.set_seq(seq);
  return item;
}

TEST(ReportQueueTest, ParksWhenFullAndMovesParkedItemsInOrder) {
  ReportQueue queue(2);
  EXPECT_TRUE(queue.PushOrPark(Item(1)));
  EXPECT_TRUE(queue.PushOrPark(Item(2)));
  EXPECT_FALSE(queue.PushOrPark(Item(3))) << "full: parked";
  EXPECT_FALSE(queue.PushOrPark(Item(4)));
  EXPECT_EQ(queue.depth(), 2u);
  EXPECT_EQ(queue.parked(), 2u);

  std::vector<std::shared_ptr<ReportStream>> resumed;
  auto batch = queue.PopBatch(1, absl::ZeroDuration(), &resumed);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].report.seq(), 1u);
  EXPECT_EQ(queue.depth(), 2u) << "the oldest parked item moved into the freed slot";
  EXPECT_EQ(queue.parked(), 1u);
  EXPECT_TRUE(resumed.empty()) << "items without a stream resume nobody";

  batch = queue.PopBatch(10, absl::ZeroDuration(), &resumed);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].report.seq(), 2u);
  EXPECT_EQ(batch[1].report.seq(), 3u);
  EXPECT_EQ(queue.parked(), 0u);
  batch = queue.PopBatch(10, absl::ZeroDuration(), &resumed);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].report.seq(), 4u);
}

TEST(ReportQueueTest, NewItemsQueueBehindParkedOnes) {
  ReportQueue queue(1);
  EXPECT_TRUE(queue.PushOrPark(Item(1)));
  EXPECT_FALSE(queue.PushOrPark(Item(2)));
  auto batch = queue.PopBatch(1, absl::ZeroDuration(), nullptr);
  ASSERT_EQ(batch.size(), 1u);
  // 2 moved in; 3 must not overtake anything.
  EXPECT_FALSE(queue.PushOrPark(Item(3)));
  EXPECT_EQ(queue.PopBatch(1, absl::ZeroDuration(), nullptr)[0].report.seq(), 2u);
  EXPECT_EQ(queue.PopBatch(1, absl::ZeroDuration(), nullptr)[0].report.seq(), 3u);
}

TEST(ReportQueueTest, CloseDrainsThenReturnsEmpty) {
  ReportQueue queue(8);
  queue.PushOrPark(Item(1));
  queue.Close();
  auto batch = queue.PopBatch(8, absl::Seconds(60), nullptr);  // closed: no waiting
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_TRUE(queue.PopBatch(8, absl::Seconds(60), nullptr).empty());
}

TEST(ReportQueueTest, PopBatchWakesForAnItemFromAnotherThread) {
  ReportQueue queue(8);
  std::thread producer([&] { queue.PushOrPark(Item(7)); });
  auto batch = queue.PopBatch(8, absl::ZeroDuration(), nullptr);
  producer.join();
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].report.seq(), 7u);
}

}  // namespace
}  // namespace prov::server
