// IngestStream: what the ingest writer needs of the stream a queued report came from: where its
// acks, rejections and commit failures go. ReportStream (report_stream.h, the gRPC reactor) is
// the one implementation in provd; tests give the writer their own, to see exactly what each
// stream was told (tests/server/ingest_writer_test.cc).
//
//   IngestItem item;
//   item.stream = shared_from_this();                  // a ReportStream, in its reactor
//   ...
//   // writer thread, after the batch's commit:
//   item.stream->OnCommitted({{boot_id, high_water}}, /*reports=*/1);
//
// Every method may be called from the writer thread while the stream's own threads run.
#pragma once

#include <cstdint>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "provenance/v1/agent_gateway.pb.h"

namespace prov::server {

class IngestStream {
 public:
  virtual ~IngestStream() = default;

  // A batch committed. acks: (boot_id, highest committed seq) for this stream's reports in the
  // batch; reports: how many of this stream's queued reports the batch held; rejected: (boot_id,
  // Rejection) for reports of this stream the store refused (not stored, not acked). The views
  // need only live for the call.
  virtual void OnCommitted(
      absl::Span<const std::pair<absl::string_view, uint64_t>> acks, int reports,
      absl::Span<const std::pair<absl::string_view, provenance::v1::Rejection>> rejected = {}) = 0;
  // A batch holding `reports` of this stream's reports failed: nothing is acked; the stream ends
  // so that the agent resends everything unacked, and commit_failed() is true from now on.
  virtual void OnCommitFailed(int reports) = 0;
  // True once a commit of this stream's reports failed. Its reports still in the queue must not
  // be stored: they come after the failed ones, and storing them would move the (node, boot)
  // high-water mark past reports the agent still holds, so their resends would be acked as
  // duplicates and never stored. The writer drops them (IngestWriter::DropAfterFailedCommit,
  // telling the stream with OnCommitFailed); the agent resends them all, in order.
  virtual bool commit_failed() const = 0;
  // The stream's parked item is in the queue now (ReportQueue::PopBatch): it may read again.
  virtual void OnQueueSpace() = 0;
};

}  // namespace prov::server
