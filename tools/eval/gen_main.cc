// prov-eval-gen: writes an adversarial evaluation scenario with ground truth
// (tools/eval/README.md).
//
//   prov-eval-gen --out /tmp/eval --preset small
//   prov-eval-gen --out /tmp/eval-big --nodes 2000 --workloads 20000 --seed 7
//
// Exit status: 0 written; 2 bad usage or input; 1 the scenario failed its own checks.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/fs.h"
#include "common/proto_json.h"
#include "common/version.h"
#include "server/screening/csl_list.h"
#include "tools/eval/background.h"
#include "tools/eval/eval_generator.h"
#include "tools/eval/population.h"

namespace {

constexpr char kUsage[] = R"(usage: prov-eval-gen --out DIR [flags]

Writes DIR/scenario.json (prov-sim), accounts.csv (KYC), policy.yaml (scaled tiers, projection
off), ground_truth.json, csl.csv (the screening list used) and the declared inventory
inventory.csv with its re-imports inventory.at-<K>.csv (tools/prov-sim/inventory.h).
  --preset small|scale|realistic
                            small: 80 nodes, 300 workloads, 40 reports; scale: 2000 nodes,
                            20000 workloads, 60 reports; realistic: 1000 nodes, 6000 workloads,
                            720 reports (12 hours: a rhythm needs hours to be told from chance),
                            1500 dormant accounts, the realistic background and adversaries
                            (--realistic) (flags after --preset override it)
  --realistic               realistic background, KYC from name tables, adversaries f and g,
                            varied a, c, d (tools/eval/README.md)
  --names DIR               name-frequency tables (default ../shared/data/names; missing: a
                            built-in sample, said so)
  --dpl FILE                Denied Persons List appended to the screening list (realistic
                            default ../shared/data/screening/bis_dpl.txt; missing: left out)
  --dormant N               realistic: KYC-only accounts
  --nodes N (100) --workloads N (400) --reports N (60) --interval SECONDS (60) --seed N (1)
  --instances N             instances of every typology and look-alike (default nodes / 400, >= 1)
  --csl FILE                screening list (default tests/fixtures/eval/csl_sample.csv; realistic:
                            ../shared/data/screening/csl_2019_extract.csv when present)
  --traces DIR              real traces (default ../shared/data/traces); missing files: synthetic
  --no-traces               synthetic background only
  --hardware / --no-hardware
                            hardware typologies and look-alikes (hardware_typologies.h); default
                            on, off for --realistic (its published figures predate them)
)";

