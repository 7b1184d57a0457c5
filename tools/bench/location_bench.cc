// prov-location-bench: what location verification (issue 11) costs provd.
//
//   build/release/bin/prov-location-bench [--nodes 10000] [--landmarks 20] [--per-node 3]
//
// (1) The verifier per measurement record: LocationBook::Check (Ed25519 landmark signature, ECDSA
//     P-256 node answer, replay/clock/assignment checks), Accept and the node's Evaluate, in
//     memory, on this thread's CPU clock.
// (2) provd's cost for one minute of a fleet of --nodes nodes probed by --landmarks landmarks
//     (each node by its --per-node nearest; every landmark pair for calibration): the
//     LocationHub's Submit (batches of 1,000 records, one SQLite transaction each, records and
//     verdicts stored) plus the two 30-second ticks of that minute (every verdict re-judged),
//     against (3) the ingest commit (Store::Commit, batches of 1,000) of the same number of
//     reports, in the same run. Prints figures and ratios; asserts nothing.
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/integrity/ed25519.h"
#include "common/location/probe_sig.h"
#include "common/node_key.h"
#include "common/testing/fake_clock.h"
#include "server/ledger/usage.h"
#include "server/location/location_book.h"
#include "server/location/location_hub.h"
#include "server/store/store.h"
#include "tools/bench/report_factory.h"

ABSL_FLAG(int, nodes, 10000, "nodes probed");
ABSL_FLAG(int, landmarks, 20, "landmarks");
ABSL_FLAG(int, per_node, 3, "landmarks per node");
ABSL_FLAG(int, node_keys, 100, "distinct node keys (verification costs the same for any key)");

namespace prov {
namespace {

using provenance::v1::Measurement;
using provenance::v1::SignedMeasurement;

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void Die(const absl::Status& s) {
  std::fprintf(stderr, "prov-location-bench: %s\n", std::string(s.message()).c_str());
  std::exit(1);
}

struct World {
  std::vector<integrity::SigningKey> landmark_keys;
  std::vector<std::unique_ptr<location::NodeAnswerSigner>> node_keys;
  std::string yaml;
  int sites = 10;
};

World MakeWorld(int landmarks, int per_node, int keys) {
  World w;
  std::string y = "landmarks:\n";
  for (int i = 0; i < landmarks; ++i) {
    w.landmark_keys.push_back(*integrity::GenerateSigningKey());
    // Spread over Europe: 40..60 N, -5..25 E.
    absl::StrAppend(&y, "  - id: lm-", i, "\n    position: {lat: ", 40 + (i * 7) % 20,
                    ", lon: ", -5 + (i * 11) % 30, "}\n    public_key: \"ed25519-public ",
                    absl::BytesToHexString(w.landmark_keys.back().public_key),
                    "\"\n    udp_address: \"10.1.0.", i + 1, ":7701\"\n");
  }
  absl::StrAppend(&y, "datacenters:\n");
  for (int i = 0; i < w.sites; ++i) {
    absl::StrAppend(&y, "  - id: dc", i, "\n    position: {lat: ", 41 + i * 2, ", lon: ", i * 2,
                    "}\n");
  }
  absl::StrAppend(&y, "assignment: {landmarks_per_node: ", per_node, "}\n");
  w.yaml = y;
  for (int i = 0; i < keys; ++i) {
    auto pem = GenerateNodeKeyPem();
    if (!pem.ok()) Die(pem.status());
    w.node_keys.push_back(*location::NodeAnswerSigner::FromKeyPem(*pem));
  }
  return w;
}

void SetTs(google::protobuf::Timestamp* ts, absl::Time t) {
  ts->set_seconds(absl::ToUnixSeconds(t));
}

SignedMeasurement Record(const World& w, int lm, const provenance::v1::ProbeTarget& target,
                         uint64_t seq, absl::Time at, int node_index) {
  Measurement m;
  const std::string landmark = absl::StrCat("lm-", lm);
  m.set_landmark_id(landmark);
  m.set_target_kind(target.kind());
  m.set_target_id(target.target_id());
  SetTs(m.mutable_measured_at(), at);
  m.set_landmark_seq(seq);
  m.set_probes_sent(16);
  m.set_answers_valid(16);
  const double rtt = 2.0 + (seq % 7) * 0.1;
  m.set_rtt_min_ms(rtt);
  m.set_rtt_median_ms(rtt + 0.2);
  auto* a = m.mutable_min_answer();
  a->set_nonce(std::string(location::kNonceSize, static_cast<char>(seq)));
  a->set_seq(seq);
  a->set_rtt_ms(rtt);
  const std::string msg = location::AnswerMessage(a->nonce(), landmark, target.target_id(), seq);
  if (target.kind() == provenance::v1::PROBE_TARGET_KIND_NODE) {
    a->set_signature(w.node_keys[node_index % w.node_keys.size()]->Sign(msg));
  } else {
    int other = 0;
    (void)absl::SimpleAtoi(absl::string_view(target.target_id()).substr(3), &other);
    a->set_signature(location::SignEd25519Raw(w.landmark_keys[other].secret_key, msg));
  }
  m.set_target_public_key(target.public_key());
  SignedMeasurement s;
  s.set_measurement(m.SerializeAsString());
  s.set_landmark_signature(location::SignEd25519Raw(
      w.landmark_keys[lm].secret_key, location::MeasurementSigningMessage(s.measurement())));
  return s;
}

int NodeIndex(const std::string& id) {
  int i = 0;
  (void)absl::SimpleAtoi(absl::string_view(id).substr(5), &i);  // "node-<i>"
  return i;
}

// One round: every landmark's assignment, as records (landmark index, record).
std::vector<std::pair<int, SignedMeasurement>> Round(const World& w,
                                                     server::location::LocationHub& hub,
                                                     int landmarks, std::vector<uint64_t>& seq,
                                                     absl::Time at) {
  std::vector<std::pair<int, SignedMeasurement>> out;
  for (int lm = 0; lm < landmarks; ++lm) {
    const provenance::v1::Assignment a = hub.GetAssignment(absl::StrCat("lm-", lm));
    for (const auto& t : a.targets()) {
      out.emplace_back(
          lm, Record(w, lm, t, ++seq[lm], at,
                     t.kind() == provenance::v1::PROBE_TARGET_KIND_NODE ? NodeIndex(t.target_id())
                                                                        : 0));
    }
  }
  return out;
}

}  // namespace
}  // namespace prov

