// ReportObservation <-> bytes: how a batch's observations travel from the replica that committed
// it to the elected leader's analysis engine through the PostgreSQL ingest batch log
// (server/store/pg/pg_ingest_batches.h; docs/design/scale-out.md section 3). Internal to provd:
// the format is provenance.v1.ObservationBatch (proto/provenance/v1/analysis_state.proto).
//
//   std::string bytes = EncodeObservationBatch(observations);     // the committing replica
//   PROV_ASSIGN_OR_RETURN(std::vector<ReportObservation> batch,
//                         DecodeObservationBatch(bytes));          // the leader
//   engine.Submit(std::move(batch));
//
// Encoding keeps every field, `*_unchanged` included; decoding gives back equal observations.
// Bytes that do not parse, or a workload class outside provenance.v1.WorkloadClass, are
// DATA_LOSS naming what is wrong. Thread-safe (pure functions).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/analysis/observation.h"

namespace prov::server {

std::string EncodeObservationBatch(const std::vector<ReportObservation>& batch);
absl::StatusOr<std::vector<ReportObservation>> DecodeObservationBatch(absl::string_view bytes);

}  // namespace prov::server
