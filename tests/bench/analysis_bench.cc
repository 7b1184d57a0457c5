// prov-analysis-bench: the correlator's cost per report, and whether it stays bounded as the
// fleet grows (issue 3: "cost per incoming report stays bounded by the links it touches").
//
//   build/release/bin/prov-analysis-bench [--nodes 500,2000,8000] [--reports 6] [--batch 512]
//
// For each fleet size it builds synthetic NodeReports (8 H100s and 10 workloads per node; a
// public base image shared by every account, per-account command digests, peers mostly inside
// the node and, from every 50th node, to another account's node; checkpoint pauses) and times,
// in the same run:
//   baseline  Store::Commit of the reports (what the ingest writer already spends; real SQLite)
//   analyzer  ObserveReport + Analyzer::Observe + Evaluate per batch (in memory)
//   engine    AnalysisEngine::Submit + Flush (analysis thread + SQLite persistence)
// and prints microseconds per report, the ratio to the baseline, and the ratio to the smallest
// fleet (near 1.0: cost does not grow with the fleet). Synthetic data only.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/accelerator_catalog.h"
#include "common/clock.h"
#include "common/sha256.h"
#include "server/analysis/analysis_engine.h"
#include "server/analysis/analyzer.h"
#include "server/ledger/usage.h"
#include "server/policy/policy.h"
#include "server/store/store.h"

namespace {

using provenance::v1::NodeReport;

std::string Address(int node) {
  return absl::StrFormat("10.%d.%d.%d", node / 65536 % 256, node / 256 % 256, node % 256);
}

NodeReport MakeReport(int node, int nodes, uint64_t seq, absl::Time t) {
  NodeReport r;
  auto* id = r.mutable_node();
  id->set_node_id(absl::StrFormat("node-%05d", node));
  id->set_boot_id("boot-1");
  id->set_hostname(absl::StrFormat("gpu-%05d.dc%d.example", node, node % 4));
  id->set_datacenter(absl::StrFormat("dc-%d", node % 4));
  id->set_region(absl::StrFormat("region-%d", node % 2));
  id->add_addresses(Address(node));
  r.set_seq(seq);
  r.mutable_collected_at()->set_seconds(absl::ToUnixSeconds(t));
  r.set_interval_seconds(300);
  for (int g = 0; g < 8; ++g) {
    auto* a = r.add_accelerators();
    a->set_pci_address(absl::StrFormat("0000:%02x:00.0", 0x18 + g));
    a->set_vendor_id(0x10de);
    a->set_device_id(0x2330);
    a->set_vendor("nvidia");
    a->set_model("H100 SXM5 80GB");
    a->set_family("hopper");
    a->set_model_known(true);
    auto* s = r.add_samples();
    s->set_pci_address(a->pci_address());
    // Every fifth report pauses (checkpoint stall), staggered by node.
    s->set_utilization_pct((seq + node) % 5 == 0 ? 3.0 : 97.0);
    s->set_tensor_activity(0.45);
  }
  const int accounts = nodes * 2;
  for (int w = 0; w < 10; ++w) {
    auto* wl = r.add_workloads();
    wl->set_workload_id(absl::StrFormat("k8s:pod-%05d-%d", node, w));
    wl->set_kind(provenance::v1::WORKLOAD_KIND_K8S_POD);
    const int account = (node * 10 + w) % accounts;
    wl->mutable_attribution()->set_account(absl::StrFormat("acct-%05d", account));
    wl->set_workload_class(w < 6 ? provenance::v1::WORKLOAD_CLASS_TRAINING
                                 : provenance::v1::WORKLOAD_CLASS_INFERENCE);
    wl->add_accelerator_pci_addresses(absl::StrFormat("0000:%02x:00.0", 0x18 + w % 8));
    wl->set_image_digest("sha256:public-base-image");  // common: must link nothing
    wl->set_cmdline_digest(prov::Sha256Hex(absl::StrFormat("cmd-%d", account)));
    wl->add_listening_ports(29500 + w);
    wl->mutable_started_at()->set_seconds(absl::ToUnixSeconds(t) - 3600 - node * 7 - w * 61);
    // Most traffic stays inside an account (here: the node itself); every 50th node's first
    // workload also talks to the next node, another account: small cross-account bundles.
    auto* p = wl->add_peers();
    p->set_remote_address(Address(node % 50 == 0 && w == 0 ? (node + 1) % nodes : node));
    p->set_remote_port(29500 + w);
    p->set_state("ESTABLISHED");
  }
  return r;
}

struct Result {
  double baseline_us = 0, analyzer_us = 0, engine_us = 0;
  size_t links = 0, bundles = 0, multi = 0, flags = 0;
};

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
      .count();
}

