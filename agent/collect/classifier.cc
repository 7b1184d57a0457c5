#include "agent/collect/classifier.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace prov::agent {
namespace {

std::string Basename(absl::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path : path.substr(slash + 1));
}

struct Scores {
  double training = 0, inference = 0;
  std::vector<std::string> reasons;
  std::string launcher;

  void Add(double train_w, double infer_w, const std::string& reason, const std::string& l = "") {
    if (std::find(reasons.begin(), reasons.end(), reason) != reasons.end()) return;
    training = 1 - (1 - training) * (1 - train_w);
    inference = 1 - (1 - inference) * (1 - infer_w);
    reasons.push_back(reason);
    if (launcher.empty() && !l.empty()) launcher = l;
  }
};

// What argv runs: program basename, "-m module", or the first *.py script.
struct Invocation {
  std::string program, module, script, first_arg;
};

Invocation Parse(const std::vector<std::string>& argv) {
  Invocation inv;
  if (argv.empty()) return inv;
  inv.program = Basename(argv[0]);
  if (argv.size() > 1) inv.first_arg = argv[1];
  for (size_t i = 1; i < argv.size(); ++i) {
    if (argv[i] == "-m" && i + 1 < argv.size() && inv.module.empty()) inv.module = argv[i + 1];
    if (inv.script.empty() && absl::EndsWith(argv[i], ".py")) inv.script = Basename(argv[i]);
  }
  // "python3 /usr/local/bin/torchrun ...": an entry-point script run by the interpreter is the
  // program (its first non-option argument, when it is not a .py script or -m module).
  if (absl::StartsWith(inv.program, "python") && inv.module.empty()) {
    for (size_t i = 1; i < argv.size(); ++i) {
      if (absl::StartsWith(argv[i], "-")) continue;
      if (!absl::EndsWith(argv[i], ".py")) {
        inv.program = Basename(argv[i]);
        inv.first_arg = i + 1 < argv.size() ? argv[i + 1] : "";
      }
      break;
    }
  }
  return inv;
}

void ArgvRules(const std::vector<std::string>& argv, Scores* s) {
  Invocation inv = Parse(argv);
  const std::string& p = inv.program;
  const std::string& m = inv.module;
  // Serving first: its launcher name should win over generic python.
  if ((p == "vllm" && inv.first_arg == "serve") || absl::StartsWith(m, "vllm.entrypoints")) {
    s->Add(0, 0.9, "argv mentions vllm serve / vllm.entrypoints (serving)", "vllm");
  }
  if (p == "trtllm-serve") s->Add(0, 0.9, "launcher trtllm-serve (serving)", "trtllm-serve");
  if (p == "tritonserver") s->Add(0, 0.9, "launcher tritonserver (serving)", "triton");
  if (p == "text-generation-launcher" || p == "text-generation-server" ||
      absl::StartsWith(m, "text_generation_server")) {
    s->Add(0, 0.9, "launcher text-generation-inference (serving)", "tgi");
  }
  if (absl::StartsWith(m, "sglang.launch_server")) {
    s->Add(0, 0.9, "argv mentions sglang.launch_server (serving)", "sglang");
  }
  if (p == "torchrun" || m == "torch.distributed.run" || m == "torch.distributed.launch") {
    s->Add(0.6, 0, "launcher torchrun", "torchrun");
  }
  if (p == "deepspeed" || absl::StartsWith(m, "deepspeed.launcher")) {
    s->Add(0.6, 0, "launcher deepspeed", "deepspeed");
  }
  if ((p == "accelerate" && inv.first_arg == "launch") || m == "accelerate.commands.launch") {
    s->Add(0.5, 0, "launcher accelerate launch", "accelerate");
  }
  std::string script = absl::AsciiStrToLower(inv.script);
  if (absl::StartsWith(script, "pretrain_")) {
    s->Add(0.7, 0, "script name matches Megatron pretrain_*.py", "megatron");
  } else if (absl::StrContains(script, "train") || absl::StrContains(script, "finetune") ||
             absl::StrContains(script, "fine_tune")) {
    s->Add(0.4, 0, "script name contains train/finetune");
  }
}

std::optional<int> EnvInt(const ProcessInfo& p, const char* name) {
  auto it = p.env.find(name);
  int v = 0;
  if (it == p.env.end() || !absl::SimpleAtoi(it->second, &v)) return std::nullopt;
  return v;
}

