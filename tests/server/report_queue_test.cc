#include "server/ingest/report_queue.h"

#include <string>
#include <thread>

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

  std::vector<std::shared_ptr<IngestStream>> resumed;
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

// What recycling relies on (report.proto marks singular message fields `optional`): Clear()
// empties a workload's sub-messages instead of deleting them, and the next parse into the
// cleared message reuses them, with presence read from the wire as before.
TEST(ReportQueueTest, ClearedReportsKeepTheirSubMessagesForTheNextParse) {
  provenance::v1::NodeReport sent;
  sent.mutable_node()->set_node_id("n1");
  auto* w = sent.add_workloads();
  w->mutable_attribution()->set_account("acme");
  w->mutable_distributed()->set_master_addr("10.0.0.9");
  w->mutable_started_at()->set_seconds(1);
  const std::string wire = sent.SerializeAsString();

  provenance::v1::NodeReport recycled;
  ASSERT_TRUE(recycled.ParseFromString(wire));
  const provenance::v1::Attribution* attribution = &recycled.workloads(0).attribution();
  const provenance::v1::DistributedMarkers* distributed = &recycled.workloads(0).distributed();
  recycled.Clear();
  ASSERT_TRUE(recycled.ParseFromString(wire));
  EXPECT_EQ(&recycled.workloads(0).attribution(), attribution) << "reused, not reallocated";
  EXPECT_EQ(&recycled.workloads(0).distributed(), distributed);
  EXPECT_EQ(recycled.workloads(0).attribution().account(), "acme");
  EXPECT_EQ(recycled.SerializeAsString(), wire);

  provenance::v1::NodeReport bare;  // presence still follows the wire
  bare.add_workloads()->set_workload_id("w");
  recycled.Clear();
  ASSERT_TRUE(recycled.ParseFromString(bare.SerializeAsString()));
  EXPECT_FALSE(recycled.has_node());
  EXPECT_FALSE(recycled.workloads(0).has_attribution());
  EXPECT_FALSE(recycled.workloads(0).has_started_at());
  EXPECT_EQ(recycled.SerializeAsString(), bare.SerializeAsString());
}