int Fail(const std::string& message, int code) {
  std::cerr << "prov-eval-gen: " << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace prov::eval;
  EvalOptions o;
  std::string out_dir, csl_file, traces_dir = "../shared/data/traces",
                                 names_dir = "../shared/data/names", dpl_file;
  bool no_traces = false;
  int hardware = -1;  // --hardware / --no-hardware; -1: on unless realistic
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--version") {
    std::printf("%s\n", prov::VersionLine("prov-eval-gen").c_str());
    return 0;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (a == "--no-traces") {
      no_traces = true;
      continue;
    }
    if (a == "--realistic") {
      o.realistic = true;
      continue;
    }
    if (a == "--hardware" || a == "--no-hardware") {
      hardware = a == "--hardware";
      continue;
    }
    if (i + 1 >= args.size())
      return Fail(absl::StrCat(a, ": unknown flag or missing value\n", kUsage), 2);
    const std::string& v = args[++i];
    bool ok = true;
    auto u32 = [&](uint32_t* p) { ok = absl::SimpleAtoi(v, p); };
    {
      if (a == "--out") {
        out_dir = v;
      } else if (a == "--preset") {
        if (v == "small") {
          o.nodes = 80, o.workloads = 300, o.reports = 40;
        } else if (v == "scale") {
          o.nodes = 2000, o.workloads = 20000, o.reports = 60;
        } else if (v == "realistic") {
          o.nodes = 1000, o.workloads = 6000, o.reports = 720, o.dormant_accounts = 1500;
          o.realistic = true;
        } else {
          return Fail("--preset: must be small, scale or realistic", 2);
        }
      } else if (a == "--nodes") {
        u32(&o.nodes);
      } else if (a == "--workloads") {
        u32(&o.workloads);
      } else if (a == "--reports") {
        u32(&o.reports);
      } else if (a == "--interval") {
        u32(&o.interval_seconds);
      } else if (a == "--instances") {
        u32(&o.instances);
      } else if (a == "--seed") {
        ok = absl::SimpleAtoi(v, &o.seed);
      } else if (a == "--csl") {
        csl_file = v;
      } else if (a == "--traces") {
        traces_dir = v;
      } else if (a == "--names") {
        names_dir = v;
      } else if (a == "--dpl") {
        dpl_file = v;
      } else if (a == "--dormant") {
        u32(&o.dormant_accounts);
      } else {
        return Fail(absl::StrCat("unknown flag '", a, "'\n", kUsage), 2);
      }
    }
    if (!ok) return Fail(absl::StrCat(a, ": bad value '", v, "'"), 2);
  }
  if (out_dir.empty()) return Fail(absl::StrCat("--out: is required\n", kUsage), 2);
  o.hardware = hardware == -1 ? !o.realistic : hardware == 1;

  const std::string shared_csl = "../shared/data/screening/csl_2019_extract.csv";
  if (csl_file.empty()) {
    csl_file = o.realistic && std::filesystem::exists(shared_csl)
                   ? shared_csl
                   : "tests/fixtures/eval/csl_sample.csv";
  }
  auto csl_text = prov::ReadFileToString(csl_file);
  if (!csl_text.ok())
    return Fail(absl::StrCat("--csl ", csl_file, ": ", csl_text.status().message()), 2);
  std::vector<std::string> list_parts = {csl_file};
  if (o.realistic && dpl_file.empty()) dpl_file = "../shared/data/screening/bis_dpl.txt";
  if (!dpl_file.empty()) {
    if (!std::filesystem::exists(dpl_file)) {
      std::cerr << "prov-eval-gen: " << dpl_file
                << " is missing: the Denied Persons List is left out\n";
    } else {
      auto dpl = prov::ReadFileToString(dpl_file);
      if (!dpl.ok()) return Fail(absl::StrCat("--dpl: ", dpl.status().message()), 2);
      auto rows = DplAsCslRows(*dpl, dpl_file);
      if (!rows.ok()) return Fail(std::string(rows.status().message()), 2);
      if (!csl_text->empty() && csl_text->back() != '\n') *csl_text += "\n";
      *csl_text += *rows;
      list_parts.push_back(dpl_file + " (Denied Persons List, as CSL rows)");
    }
  }
  std::vector<prov::screening::RowError> row_errors;
  auto csl = prov::screening::ParseConsolidatedScreeningList(*csl_text, csl_file, &row_errors);
  if (!csl.ok()) return Fail(std::string(csl.status().message()), 2);
  if (!row_errors.empty()) {
    std::cerr << "prov-eval-gen: screening list: " << row_errors.size()
              << " rows skipped (first: " << row_errors[0].message << ")\n";
  }

  NameTables names;
  if (o.realistic) {
    auto loaded = LoadNameTables(names_dir);
    if (loaded.ok()) {
      names = *std::move(loaded);
    } else {
      std::cerr << "prov-eval-gen: " << loaded.status().message()
                << ": KYC names from the built-in sample\n";
      names = NameTables::BuiltIn();
    }
    o.names = &names;
  }

  TraceData traces;
  std::vector<std::string> used;
  if (!no_traces) {
    std::string pods = traces_dir + "/alibaba_gpu_v2023_pods.csv";
    std::string duty = traces_dir + "/alibaba_genai_v2026_gpu_duty_cycle.csv";
    if (std::filesystem::exists(pods)) {
      auto shapes = prov::sim::ReadAlibabaPods(pods);
      if (!shapes.ok()) return Fail(std::string(shapes.status().message()), 2);
      traces.shapes = *std::move(shapes);
      used.push_back(
          "background job shapes (GPU count, relative lifetime) from the real Alibaba "
          "trace alibaba_gpu_v2023_pods.csv");
    } else {
      std::cerr << "prov-eval-gen: " << pods << " is missing: synthetic job shapes\n";
    }
    if (std::filesystem::exists(duty)) {
      auto series = ReadDutyCycles(duty);
      if (!series.ok()) return Fail(std::string(series.status().message()), 2);
      traces.duty_cycles = *std::move(series);
      used.push_back(
          "background per-report utilisation from the real Alibaba GenAI duty-cycle "
          "series alibaba_genai_v2026_gpu_duty_cycle.csv");
    } else {
      std::cerr << "prov-eval-gen: " << duty << " is missing: synthetic utilisation\n";
    }
  }
  for (size_t i = 0; i < used.size(); ++i) o.traces_note += (i ? "; " : "") + used[i];

  auto out = GenerateEval(o, *csl, traces);
  if (!out.ok()) {
    return Fail(std::string(out.status().message()),
                out.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1);
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return Fail(absl::StrCat("--out ", out_dir, ": ", ec.message()), 2);
  const bool big = out->scenario.workloads_size() > 2000;
  std::map<std::string, std::string> files = {
      {"scenario.json", prov::ToJson(out->scenario, /*pretty=*/!big) + "\n"},
      {"accounts.csv", out->accounts_csv},
      {"policy.yaml", out->policy_yaml},
      {"ground_truth.json", GroundTruthToJson(out->truth)},
      {"csl.csv", *csl_text},
  };
  for (const auto& [name, csv] : out->inventory_files) files[name] = csv;
  for (const auto& [name, content] : files) {
    if (auto s = prov::WriteFileAtomically(out_dir + "/" + name, content); !s.ok()) {
      return Fail(std::string(s.message()), 2);
    }
  }
  int adversaries = 0, lookalikes = 0, background = 0;
  for (const auto& l : out->truth.lineages) {
    adversaries += l.role == kRoleAdversary;
    lookalikes += l.role == kRoleLookAlike;
    background += l.role == kRoleBackground;
  }
  std::cout << "prov-eval-gen: " << out->scenario.name() << " -> " << out_dir << "\n"
            << "  nodes " << out->scenario.nodes_size() << ", workloads "
            << out->scenario.workloads_size() << ", reports " << o.reports << " x "
            << o.interval_seconds << " s\n"
            << "  lineages: " << adversaries << " adversary, " << lookalikes
            << " benign look-alike, " << background << " background\n"
            << "  data: " << out->scenario.provenance_note() << "\n"
            << "  screening list: " << absl::StrJoin(list_parts, " + ") << ", "
            << csl->entries.size() << " entries\n";
  for (const auto& c : out->checks) std::cout << "  check: " << c << "\n";
  return 0;
}