void EnvRules(const ProcessInfo& p, Scores* s, provenance::v1::DistributedMarkers* d) {
  if (p.env.count("TORCHELASTIC_RUN_ID")) {
    s->Add(0.5, 0, "TORCHELASTIC_RUN_ID set (torchelastic worker)", "torchrun");
  }
  for (const auto& [name, value] : p.env) {
    if (absl::StartsWith(name, "DEEPSPEED_"))
      s->Add(0.4, 0, "DEEPSPEED_* environment", "deepspeed");
    if (absl::StartsWith(name, "ACCELERATE_")) {
      s->Add(0.3, 0, "ACCELERATE_* environment", "accelerate");
    }
  }
  auto world = EnvInt(p, "WORLD_SIZE");
  auto rank = EnvInt(p, "RANK");
  auto local = EnvInt(p, "LOCAL_RANK");
  if (world && *world >= 0) d->set_world_size(*world);
  if (rank && *rank >= 0 && (!d->has_rank() || *rank < d->rank())) d->set_rank(*rank);
  if (local && *local >= 0 && (!d->has_local_rank() || *local < d->local_rank())) {
    d->set_local_rank(*local);
  }
  if (auto it = p.env.find("MASTER_ADDR"); it != p.env.end()) d->set_master_addr(it->second);
  if (auto port = EnvInt(p, "MASTER_PORT"); port && *port > 0 && *port <= 65535) {
    d->set_master_port(*port);
  }
  if ((world && *world > 1) || rank) {
    s->Add(0.2, 0,
           "distributed ranks present (RANK/WORLD_SIZE); ranks alone do not prove training");
  }
}

bool IsSizeBoundary(char c) { return c == '-' || c == '_' || c == '/' || c == '.' || c == '='; }

}  // namespace

std::optional<double> ModelSizeHint(const std::vector<std::string>& argv) {
  for (const std::string& arg : argv) {
    for (size_t i = 0; i < arg.size(); ++i) {
      if (!absl::ascii_isdigit(arg[i]) || (i > 0 && !IsSizeBoundary(arg[i - 1]))) continue;
      size_t j = i;
      while (j < arg.size() && (absl::ascii_isdigit(arg[j]) || arg[j] == '.')) ++j;
      if (j >= arg.size() || (arg[j] != 'b' && arg[j] != 'B')) continue;
      if (j + 1 < arg.size() && !IsSizeBoundary(arg[j + 1])) continue;
      double billions = 0;
      if (absl::SimpleAtod(arg.substr(i, j - i), &billions) && billions > 0 && billions < 1e5) {
        return billions * 1e9;
      }
    }
  }
  return std::nullopt;
}

Classification Classify(const ClassifierInput& input) {
  Classification c;
  Scores s;
  std::optional<double> params;
  for (const ProcessInfo* p : input.processes) {
    ArgvRules(p->argv, &s);
    ArgvRules(p->parent_argv, &s);
    EnvRules(*p, &s, &c.markers);
    if (!params) params = ModelSizeHint(p->argv);
  }
  if (s.inference >= 0.9 && s.training > 0) {
    s.reasons.push_back("serving launcher with ranks: parallel serving is still inference");
  }
  if (input.inbound_peer_addresses >= kManyInboundPeers) {
    s.Add(0, 0.5,
          absl::StrCat("listening port with ", input.inbound_peer_addresses,
                       " inbound peer addresses (serving pattern)"));
  }
  if (params && input.memory_used_bytes && *input.memory_used_bytes > 0) {
    double per_param = static_cast<double>(*input.memory_used_bytes) / *params;
    bool sharded = c.markers.has_world_size() && c.markers.world_size() > 1;
    if (per_param >= 10) {
      s.Add(0.3, 0,
            absl::StrCat("accelerator memory ~", static_cast<int>(per_param),
                         " bytes per parameter of the model size in argv (training ~16)"));
    } else if (per_param <= 4 && !sharded) {
      s.Add(0, 0.2,
            absl::StrCat("accelerator memory ~", static_cast<int>(per_param + 0.5),
                         " bytes per parameter of the model size in argv (inference ~2)"));
    }
  }
  c.reasons = s.reasons;
  c.launcher = s.launcher;
  if (c.launcher.empty() && !input.processes.empty() && !input.processes[0]->argv.empty()) {
    c.launcher =
        absl::StartsWith(Basename(input.processes[0]->argv[0]), "python") ? "python" : "other";
  }
  double win = std::max(s.training, s.inference), lose = std::min(s.training, s.inference);
  if (win < 0.3) {
    c.reasons.push_back("no rule reached the 0.3 evidence threshold");
    return c;
  }
  c.workload_class = s.training >= s.inference ? provenance::v1::WORKLOAD_CLASS_TRAINING
                                               : provenance::v1::WORKLOAD_CLASS_INFERENCE;
  c.confidence = std::clamp(win - lose / 2, 0.0, 1.0);
  return c;
}

}  // namespace prov::agent
