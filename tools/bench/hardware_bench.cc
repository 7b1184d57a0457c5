// prov-hardware-bench: what the hardware reconciliation rules (issue 10 §3) cost per report, at
// 1,000 and 20,000 declared 8-accelerator nodes, against the ingest commit of the same reports in
// the same run, and the memory the declared inventory takes per accelerator.
//
//   build/release/bin/prov-hardware-bench [--nodes 1000,20000] [--reports 20000] [--batch 256]
//
// For each fleet size: the bench report of tools/bench/report_factory.h (real H100 PCI IDs,
// serials and UUIDs, 10 workloads) per node; an inventory declaring every card on its node. Then,
// on this thread's CPU clock, the same stream of reports (round robin over the nodes, one interval
// apart per round) through
//   (1) the Analyzer with no inventory (the hardware rules have nothing to judge against),
//   (2) the Analyzer with the inventory (every rule judges every report),
//   (3) the SQLite Store's Commit (the ingest commit provd acks after), in batches of --batch.
// Reconciliation per report = (2) - (1). Memory: heap bytes (mallinfo2) the InventoryIndex holds
// per declared accelerator. Prints figures and ratios; asserts nothing.
#include <malloc.h>
#include <time.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/accelerator_catalog.h"
#include "server/analysis/analyzer.h"
#include "server/analysis/observation.h"
#include "server/inventory/inventory_index.h"
#include "server/ledger/usage.h"
#include "server/policy/policy.h"
#include "server/store/store.h"
#include "tools/bench/report_factory.h"

ABSL_FLAG(std::string, nodes, "1000,20000", "fleet sizes (declared nodes, 8 accelerators each)");
ABSL_FLAG(int, reports, 20000, "reports per measurement");
ABSL_FLAG(int, batch, 256, "reports per commit batch / per Evaluate");

