// prov-sim: many simulated prov-agents in one process against provd (see sim_driver.h, and
// `prov-sim --help`). Exit status: 0 every report acked; 1 some report not acked (or the run
// failed); 2 bad usage or input (scenario file, trace file).
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/proto_json.h"
#include "common/version.h"
#include "tools/prov-sim/alibaba_trace.h"
#include "tools/prov-sim/generator.h"
#include "tools/prov-sim/inventory.h"
#include "tools/prov-sim/scenario.h"
#include "tools/prov-sim/sim_driver.h"
#include "tools/prov-sim/sim_options.h"

int main(int argc, char** argv) {
  using namespace prov::sim;
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles; with 10,000 uplinks
  // that bookkeeping costs more than the simulation. The uplink's unit tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (argc == 2 && std::string(argv[1]) == "--version") {
    std::cout << prov::VersionLine("prov-sim") << "\n";
    return 0;
  }
  auto options = ParseSimArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!options.ok()) {
    std::cerr << "prov-sim: " << options.status().message() << "\n\n" << SimUsage();
    return 2;
  }
  if (options->help) {
    std::cout << SimUsage();
    return 0;
  }
  v1::Scenario scenario;
  if (!options->scenario_file.empty()) {
    if (!options->alibaba_pods.empty()) {
      std::cerr << "prov-sim: --alibaba-pods shapes a generated fleet; not with --scenario\n";
      return 2;
    }
    auto loaded = LoadScenarioFile(options->scenario_file);
    if (!loaded.ok()) {
      std::cerr << "prov-sim: " << loaded.status().message() << "\n";
      return 2;
    }
    scenario = *std::move(loaded);
    if (options->reports_set) scenario.set_reports_per_node(options->fleet.reports_per_node);
  } else {
    std::vector<JobShape> shapes;
    if (!options->alibaba_pods.empty()) {
      auto read = ReadAlibabaPods(options->alibaba_pods);
      if (!read.ok()) {
        std::cerr << "prov-sim: " << read.status().message() << "\n";
        return 2;
      }
      shapes = *std::move(read);
      std::cerr << "prov-sim: " << shapes.size() << " GPU job shapes from the Alibaba trace "
                << options->alibaba_pods << " (accounts, regions, sites: SYNTHETIC overlay)\n";
    }
    scenario = GenerateFleet(options->fleet, shapes.empty() ? nullptr : &shapes);
    if (auto s = ValidateScenario(scenario); !s.ok()) {
      std::cerr << "prov-sim: generated fleet is invalid: " << s.message() << "\n";
      return 2;
    }
  }
  if (!options->inventory_out.empty()) {
    auto files = WriteInventoryFiles(scenario, options->inventory_out);
    if (!files.ok()) {
      std::cerr << "prov-sim: --inventory-out: " << files.status().message() << "\n";
      return 2;
    }
    for (const auto& [report, path] : *files) {
      std::cerr << "prov-sim: declared inventory " << (report == 0 ? "" : "re-import ") << path
                << (report == 0 ? "" : absl::StrCat(" (before report ", report, ")")) << "\n";
    }
  }
  if (options->dump_scenario) {
    std::cout << prov::ToJson(scenario) << "\n";
    return 0;
  }
  auto summary = RunSimulation(*options, scenario, std::cerr);
  if (!summary.ok()) {
    std::cerr << "prov-sim: " << summary.status().message() << "\n";
    return 1;
  }
  std::cout << FormatSummary(*summary, scenario, *options);
  return summary->all_acked() ? 0 : 1;
}