int main(int argc, char** argv) {
  using namespace prov;  // NOLINT
  absl::ParseCommandLine(argc, argv);
  const int nodes = absl::GetFlag(FLAGS_nodes);
  const int landmarks = absl::GetFlag(FLAGS_landmarks);
  const int per_node = absl::GetFlag(FLAGS_per_node);
  std::printf("prov-location-bench: %d nodes, %d landmarks, %d per node\n", nodes, landmarks,
              per_node);
  World w = MakeWorld(landmarks, per_node, absl::GetFlag(FLAGS_node_keys));
  auto config = server::location::ParseLocationConfig(w.yaml, "bench.yaml");
  if (!config.ok()) Die(config.status());

  const std::string dir =
      std::filesystem::temp_directory_path() / absl::StrCat("prov-location-bench-", getpid());
  std::filesystem::create_directories(dir);
  const std::string db = dir + "/provd.db";
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));

  // The fleet reports once (responders, datacenters); this also warms the ingest commit.
  auto store = server::Store::Open(db);
  if (!store.ok()) Die(store.status());
  bench::ReportFactory factory;
  server::LedgerOptions ledger;
  std::vector<provenance::v1::NodeReport> reports;
  std::vector<std::vector<server::WorkloadUsage>> usage;
  for (int i = 0; i < nodes; ++i) {
    reports.push_back(factory.MakeTemplate(i));
    reports.back().mutable_node()->set_node_id(absl::StrCat("node-", i));
    reports.back().mutable_node()->set_datacenter(absl::StrCat("dc", i % w.sites));
    reports.back().mutable_node()->set_location_responder(
        absl::StrCat("10.2.", i / 250, ".", i % 250, ":7700"));
    usage.push_back(server::ComputeUsage(reports.back(), AcceleratorCatalog::Builtin(), ledger));
  }
  auto commit = [&](int round, int count) {
    double spent = 0;
    for (int k = 0; k < count; k += 1000) {
      std::vector<server::ReportToCommit> items;
      std::vector<provenance::v1::NodeReport> copies;
      const int to = std::min(k + 1000, count);
      copies.reserve(to - k);
      for (int j = k; j < to; ++j) {
        copies.push_back(reports[j % nodes]);
        bench::ReportFactory::Stamp(copies.back(), round * 1000 + j / nodes + 1,
                                    clock.Now() + absl::Seconds(round * 60 + j / nodes));
      }
      for (int j = k; j < to; ++j) {
        auto& item = items.emplace_back();
        item.report = &copies[j - k];
        item.usage = usage[j % nodes];
        item.size_bytes = copies[j - k].ByteSizeLong();
      }
      const double t0 = ThreadCpuSeconds();
      auto r = (*store)->Commit(items, clock.Now() + absl::Seconds(round * 60));
      spent += ThreadCpuSeconds() - t0;
      if (!r.ok()) Die(r.status());
    }
    return spent;
  };
  commit(0, nodes);

  server::location::LocationHub::Options o;
  o.db_path = db;
  o.config = &*config;
  o.clock = &clock;
  policy::LocationPolicy lp;
  o.policy = [&] { return server::location::LocationPolicyView{lp, "bench"}; };
  o.tick = absl::ZeroDuration();
  auto hub = server::location::LocationHub::Start(std::move(o));
  if (!hub.ok()) Die(hub.status());
  for (int i = 0; i < nodes; ++i) {
    (*hub)->NodeKeySeen(absl::StrCat("node-", i),
                        w.node_keys[i % w.node_keys.size()]->public_key_der(), "stream");
  }
  if (absl::Status s = (*hub)->Tick(); !s.ok()) Die(s);

  // (1) The verifier alone, in memory.
  std::vector<uint64_t> seq(landmarks, 0);
  auto warm = Round(w, **hub, landmarks, seq, clock.Now());
  {
    server::location::LocationBook book(*config);
    // The same assignment the hub built.
    std::vector<server::location::NodeTarget> targets;
    for (int i = 0; i < nodes; ++i) {
      server::location::NodeTarget t;  // AssignmentTable::Build fills the key lists
      t.node_id = absl::StrCat("node-", i);
      t.responder = "10.0.0.1:7700";
      t.spki_der = w.node_keys[i % w.node_keys.size()]->public_key_der();
      t.datacenter = absl::StrCat("dc", i % w.sites);
      targets.push_back(std::move(t));
    }
    book.SetAssignment(server::location::AssignmentTable::Build(*config, std::move(targets)));
    size_t refused = 0;
    const double t0 = ThreadCpuSeconds();
    int64_t id = 0;
    for (const auto& [lm, rec] : warm) {
      auto c = book.Check(rec, "", clock.Now(), lp);
      if (!c.refusal.empty()) {
        ++refused;
        continue;
      }
      book.Accept(c, ++id, clock.Now());
      if (c.measurement.target_kind() == provenance::v1::PROBE_TARGET_KIND_NODE) {
        (void)book.Evaluate(c.measurement.target_id(), lp, "bench", clock.Now());
      }
    }
    const double per = (ThreadCpuSeconds() - t0) / warm.size();
    std::printf(
        "verifier (check + accept + evaluate), in memory: %.1f us per record over %zu "
        "records (%zu refused)\n",
        per * 1e6, warm.size(), refused);
  }

  // (2) provd: the hub takes a round (warm), then one measured minute.
  auto submit = [&](const std::vector<std::pair<int, SignedMeasurement>>& recs) {
    size_t accepted = 0;
    provenance::v1::SubmitMeasurementsRequest req;
    auto flush = [&] {
      if (req.records_size() == 0) return;
      auto r = (*hub)->Submit(req, "");
      if (!r.ok()) Die(r.status());
      accepted += r->accepted();
      req.Clear();
    };
    int current = -1;
    for (const auto& [lm, rec] : recs) {
      if (lm != current || req.records_size() == 1000) flush();
      current = lm;
      *req.add_records() = rec;
    }
    flush();
    return accepted;
  };
  submit(warm);
  clock.Advance(absl::Seconds(60));
  auto minute = Round(w, **hub, landmarks, seq, clock.Now());
  double t0 = ThreadCpuSeconds();
  const size_t accepted = submit(minute);
  const double submit_s = ThreadCpuSeconds() - t0;
  t0 = ThreadCpuSeconds();
  for (int tick = 0; tick < 2; ++tick) {
    if (absl::Status s = (*hub)->Tick(); !s.ok()) Die(s);
  }
  const double tick_s = ThreadCpuSeconds() - t0;
  const double provd_s = submit_s + tick_s;

  // (3) The ingest commit of the same number of reports.
  const int n = static_cast<int>(minute.size());
  const double commit_s = commit(1, n);
  std::printf(
      "one minute: %zu records (%zu accepted): submit %.3f s CPU (%.1f us/record), "
      "2 ticks %.3f s CPU (%.1f us/node each)\n",
      minute.size(), accepted, submit_s, submit_s / minute.size() * 1e6, tick_s,
      tick_s / 2 / nodes * 1e6);
  std::printf("ingest commit of %d reports: %.3f s CPU (%.1f us/report)\n", n, commit_s,
              commit_s / n * 1e6);
  std::printf(
      "ratio location minute / ingest commit of as many reports: %.2f "
      "(submit alone %.2f); share of one core per minute: %.2f %%\n",
      provd_s / commit_s, submit_s / commit_s, provd_s / 60 * 100);
  hub->reset();
  store->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