namespace prov {
namespace {

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

size_t HeapBytes() { return mallinfo2().uordblks; }

struct Fleet {
  std::vector<provenance::v1::NodeReport> templates;
  std::vector<std::vector<server::WorkloadUsage>> usage;
  std::vector<provenance::v1::InventoryEntry> rows;
};

Fleet MakeFleet(int nodes) {
  Fleet f;
  bench::ReportFactory factory;
  server::LedgerOptions ledger;
  f.templates.reserve(nodes);
  for (int i = 0; i < nodes; ++i) {
    f.templates.push_back(factory.MakeTemplate(i));
    const auto& r = f.templates.back();
    f.usage.push_back(server::ComputeUsage(r, AcceleratorCatalog::Builtin(), ledger));
    for (const auto& a : r.accelerators()) {
      provenance::v1::InventoryEntry& e = f.rows.emplace_back();
      auto* d = e.mutable_declared();
      d->set_serial(a.serial());
      d->set_uuid(a.uuid());
      d->set_declared_model("H100 SXM5 80GB");
      d->set_vendor_id(a.vendor_id());
      d->set_device_id(a.device_id());
      d->set_node_id(r.node().node_id());
      d->set_datacenter(r.node().datacenter());
      d->set_rack(absl::StrCat("r", i / 32));
      d->set_status(provenance::v1::INVENTORY_STATUS_IN_SERVICE);
      e.set_version(1);
    }
  }
  return f;
}

const absl::Time kStart = absl::FromUnixSeconds(1764000000);

absl::Time RoundTime(int report, int nodes) {
  return kStart + absl::Seconds(bench::ReportFactory::kIntervalSeconds * (report / nodes + 1));
}

// CPU seconds per report of Observe + Evaluate (every `batch` reports) over `reports` reports.
// churn: every measured report lists its node's first two cards in the other order than the
// node's previous report, so the node's cards count as changed and every rule judges it (the
// worst case: an import, or a fleet whose hardware changes at every report).
double AnalyzerCost(const Fleet& f, std::shared_ptr<const inventory::InventoryIndex> inventory,
                    int reports, int batch, bool churn) {
  auto policy = std::make_shared<const policy::Policy>();
  server::Analyzer analyzer(policy);
  if (inventory != nullptr) analyzer.SetInventory(std::move(inventory), 1);
  const int nodes = static_cast<int>(f.templates.size());
  // Warm-up: one round, so every node and card is known (the steady state a fleet is in).
  std::vector<provenance::v1::NodeReport> stamped = f.templates;
  for (int i = 0; i < nodes; ++i) {
    bench::ReportFactory::Stamp(stamped[i], 1, kStart);
    analyzer.Observe(server::ObserveReport(stamped[i], f.usage[i]));
  }
  analyzer.Evaluate(kStart);
  analyzer.TakeChanges();
  // The observations are built outside the clock: the writer thread builds them for any engine.
  std::vector<server::ReportObservation> obs;
  obs.reserve(reports);
  for (int k = 0; k < reports; ++k) {
    const int i = k % nodes;
    bench::ReportFactory::Stamp(stamped[i], 2 + k / nodes, RoundTime(k, nodes));
    if (churn) stamped[i].mutable_accelerators()->SwapElements(0, 1);
    obs.push_back(server::ObserveReport(stamped[i], f.usage[i]));
  }
  const double t0 = ThreadCpuSeconds();
  for (int k = 0; k < reports; ++k) {
    analyzer.Observe(obs[k]);
    if ((k + 1) % batch == 0 || k + 1 == reports) {
      analyzer.Evaluate(RoundTime(k, nodes));
      analyzer.TakeChanges();
    }
  }
  return (ThreadCpuSeconds() - t0) / reports;
}

double CommitCost(const Fleet& f, int reports, int batch) {
  const std::string dir =
      std::filesystem::temp_directory_path() / absl::StrCat("prov-hw-bench-", getpid());
  std::filesystem::create_directories(dir);
  auto store = server::Store::Open(dir + "/provd.db");
  if (!store.ok()) {
    std::fprintf(stderr, "prov-hardware-bench: %s\n",
                 std::string(store.status().message()).c_str());
    std::exit(1);
  }
  const int nodes = static_cast<int>(f.templates.size());
  std::vector<provenance::v1::NodeReport> stamped = f.templates;
  auto commit_range = [&](int from, int to, int seq_base) {
    std::vector<server::ReportToCommit> items;
    std::vector<provenance::v1::NodeReport> copies;
    copies.reserve(to - from);
    for (int k = from; k < to; ++k) {
      const int i = k % nodes;
      copies.push_back(stamped[i]);
      bench::ReportFactory::Stamp(copies.back(), seq_base + k / nodes, RoundTime(k, nodes));
    }
    for (int k = from; k < to; ++k) {
      server::ReportToCommit& item = items.emplace_back();
      item.report = &copies[k - from];
      item.usage = f.usage[k % nodes];
      item.size_bytes = copies[k - from].ByteSizeLong();
    }
    const double t0 = ThreadCpuSeconds();
    auto result = (*store)->Commit(items, RoundTime(to, nodes));
    const double spent = ThreadCpuSeconds() - t0;
    if (!result.ok()) {
      std::fprintf(stderr, "prov-hardware-bench: commit: %s\n",
                   std::string(result.status().message()).c_str());
      std::exit(1);
    }
    return spent;
  };
  for (int k = 0; k < nodes; k += batch) commit_range(k, std::min(k + batch, nodes), 1);  // warm
  double spent = 0;
  for (int k = 0; k < reports; k += batch) {
    spent += commit_range(nodes + k, std::min(nodes + k + batch, nodes + reports), 1);
  }
  store->reset();
  std::filesystem::remove_all(dir);
  return spent / reports;
}

}  // namespace
}  // namespace prov

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int reports = absl::GetFlag(FLAGS_reports);
  const int batch = absl::GetFlag(FLAGS_batch);
  std::printf("prov-hardware-bench: %d reports per measurement, batches of %d, thread CPU time\n",
              reports, batch);
  std::printf("%8s %10s %8s %14s %14s %14s %14s %12s %14s\n", "nodes", "declared", "cards",
              "analysis us/r", "+inventory", "reconcile us/r", "commit us/r", "rec/commit",
              "index B/accel");
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_nodes), ',')) {
    int nodes = 0;
    if (!absl::SimpleAtoi(part, &nodes) || nodes <= 0) {
      std::fprintf(stderr, "prov-hardware-bench: --nodes: \"%s\" is not a count\n",
                   std::string(part).c_str());
      return 2;
    }
    prov::Fleet fleet = prov::MakeFleet(nodes);
    const size_t declared = fleet.rows.size();
    const size_t heap_before = prov::HeapBytes();
    auto index = std::make_shared<const prov::inventory::InventoryIndex>(fleet.rows);
    const double index_bytes =
        static_cast<double>(prov::HeapBytes() - heap_before) / static_cast<double>(declared);
    const double commit = prov::CommitCost(fleet, reports, batch);
    for (const bool churn : {false, true}) {
      const double plain = prov::AnalyzerCost(fleet, nullptr, reports, batch, churn);
      const double with = prov::AnalyzerCost(fleet, index, reports, batch, churn);
      const double reconcile = with - plain;
      std::printf("%8d %10zu %8s %14.1f %14.1f %14.1f %14.1f %12.3f %14.0f\n", nodes, declared,
                  churn ? "changed" : "steady", plain * 1e6, with * 1e6, reconcile * 1e6,
                  commit * 1e6, reconcile / commit, index_bytes);
    }
  }
  std::printf(
      "cards: steady = the same cards at every report (the rules judge nothing new), changed = "
      "every report's cards differ from its node's previous report (every rule judges every "
      "card); reconcile us/r = (analysis with the inventory) - (analysis without); rec/commit "
      "= that / the SQLite ingest commit of the same reports; index B/accel = heap the "
      "InventoryIndex holds per declared accelerator (the rows are copied into it)\n");
  return 0;
}
