// prov-eval-gen: writes an adversarial evaluation scenario with ground truth
// (tools/eval/README.md).
//
//   prov-eval-gen --out /tmp/eval --preset small
//   prov-eval-gen --out /tmp/eval-big --nodes 2000 --workloads 20000 --seed 7
//
// Exit status: 0 written; 2 bad usage or input; 1 the scenario failed its own checks.
#include <filesystem>
#include <iostream>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/proto_json.h"
#include "server/screening/csl_list.h"
#include "tools/eval/background.h"
#include "tools/eval/eval_generator.h"

namespace {

constexpr char kUsage[] = R"(usage: prov-eval-gen --out DIR [flags]

Writes DIR/scenario.json (prov-sim), accounts.csv (KYC), policy.yaml (scaled tiers, projection
off), ground_truth.json and csl.csv (the screening list used).
  --preset small|scale      small: 80 nodes, 300 workloads, 40 reports; scale: 2000 nodes,
                            20000 workloads, 60 reports (flags after --preset override it)
  --nodes N (100) --workloads N (400) --reports N (60) --interval SECONDS (60) --seed N (1)
  --instances N             instances of every typology and look-alike (default nodes / 400, >= 1)
  --csl FILE                screening list (default tests/fixtures/eval/csl_sample.csv)
  --traces DIR              real traces (default ../shared/data/traces); missing files: synthetic
  --no-traces               synthetic background only
)";

int Fail(const std::string& message, int code) {
  std::cerr << "prov-eval-gen: " << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace prov::eval;
  EvalOptions o;
  std::string out_dir, csl_file = "tests/fixtures/eval/csl_sample.csv",
                       traces_dir = "../shared/data/traces";
  bool no_traces = false;
  std::vector<std::string> args(argv + 1, argv + argc);
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
        } else {
          return Fail("--preset: must be small or scale", 2);
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
      } else {
        return Fail(absl::StrCat("unknown flag '", a, "'\n", kUsage), 2);
      }
    }
    if (!ok) return Fail(absl::StrCat(a, ": bad value '", v, "'"), 2);
  }
  if (out_dir.empty()) return Fail(absl::StrCat("--out: is required\n", kUsage), 2);

  auto csl_text = prov::ReadFileToString(csl_file);
  if (!csl_text.ok())
    return Fail(absl::StrCat("--csl ", csl_file, ": ", csl_text.status().message()), 2);
  std::vector<prov::screening::RowError> row_errors;
  auto csl = prov::screening::ParseConsolidatedScreeningList(*csl_text, csl_file, &row_errors);
  if (!csl.ok()) return Fail(std::string(csl.status().message()), 2);

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
            << "  data: " << out->scenario.provenance_note() << "\n";
  for (const auto& c : out->checks) std::cout << "  check: " << c << "\n";
  return 0;
}
