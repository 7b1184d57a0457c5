// A NodeReport as the wire bytes of one AgentGateway.Report frame, through everything provd does
// before storing: ParseReportFrame (server/ingest/frame_parser.h), ValidateReport and, for a
// valid report, the ledger's ComputeUsage (server/ledger/usage.h).
#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "common/accelerator_catalog.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"
#include "server/ingest/frame_parser.h"
#include "server/ingest/report_validator.h"
#include "server/ledger/usage.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  grpc::Slice slice(data, size);
  grpc::ByteBuffer frame(&slice, 1);
  provenance::v1::NodeReport report;
  prov::server::FrameIdentity who;
  if (!prov::server::ParseReportFrame(frame, /*max_bytes=*/4 << 20, &report, &who).ok()) return 0;
  // The seeds' timestamps are in 2026; a fixed "now" keeps the run deterministic.
  const absl::Time now = absl::FromUnixSeconds(1796000000);
  const absl::Status valid = prov::server::ValidateReport(report, now);
  if (!valid.ok()) {
    (void)prov::server::RejectionField(valid);
    return 0;
  }
  std::vector<prov::server::WorkloadUsage> usage = prov::server::ComputeUsage(
      report, prov::AcceleratorCatalog::Builtin(), prov::server::LedgerOptions{});
  (void)usage;
  return 0;
}