Result Run(int nodes, int reports, size_t batch_size,
           const std::shared_ptr<const prov::policy::Policy>& policy, const std::string& dir) {
  const absl::Time t0 = absl::FromUnixSeconds(1764000000);
  const auto& catalog = prov::AcceleratorCatalog::Builtin();
  std::vector<NodeReport> all;
  all.reserve(static_cast<size_t>(nodes) * reports);
  for (int k = 0; k < reports; ++k) {
    for (int n = 0; n < nodes; ++n) {
      all.push_back(MakeReport(n, nodes, k + 1, t0 + absl::Seconds(300 * k + n % 300)));
    }
  }
  std::vector<std::vector<prov::server::WorkloadUsage>> usage;
  for (const auto& r : all) usage.push_back(prov::server::ComputeUsage(r, catalog, {}));
  Result res;

  {  // baseline: the ingest commit
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto store = prov::server::Store::Open(dir + "/provd.db");
    if (!store.ok()) std::abort();
    const auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < all.size(); i += batch_size) {
      std::vector<prov::server::ReportToCommit> items;
      for (size_t j = i; j < std::min(all.size(), i + batch_size); ++j) {
        items.push_back({&all[j], usage[j], all[j].ByteSizeLong()});
      }
      if (!(*store)->Commit(items, t0).ok()) std::abort();
    }
    res.baseline_us = Since(start) / all.size();
  }
  {  // analyzer alone
    prov::server::Analyzer analyzer(policy);
    prov::server::ObservationCache cache;
    const auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < all.size(); i += batch_size) {
      for (size_t j = i; j < std::min(all.size(), i + batch_size); ++j) {
        analyzer.Observe(prov::server::ObserveReport(all[j], usage[j], &cache));
      }
      analyzer.Evaluate(t0);
      analyzer.TakeChanges();
    }
    res.analyzer_us = Since(start) / all.size();
    const auto st = analyzer.stats();
    res.links = st.links;
    res.bundles = st.bundles;
    res.multi = st.multi_account_bundles;
    res.flags = st.flags;
  }
  {  // engine: thread + persistence (on the baseline's database, as in provd)
    prov::server::AnalysisEngine::Options o;
    o.db_path = dir + "/provd.db";
    o.clock = &prov::RealClock::Get();
    o.policy = policy;
    auto engine = prov::server::AnalysisEngine::Start(o);
    if (!engine.ok()) std::abort();
    prov::server::ObservationCache cache;
    const auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < all.size(); i += batch_size) {
      std::vector<prov::server::ReportObservation> obs;
      for (size_t j = i; j < std::min(all.size(), i + batch_size); ++j) {
        obs.push_back(prov::server::ObserveReport(all[j], usage[j], &cache));
      }
      (*engine)->Submit(std::move(obs));
    }
    (*engine)->Flush();
    res.engine_us = Since(start) / all.size();
  }
  std::filesystem::remove_all(dir);
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> fleets = {500, 2000, 8000};
  int reports = 6;
  size_t batch = 512;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--nodes") {
      fleets.clear();
      for (absl::string_view v : absl::StrSplit(value, ',')) {
        int n = 0;
        if (!absl::SimpleAtoi(v, &n) || n < 8) {
          std::fprintf(stderr, "--nodes: \"%s\" is not a list of fleet sizes >= 8\n",
                       value.c_str());
          return 2;
        }
        fleets.push_back(n);
      }
    } else if (flag == "--reports" && absl::SimpleAtoi(value, &reports) && reports > 0) {
    } else if (flag == "--batch" && absl::SimpleAtoi(value, &batch) && batch > 0) {
    } else {
      std::fprintf(stderr,
                   "usage: prov-analysis-bench [--nodes 500,2000,8000] [--reports 6] "
                   "[--batch 512]\n(bad flag or value: %s %s)\n",
                   flag.c_str(), value.c_str());
      return 2;
    }
  }
  auto policy = prov::policy::ParsePolicy(prov::policy::DefaultPolicyYaml(), "default");
  if (!policy.ok()) return 1;
  auto shared = std::make_shared<const prov::policy::Policy>(*policy);
  const std::string dir = std::filesystem::temp_directory_path() / "prov-analysis-bench";
  std::printf(
      "prov-analysis-bench: synthetic fleet, 10 workloads and 8 GPUs per node, %d reports "
      "per node, batches of %zu\n",
      reports, batch);
  std::printf("%7s %8s %12s %12s %10s %12s %10s %10s %8s %8s %7s\n", "nodes", "reports",
              "baseline_us", "analyzer_us", "x_base", "engine_us", "x_base", "x_small", "links",
              "bundles", "flags");
  double small = 0;
  for (int nodes : fleets) {
    Result r = Run(nodes, reports, batch, shared, dir);
    if (small == 0) small = r.engine_us;
    std::printf("%7d %8d %12.1f %12.1f %10.2f %12.1f %10.2f %10.2f %8zu %8zu %7zu\n", nodes,
                nodes * reports, r.baseline_us, r.analyzer_us, r.analyzer_us / r.baseline_us,
                r.engine_us, r.engine_us / r.baseline_us, r.engine_us / small, r.links, r.bundles,
                r.flags);
    std::fflush(stdout);
  }
  return 0;
}
