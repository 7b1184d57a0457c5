// RederiveVerdicts and CheckLocationExport (export_location_check.h): signatures of every
// referenced record, calibration, EvaluateLocation, comparison with the exported verdict.
#include "common/location/export_location_check.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/location/probe_sig.h"
#include "provenance/v1/location.pb.h"

namespace prov::location {
namespace {

using provenance::v1::Measurement;

// One record's checks, made once however many verdicts reference it.
struct RecordResult {
  bool usable = false;
  std::string problem;  // "record 7: ..." when not usable
  Measurement m;
};

std::string Rec(int64_t id) { return absl::StrCat("record ", id, ": "); }

RecordResult CheckRecord(const ParsedLocationExport& p, const ExportRecord& r) {
  RecordResult out;
  auto lm = p.landmarks.find(r.landmark_id);
  if (lm == p.landmarks.end()) {
    out.problem = Rec(r.id) + "landmark " + r.landmark_id + " is not in " + kLandmarksFile;
    return out;
  }
  if (!VerifyEd25519Raw(lm->second.public_key, MeasurementSigningMessage(r.measurement),
                        r.signature)) {
    out.problem = Rec(r.id) + "landmark signature invalid (landmark " + r.landmark_id + ")";
    return out;
  }
  Measurement& m = out.m;
  if (!m.ParseFromString(r.measurement)) {
    out.problem = Rec(r.id) + "the signed bytes are not a Measurement";
    return out;
  }
  const bool node = r.target_kind == "node";
  const auto kind =
      node ? provenance::v1::PROBE_TARGET_KIND_NODE : provenance::v1::PROBE_TARGET_KIND_LANDMARK;
  if (m.landmark_id() != r.landmark_id || m.target_id() != r.target_id || m.target_kind() != kind) {
    out.problem = Rec(r.id) + "the line says " + r.landmark_id + " -> " + r.target_kind + " " +
                  r.target_id + " but the signed record says " + m.landmark_id() + " -> " +
                  m.target_id();
    return out;
  }
  if (m.answers_valid() == 0 || !m.has_min_answer()) {
    out.problem = Rec(r.id) + "no valid answer in the record (nothing to verify)";
    return out;
  }
  const auto& a = m.min_answer();
  const std::string message = AnswerMessage(a.nonce(), m.landmark_id(), m.target_id(), a.seq());
  bool answer_ok = false;
  if (node) {
    auto keys = p.node_keys.find(r.target_id);
    if (keys == p.node_keys.end()) {
      out.problem = Rec(r.id) + "no key for node " + r.target_id + " in " + kNodeKeysFile;
      return out;
    }
    for (const std::string& spki : keys->second) {
      answer_ok = answer_ok || VerifyNodeAnswer(spki, message, a.signature());
    }
  } else {
    auto target = p.landmarks.find(r.target_id);
    if (target == p.landmarks.end()) {
      out.problem = Rec(r.id) + "target landmark " + r.target_id + " is not in " + kLandmarksFile;
      return out;
    }
    answer_ok = VerifyEd25519Raw(target->second.public_key, message, a.signature());
  }
  if (!answer_ok) {
    out.problem = Rec(r.id) +
                  (node ? "node answer signature invalid (node "
                        : "landmark answer signature invalid (target ") +
                  r.target_id + ")";
    return out;
  }
  out.usable = true;
  return out;
}

absl::Time MeasuredAt(const Measurement& m) {
  return absl::FromUnixSeconds(m.measured_at().seconds()) +
         absl::Nanoseconds(m.measured_at().nanos());
}

class Rederiver {
 public:
  explicit Rederiver(const ParsedLocationExport& p) : p_(p) {
    for (const auto& [id, l] : p.landmarks) all_.push_back({id, l.position});
  }