TEST(ReportQueueTest, RecyclesBoundedNumberOfSmallReports) {
  ReportQueue queue(4);
  provenance::v1::NodeReport into;
  std::vector<WorkloadUsage> usage_into;
  ObservationHints hints_into;
  EXPECT_FALSE(queue.TakeRecycled(&into, &usage_into, &hints_into)) << "empty pool";
  std::vector<IngestItem> batch;
  batch.push_back(Item(7));
  batch[0].usage.emplace(1);
  (*batch[0].usage)[0].workload_id = "job-7";
  batch[0].hints.workloads.resize(3);
  batch.push_back(Item(8));
  batch[1].size_bytes = ReportQueue::kMaxRecycledBytes + 1;  // too large to keep
  queue.Recycle(batch);
  EXPECT_EQ(queue.recycled(), 1u);
  ASSERT_TRUE(queue.TakeRecycled(&into, &usage_into, &hints_into));
  EXPECT_EQ(into.seq(), 7u) << "the message itself comes back; the reader clears it";
  ASSERT_EQ(usage_into.size(), 1u) << "with its usage vector";
  EXPECT_EQ(usage_into[0].workload_id, "job-7");
  EXPECT_EQ(hints_into.workloads.size(), 3u) << "and its observation hints' storage";
  EXPECT_EQ(queue.recycled(), 0u);
  EXPECT_FALSE(queue.TakeRecycled(&into, &usage_into, &hints_into));

  std::vector<IngestItem> many(ReportQueue::kMaxRecycled + 5);
  queue.Recycle(many);
  EXPECT_EQ(queue.recycled(), ReportQueue::kMaxRecycled);
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

IngestItem Sized(uint64_t seq, size_t bytes) {
  IngestItem item = Item(seq);
  item.size_bytes = bytes;
  return item;
}

// Issue 14: the queue was bounded only in reports, so 65,536 large reports could all be held.
TEST(ReportQueueTest, BoundedInBytesAsWellAsInReports) {
  ReportQueue queue(/*capacity=*/100, /*capacity_bytes=*/1000);
  EXPECT_TRUE(queue.PushOrPark(Sized(1, 400)));
  EXPECT_TRUE(queue.PushOrPark(Sized(2, 400)));
  EXPECT_FALSE(queue.PushOrPark(Sized(3, 400))) << "1,200 bytes would pass the 1,000 bound";
  EXPECT_FALSE(queue.PushOrPark(Sized(4, 10))) << "nothing overtakes a parked item";
  EXPECT_EQ(queue.depth(), 2u);
  EXPECT_EQ(queue.bytes(), 800u);
  EXPECT_EQ(queue.parked(), 2u);
  auto batch = queue.PopBatch(1, absl::ZeroDuration(), nullptr);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(queue.depth(), 3u) << "3 and 4 fit in the freed 400 bytes + 200 left";
  EXPECT_EQ(queue.bytes(), 810u);
  EXPECT_EQ(queue.parked(), 0u);
}

TEST(ReportQueueTest, AnEmptyQueueTakesAReportLargerThanTheByteBound) {
  ReportQueue queue(10, 1000);
  EXPECT_TRUE(queue.PushOrPark(Sized(1, 5000))) << "else it would wedge the stream forever";
  EXPECT_FALSE(queue.PushOrPark(Sized(2, 1)));
  EXPECT_EQ(queue.PopBatch(10, absl::ZeroDuration(), nullptr).size(), 1u);
  EXPECT_EQ(queue.depth(), 1u) << "the parked item moved in once the big one left";
  EXPECT_EQ(queue.bytes(), 1u);
  EXPECT_EQ(queue.PopBatch(10, absl::ZeroDuration(), nullptr).size(), 1u);
  EXPECT_EQ(queue.bytes(), 0u);
}

TEST(ReportQueueTest, RejectionNotesMergePerNodeAndWakeTheWriter) {
  ReportQueue queue(8);
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  std::thread reactor([&] {
    queue.NoteRejection("node-1", t0, "seq: first");
    queue.NoteRejection("node-1", t0 + absl::Seconds(5), "frame: second");
    queue.NoteRejection("", t0, "no node: not noted");
  });
  // Wakes for the notes although no report is queued; an empty batch, and not finished.
  auto batch = queue.PopBatch(8, absl::ZeroDuration(), nullptr);
  reactor.join();
  EXPECT_TRUE(batch.empty());
  EXPECT_FALSE(queue.finished());
  auto notes = queue.TakeRejections();  // after join: all three calls are in
  ASSERT_EQ(notes.size(), 1u) << "no note without a node id";
  const RejectionNote& note = notes["node-1"];
  EXPECT_EQ(note.count, 2);
  EXPECT_EQ(note.first_at, t0);
  EXPECT_EQ(note.last_at, t0 + absl::Seconds(5));
  EXPECT_EQ(note.last_reason, "frame: second");
  EXPECT_TRUE(queue.TakeRejections().empty());
  queue.Close();
  EXPECT_TRUE(queue.finished());
}

TEST(ReportQueueTest, RejectionNotesAreBoundedInNodes) {
  ReportQueue queue(8);
  for (size_t i = 0; i < ReportQueue::kMaxRejectionNodes + 3; ++i) {
    queue.NoteRejection(std::to_string(i), absl::UnixEpoch(), std::string(10000, 'r'));
  }
  EXPECT_EQ(queue.dropped_rejection_notes(), 3u);
  auto notes = queue.TakeRejections();
  EXPECT_EQ(notes.size(), ReportQueue::kMaxRejectionNodes);
  EXPECT_EQ(notes["0"].last_reason.size(), ReportQueue::kMaxReasonBytes);
}

}  // namespace
}  // namespace prov::server
