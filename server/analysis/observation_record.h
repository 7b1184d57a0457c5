// ReportObservation / NodeEvent <-> bytes: how a batch's observations, and the node events of a
// rejection or refusal round, travel from the replica that learned them to the elected leader's
// analysis engine through the PostgreSQL ingest batch log (server/store/pg/pg_ingest_batches.h;
// docs/design/scale-out.md section 3). Internal to provd: the format is
// provenance.v1.ObservationBatch (proto/provenance/v1/analysis_state.proto).
//
//   std::string bytes = EncodeObservationBatch(observations);     // the committing replica
//   std::string more = EncodeNodeEvents(events);                  // any replica, after a round
//   PROV_ASSIGN_OR_RETURN(LoggedRecord rec, DecodeLoggedRecord(bytes));   // the leader
//   engine.SubmitLogged(std::move(rec.observations), std::move(rec.events), position);
//
// Encoding keeps every field, `*_unchanged` included; decoding gives back equal observations and
// events. Bytes that do not parse, a workload class outside provenance.v1.WorkloadClass, or a
// node event kind outside NodeEvent::Kind are DATA_LOSS naming what is wrong. Thread-safe (pure
// functions).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/analysis/node_event.h"
#include "server/analysis/observation.h"

namespace prov::server {

struct LoggedRecord {
  std::vector<ReportObservation> observations;
  std::vector<NodeEvent> events;
};

std::string EncodeObservationBatch(const std::vector<ReportObservation>& batch);
std::string EncodeNodeEvents(const std::vector<NodeEvent>& events);
absl::StatusOr<LoggedRecord> DecodeLoggedRecord(absl::string_view bytes);
// The observations alone (a record holding node events is DATA_LOSS here).
absl::StatusOr<std::vector<ReportObservation>> DecodeObservationBatch(absl::string_view bytes);

}  // namespace prov::server