  NodeLocationCheck Check(const ExportVerdict& v) {
    NodeLocationCheck c;
    c.node_id = v.node_id;
    c.exported_verdict = v.verdict;
    std::set<std::string> problems;  // one line per problem, however often a record is referenced
    std::set<int64_t> checked;
    auto site = p_.sites.find(v.datacenter);
    if (site != p_.sites.end() &&
        GreatCircleKm(site->second, v.site) > v.params.site_tolerance_km) {
      problems.insert(absl::StrCat("site (", v.site.lat_deg, ", ", v.site.lon_deg,
                                   ") is not data centre ", v.datacenter, "'s position in ",
                                   kSitesFile));
    }
    // Step 3: each landmark's speed from its verified pair records.
    std::map<std::string, std::vector<double>> implied;
    for (const auto& [landmark, ids] : v.calibration_ids) {
      for (int64_t id : ids) {
        const RecordResult* r = Get(id, "calibration of " + landmark, &problems, &checked);
        if (r == nullptr) continue;
        const Measurement& m = r->m;
        auto a = p_.landmarks.find(m.landmark_id());
        auto b = p_.landmarks.find(m.target_id());
        if (m.target_kind() != provenance::v1::PROBE_TARGET_KIND_LANDMARK ||
            (m.landmark_id() != landmark && m.target_id() != landmark) || b == p_.landmarks.end()) {
          problems.insert(Rec(id) + "is not a pair measurement of landmark " + landmark);
          continue;
        }
        implied[landmark].push_back(ImpliedSpeed(
            GreatCircleKm(a->second.position, b->second.position), m.rtt_min_ms(), v.params));
      }
    }
    // Step 4: the node's disks.
    std::vector<DiskInput> disks;
    for (int64_t id : v.disk_ids) {
      const RecordResult* r = Get(id, "disk", &problems, &checked);
      if (r == nullptr) continue;
      const Measurement& m = r->m;
      if (m.target_kind() != provenance::v1::PROBE_TARGET_KIND_NODE || m.target_id() != v.node_id) {
        problems.insert(Rec(id) + "measures " + m.target_id() + ", not node " + v.node_id);
        continue;
      }
      DiskInput d;
      d.landmark_id = m.landmark_id();
      d.center = p_.landmarks.at(m.landmark_id()).position;  // CheckRecord found it
      d.rtt_min_ms = m.rtt_min_ms();
      d.speed_km_per_ms = CalibratedSpeed(implied[m.landmark_id()], v.params);
      d.measured_at = MeasuredAt(m);
      disks.push_back(std::move(d));
    }
    LocationResult result = EvaluateLocation(v.site, disks, all_, v.params, v.evaluated_at);
    c.rederived_verdict = VerdictName(result.verdict);
    c.rederived_reason = result.reason;
    c.records_checked = static_cast<int>(checked.size());
    if (c.rederived_verdict != c.exported_verdict) {
      problems.insert("verdict differs: exported " + c.exported_verdict + ", re-derived " +
                      c.rederived_verdict);
    }
    c.problems.assign(problems.begin(), problems.end());
    return c;
  }

 private:
  // The record's checks (cached), or null after adding why it cannot be used.
  const RecordResult* Get(int64_t id, const std::string& use, std::set<std::string>* problems,
                          std::set<int64_t>* checked) {
    auto cached = results_.find(id);
    if (cached == results_.end()) {
      auto rec = p_.records.find(id);
      if (rec == p_.records.end()) {
        problems->insert(Rec(id) + "referenced (" + use + ") but missing from " +
                         kMeasurementsFile);
        return nullptr;
      }
      cached = results_.emplace(id, CheckRecord(p_, rec->second)).first;
    }
    checked->insert(id);
    if (!cached->second.usable) {
      problems->insert(cached->second.problem);
      return nullptr;
    }
    return &cached->second;
  }

  const ParsedLocationExport& p_;
  std::vector<LandmarkSite> all_;
  std::map<int64_t, RecordResult> results_;
};

}  // namespace

std::vector<NodeLocationCheck> RederiveVerdicts(const ParsedLocationExport& parsed) {
  Rederiver r(parsed);
  std::vector<NodeLocationCheck> out;
  out.reserve(parsed.verdicts.size());
  for (const ExportVerdict& v : parsed.verdicts) out.push_back(r.Check(v));
  return out;
}

bool LocationExportCheck::ok() const {
  if (!export_check.ok() || !problems.empty()) return false;
  for (const auto& n : nodes) {
    if (!n.ok()) return false;
  }
  return true;
}

LocationExportCheck CheckLocationExport(const std::string& dir, const std::string& public_key) {
  LocationExportCheck out;
  out.export_check = integrity::VerifyExport(dir, public_key);
  if (out.export_check.manifest.export_id.empty()) return out;  // no readable manifest
  std::set<std::string> listed;
  for (const auto& f : out.export_check.manifest.files) listed.insert(f.path);
  LocationFiles files;
  const std::pair<const char*, std::string*> wanted[] = {{kLandmarksFile, &files.landmarks},
                                                         {kSitesFile, &files.sites},
                                                         {kNodeKeysFile, &files.node_keys},
                                                         {kMeasurementsFile, &files.measurements},
                                                         {kVerdictsFile, &files.verdicts}};
  for (const auto& [name, text] : wanted) {
    if (listed.count(name) == 0) {
      out.problems.push_back(absl::StrCat(name, ": not in this export's manifest"));
      continue;
    }
    auto read = ReadFileToString(JoinPath(dir, name), size_t{4} << 30);
    if (read.ok()) *text = *std::move(read);  // unreadable: the manifest check named it
  }
  ParsedLocationExport parsed = ParseLocationFiles(files, &out.problems);
  out.nodes = RederiveVerdicts(parsed);
  return out;
}

}  // namespace prov::location
