#include "server/store/repo/location.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace prov::server {
namespace {

absl::Status CheckId(const std::string& field, const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty"));
  if (id.size() > kMaxLocationIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", id.size(), " bytes, at most ", kMaxLocationIdBytes));
  }
  if (id.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": holds a NUL byte"));
  }
  return absl::OkStatus();
}

// Text stored in a TEXT column: no NUL (PostgreSQL text cannot hold one), bounded.
absl::Status CheckText(const std::string& field, const std::string& text) {
  if (text.size() > kMaxLocationBlobBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", text.size(), " bytes, at most ", kMaxLocationBlobBytes));
  }
  if (text.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": holds a NUL byte"));
  }
  return absl::OkStatus();
}

absl::Status CheckBlob(const std::string& field, const std::string& blob, bool may_be_empty) {
  if (!may_be_empty && blob.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": empty"));
  }
  if (blob.size() > kMaxLocationBlobBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", blob.size(), " bytes, at most ", kMaxLocationBlobBytes));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckNodeKey(const StoredNodeKey& key) {
  PROV_RETURN_IF_ERROR(CheckId("node key node_id", key.node_id));
  PROV_RETURN_IF_ERROR(CheckBlob(absl::StrCat("node key of ", key.node_id, ": spki"), key.spki_der,
                                 /*may_be_empty=*/false));
  if (key.source != "stream" && key.source != "node_ca") {
    return absl::InvalidArgumentError(absl::StrCat("node key of ", key.node_id, ": source \"",
                                                   key.source, "\", not stream or node_ca"));
  }
  return absl::OkStatus();
}

absl::Status CheckLandmarkRecords(const LandmarkRecords& call) {
  if (call.records.size() > kMaxLandmarkRecordsPerCall) {
    return absl::InvalidArgumentError(absl::StrCat("landmark records: ", call.records.size(),
                                                   " in one call, at most ",
                                                   kMaxLandmarkRecordsPerCall));
  }
  for (size_t i = 0; i < call.records.size(); ++i) {
    const StoredMeasurement& m = call.records[i];
    const std::string at = absl::StrCat("landmark record ", i, ": ");
    PROV_RETURN_IF_ERROR(CheckId(at + "landmark_id", m.landmark_id));
    PROV_RETURN_IF_ERROR(CheckId(at + "target_id", m.target_id));
    if (m.target_kind != "node" && m.target_kind != "landmark") {
      return absl::InvalidArgumentError(
          absl::StrCat(at, "target_kind \"", m.target_kind, "\", not node or landmark"));
    }
    PROV_RETURN_IF_ERROR(CheckBlob(at + "measurement", m.measurement, /*may_be_empty=*/false));
    PROV_RETURN_IF_ERROR(CheckBlob(at + "signature", m.signature, /*may_be_empty=*/false));
  }
  for (const auto& [landmark, n] : call.refused) {
    PROV_RETURN_IF_ERROR(CheckId("refused landmark_id", landmark));
    if (n < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("refused records of landmark ", landmark, ": ", n, " (negative)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckVerdictNodeId(const std::string& node_id) { return CheckId("node_id", node_id); }

absl::Status CheckVerdictFilter(const std::string& verdict) {
  if (verdict.empty() || verdict == "verified" || verdict == "unverified" ||
      verdict == "contradicted") {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("verdict \"", verdict.substr(0, 64),
                                                 "\": not verified, unverified or contradicted"));
}

absl::Status CheckVerdict(const StoredVerdict& v) {
  PROV_RETURN_IF_ERROR(CheckId("verdict node_id", v.node_id));
  const std::string at = absl::StrCat("verdict of ", v.node_id, ": ");
  if (v.verdict.empty()) return absl::InvalidArgumentError(at + "verdict: empty");
  if (absl::Status s = CheckVerdictFilter(v.verdict); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(at, s.message()));
  }
  PROV_RETURN_IF_ERROR(CheckBlob(at + "location", v.location, /*may_be_empty=*/true));
  PROV_RETURN_IF_ERROR(CheckText(at + "disk_ids", v.disk_ids));
  PROV_RETURN_IF_ERROR(CheckText(at + "calibration", v.calibration));
  PROV_RETURN_IF_ERROR(CheckText(at + "params", v.params));
  return absl::OkStatus();
}

std::vector<std::string> LandmarksOf(const LandmarkRecords& call) {
  std::set<std::string> ids;
  for (const StoredMeasurement& m : call.records) ids.insert(m.landmark_id);
  for (const auto& [landmark, n] : call.refused) ids.insert(landmark);
  return {ids.begin(), ids.end()};
}

LandmarkRecordsPlan PlanLandmarkRecords(const LandmarkRecords& call,
                                        const std::map<std::string, StoredLandmarkState>& stored) {
  struct Running {
    StoredLandmarkState state;
    bool known = false;  // a stored row, or a record accepted earlier in the call
  };
  std::map<std::string, Running> running;
  for (const std::string& id : LandmarksOf(call)) {
    Running& r = running[id];
    if (auto it = stored.find(id); it != stored.end()) {
      r.state = it->second;
      r.known = true;
    }
    r.state.landmark_id = id;
  }
  LandmarkRecordsPlan plan;
  plan.accept.reserve(call.records.size());
  for (const StoredMeasurement& m : call.records) {
    Running& r = running[m.landmark_id];
    if (r.known && m.landmark_seq <= r.state.last_seq) {
      ++r.state.refused;
      plan.accept.push_back(false);
      continue;
    }
    r.known = true;
    r.state.last_seq = m.landmark_seq;
    r.state.last_measured = m.measured_at;
    r.state.last_record = call.received_at;
    ++r.state.accepted;
    plan.accept.push_back(true);
  }
  for (const auto& [landmark, n] : call.refused) running[landmark].state.refused += n;
  for (auto& [id, r] : running) plan.states.push_back(std::move(r.state));
  return plan;
}

}  // namespace prov::server
