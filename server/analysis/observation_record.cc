#include "server/analysis/observation_record.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "provenance/v1/analysis_state.pb.h"
#include "provenance/v1/report.pb.h"

namespace prov::server {
namespace {

using provenance::v1::NodeEventRecord;
using provenance::v1::ObservationBatch;
using provenance::v1::ReportObservationRecord;
using provenance::v1::WorkloadObservationRecord;

template <typename Field, typename Vec>
void CopyIn(const Field& from, Vec* to) {
  to->assign(from.begin(), from.end());
}

void Encode(const WorkloadObservation& w, WorkloadObservationRecord* out) {
  out->set_workload_id(w.workload_id);
  out->set_account(w.account);
  out->set_workload_class(w.workload_class);
  out->set_started_us(w.started_us);
  for (const auto& d : w.digests) out->add_digests(d);
  for (const auto& d : w.artifact_digests) out->add_artifact_digests(d);
  out->set_master_addr(w.master_addr);
  out->set_master_port(w.master_port);
  for (const PeerObservation& p : w.peers) {
    auto* peer = out->add_peers();
    peer->set_address(p.address);
    peer->set_port(p.port);
    peer->set_bytes_sent(p.bytes_sent);
    peer->set_bytes_received(p.bytes_received);
    peer->set_interval_seconds(p.interval_seconds);
  }
  for (uint32_t port : w.listening_ports) out->add_listening_ports(port);
  out->set_activity_pct(w.activity_pct);
  for (const auto& a : w.accelerators) out->add_accelerators(a);
  out->set_details_unchanged(w.details_unchanged);
  auto* u = out->mutable_usage();
  u->set_workload_class(static_cast<int32_t>(w.usage.workload_class));
  u->set_accelerator_count(w.usage.accelerator_count);
  u->set_accelerator_model(w.usage.accelerator_model);
  u->set_accelerator_seconds(w.usage.accelerator_seconds);
  u->set_flop_low(w.usage.flop_low);
  u->set_flop_high(w.usage.flop_high);
  u->set_method(w.usage.method);
  u->set_gap_seconds(w.usage.gap_seconds);
}

absl::StatusOr<WorkloadObservation> Decode(const WorkloadObservationRecord& in) {
  WorkloadObservation w;
  w.workload_id = in.workload_id();
  w.account = in.account();
  w.workload_class = in.workload_class();
  w.started_us = in.started_us();
  CopyIn(in.digests(), &w.digests);
  CopyIn(in.artifact_digests(), &w.artifact_digests);
  w.master_addr = in.master_addr();
  w.master_port = in.master_port();
  for (const auto& p : in.peers()) {
    w.peers.push_back({.address = p.address(),
                       .port = p.port(),
                       .bytes_sent = p.bytes_sent(),
                       .bytes_received = p.bytes_received(),
                       .interval_seconds = p.interval_seconds()});
  }
  CopyIn(in.listening_ports(), &w.listening_ports);
  w.activity_pct = in.activity_pct();
  CopyIn(in.accelerators(), &w.accelerators);
  w.details_unchanged = in.details_unchanged();
  const auto& u = in.usage();
  if (!provenance::v1::WorkloadClass_IsValid(u.workload_class())) {
    return absl::DataLossError(absl::StrCat("observation record: workload ", in.workload_id(),
                                            ": unknown workload class ", u.workload_class()));
  }
  w.usage.workload_class = static_cast<provenance::v1::WorkloadClass>(u.workload_class());
  w.usage.accelerator_count = u.accelerator_count();
  w.usage.accelerator_model = u.accelerator_model();
  w.usage.accelerator_seconds = u.accelerator_seconds();
  w.usage.flop_low = u.flop_low();
  w.usage.flop_high = u.flop_high();
  w.usage.method = u.method();
  w.usage.gap_seconds = u.gap_seconds();
  return w;
}

int64_t ToUs(absl::Time t) { return absl::ToUnixMicros(t); }

void Encode(const NodeEvent& e, NodeEventRecord* out) {
  out->set_kind(static_cast<int32_t>(e.kind));
  out->set_node_id(e.node_id);
  out->set_time_us(ToUs(e.time));
  out->set_count(e.count);
  out->set_total(e.total);
  out->set_has_since(e.since != absl::InfinitePast());
  if (out->has_since()) out->set_since_us(ToUs(e.since));
  out->set_detail(e.detail);
  out->set_location_datacenter(e.location.datacenter);
  out->set_location_proof_required(e.location.proof_required);
  out->set_location_summary(e.location.summary);
  for (const auto& s : e.location.sentences) out->add_location_sentences(s);
  for (const auto& l : e.location.landmarks) out->add_location_landmarks(l);
  out->set_location_needed_landmark(e.location.needed_landmark);
}

absl::StatusOr<NodeEvent> Decode(const NodeEventRecord& in) {
  NodeEvent e;
  switch (in.kind()) {
    case static_cast<int32_t>(NodeEvent::Kind::kRejections):
    case static_cast<int32_t>(NodeEvent::Kind::kIdentityMismatch):
    case static_cast<int32_t>(NodeEvent::Kind::kLocationVerdict):
    case static_cast<int32_t>(NodeEvent::Kind::kLocationForged):
      e.kind = static_cast<NodeEvent::Kind>(in.kind());
      break;
    default:
      return absl::DataLossError(absl::StrCat("observation record: node event of \"", in.node_id(),
                                              "\": unknown kind ", in.kind()));
  }
  e.node_id = in.node_id();
  e.time = absl::FromUnixMicros(in.time_us());
  e.count = in.count();
  e.total = in.total();
  e.since = in.has_since() ? absl::FromUnixMicros(in.since_us()) : absl::InfinitePast();
  e.detail = in.detail();
  e.location.datacenter = in.location_datacenter();
  e.location.proof_required = in.location_proof_required();
  e.location.summary = in.location_summary();
  CopyIn(in.location_sentences(), &e.location.sentences);
  CopyIn(in.location_landmarks(), &e.location.landmarks);
  e.location.needed_landmark = in.location_needed_landmark();
  return e;
}

}  // namespace

std::string EncodeNodeEvents(const std::vector<NodeEvent>& events) {
  ObservationBatch out;
  for (const NodeEvent& e : events) Encode(e, out.add_node_events());
  return out.SerializeAsString();
}

std::string EncodeObservationBatch(const std::vector<ReportObservation>& batch) {
  ObservationBatch out;
  for (const ReportObservation& r : batch) {
    ReportObservationRecord* rec = out.add_reports();
    rec->set_node_id(r.node_id);
    rec->set_hostname(r.hostname);
    rec->set_datacenter(r.datacenter);
    rec->set_region(r.region);
    for (const auto& a : r.addresses) rec->add_addresses(a);
    for (const auto& a : r.accelerators) *rec->add_accelerators() = a;
    rec->set_accelerators_unchanged(r.accelerators_unchanged);
    rec->set_time_us(r.time_us);
    rec->set_interval_seconds(r.interval_seconds);
    rec->set_complete(r.complete);
    for (const WorkloadObservation& w : r.workloads) Encode(w, rec->add_workloads());
  }
  return out.SerializeAsString();
}

absl::StatusOr<LoggedRecord> DecodeLoggedRecord(absl::string_view bytes) {
  ObservationBatch in;
  if (!in.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat("observation record: ", bytes.size(), " bytes that do not parse"));
  }
  LoggedRecord out;
  out.observations.reserve(in.reports_size());
  for (const ReportObservationRecord& rec : in.reports()) {
    ReportObservation r;
    r.node_id = rec.node_id();
    r.hostname = rec.hostname();
    r.datacenter = rec.datacenter();
    r.region = rec.region();
    CopyIn(rec.addresses(), &r.addresses);
    CopyIn(rec.accelerators(), &r.accelerators);
    r.accelerators_unchanged = rec.accelerators_unchanged();
    r.time_us = rec.time_us();
    r.interval_seconds = rec.interval_seconds();
    r.complete = rec.complete();
    for (const WorkloadObservationRecord& w : rec.workloads()) {
      absl::StatusOr<WorkloadObservation> decoded = Decode(w);
      if (!decoded.ok()) return decoded.status();
      r.workloads.push_back(*std::move(decoded));
    }
    out.observations.push_back(std::move(r));
  }
  out.events.reserve(in.node_events_size());
  for (const NodeEventRecord& rec : in.node_events()) {
    absl::StatusOr<NodeEvent> decoded = Decode(rec);
    if (!decoded.ok()) return decoded.status();
    out.events.push_back(*std::move(decoded));
  }
  return out;
}

absl::StatusOr<std::vector<ReportObservation>> DecodeObservationBatch(absl::string_view bytes) {
  PROV_ASSIGN_OR_RETURN(LoggedRecord record, DecodeLoggedRecord(bytes));
  if (!record.events.empty()) {
    return absl::DataLossError(absl::StrCat("observation record: holds ", record.events.size(),
                                            " node events, not only observations"));
  }
  return std::move(record.observations);
}

}  // namespace prov::server
