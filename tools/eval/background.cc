#include "tools/eval/background.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fs.h"

namespace prov::eval {
namespace {

// Background models by weight (synthetic mix); no restricted hardware in the background.
struct Weighted {
  const NodeModel* model;
  uint32_t weight;
};
constexpr Weighted kMix[] = {
    {&kH100, 40}, {&kA100, 25}, {&kH200, 10}, {&kMI300X, 15}, {&kGaudi2, 10}};

const NodeModel& PickModel(EvalContext* ctx) {
  uint32_t total = 0;
  for (const auto& m : kMix) total += m.weight;
  uint32_t pick = static_cast<uint32_t>(ctx->Uniform(total));
  for (const auto& m : kMix) {
    if (pick < m.weight) return *m.model;
    pick -= m.weight;
  }
  return kH100;
}

}  // namespace

const std::vector<std::string>& PublicImages() {
  static const auto* images = new std::vector<std::string>{
      EvalContext::Digest("public-image:pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime"),
      EvalContext::Digest("public-image:nvcr.io/nvidia/pytorch:24.05-py3"),
      EvalContext::Digest("public-image:rocm/pytorch:rocm6.1_ubuntu22.04_py3.10"),
      EvalContext::Digest("public-image:huggingface/transformers-pytorch-gpu:4.41"),
      EvalContext::Digest("public-image:vllm/vllm-openai:v0.5.0"),
      EvalContext::Digest("public-image:tensorflow/tensorflow:2.16.1-gpu"),
  };
  return *images;
}

absl::StatusOr<std::vector<std::vector<float>>> ParseDutyCycles(const std::string& csv,
                                                                const std::string& source) {
  std::vector<absl::string_view> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  if (lines.empty() ||
      absl::StripAsciiWhitespace(lines[0]) != "value,timestamp_anon,container_ip") {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": line 1: expected the header value,timestamp_anon,container_ip"));
  }
  absl::flat_hash_map<std::string, std::vector<std::pair<double, float>>> by_container;
  std::vector<std::string> order;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<absl::string_view> f = absl::StrSplit(absl::StripAsciiWhitespace(lines[i]), ',');
    double value = 0, ts = 0;
    if (f.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": line ", i + 1, ": expected 3 fields, got ", f.size()));
    }
    if (!absl::SimpleAtod(f[0], &value) || value < 0 || value > 100) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": line ", i + 1, ": column value: '", f[0], "' is not 0..100"));
    }
    if (!absl::SimpleAtod(f[1], &ts)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": line ", i + 1, ": column timestamp_anon: '", f[1], "'"));
    }
    auto [it, fresh] = by_container.try_emplace(std::string(f[2]));
    if (fresh) order.push_back(std::string(f[2]));
    it->second.emplace_back(ts, static_cast<float>(value));
  }
  std::vector<std::vector<float>> out;
  for (const auto& c : order) {
    auto& samples = by_container[c];
    std::stable_sort(samples.begin(), samples.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<float> series;
    for (const auto& s : samples) series.push_back(s.second);
    if (series.size() >= 10) out.push_back(std::move(series));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no series"));
  return out;
}

absl::StatusOr<std::vector<std::vector<float>>> ReadDutyCycles(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseDutyCycles(*text, path);
}

void AddBackground(EvalContext* ctx, const BackgroundOptions& o, const TraceData& traces) {
  const uint32_t reports = ctx->reports();
  const bool real_shapes = !traces.shapes.empty();
  const bool real_duty = !traces.duty_cycles.empty();
  const auto& images = PublicImages();
  for (uint32_t n = 0; n < o.nodes; ++n) {
    std::string account = ctx->NewAccount();
    int dc = static_cast<int>(ctx->Uniform(ctx->DatacenterCount()));
    sim::v1::SimNode* node = ctx->NewNode(dc, PickModel(ctx));
    const std::string node_id = node->node_id();
    const std::string node_ip = node->ip_address();
    // This node's share of the background workloads, spread over two lanes of 4 accelerators.
    uint32_t jobs = o.workloads / o.nodes + (n < o.workloads % o.nodes ? 1 : 0);
    jobs = std::clamp<uint32_t>(jobs, 1, 2 * reports);
    for (uint32_t lane = 0; lane < 2; ++lane) {
      uint32_t lane_jobs = jobs / 2 + (lane < jobs % 2 ? 1 : 0);
      if (lane_jobs == 0) continue;
      // Lifetimes (relative) from the trace or synthetic; each job gets at least one report.
      std::vector<double> weights;
      std::vector<const sim::JobShape*> shapes;
      for (uint32_t j = 0; j < lane_jobs; ++j) {
        const sim::JobShape* shape =
            real_shapes ? &traces.shapes[ctx->Uniform(traces.shapes.size())] : nullptr;
        shapes.push_back(shape);
        weights.push_back(shape != nullptr ? std::log1p(static_cast<double>(shape->lifetime_s))
                                           : ctx->Real(1, 3));
      }
      double total = 0;
      for (double w : weights) total += w;
      uint32_t start = static_cast<uint32_t>(ctx->Uniform(3));
      for (uint32_t j = 0; j < lane_jobs && start < reports; ++j) {
        uint32_t left = reports - start;
        uint32_t len = j + 1 == lane_jobs
                           ? left
                           : std::clamp<uint32_t>(
                                 static_cast<uint32_t>(reports * weights[j] / total), 1, left);
        auto* w = ctx->NewWorkload(*node, account, start, len);
        uint32_t gpus = shapes[j] != nullptr ? shapes[j]->num_gpu : 1 + ctx->Uniform(4);
        w->set_first_accelerator(lane * 4);
        w->set_accelerator_count(std::clamp<uint32_t>(gpus, 1, 4));
        // The NGC PyTorch image is the most popular; then the other public ones, then private.
        double image_roll = ctx->Real(0, 1);
        w->set_image_digest(image_roll < 0.25   ? images[1]
                            : image_roll < 0.55 ? images[ctx->Uniform(images.size())]
                                                : EvalContext::Digest(absl::StrCat(
                                                      "private:", account, ":", ctx->Uniform(3))));
        if (ctx->Uniform(5) == 0) w->set_kind(provenance::v1::WORKLOAD_KIND_SLURM_JOB);
        if (w->kind() == provenance::v1::WORKLOAD_KIND_SLURM_JOB) {
          w->set_workload_id(absl::StrCat("slurm:bg:", 100000 + ctx->Uniform(900000), "-", n));
        }
        double roll = ctx->Real(0, 1);
        if (roll < 0.55) {
          w->set_launcher(ctx->Uniform(10) < 7 ? "torchrun" : "deepspeed");
          w->set_tensor_activity(ctx->Real(0.25, 0.6));
          if (w->accelerator_count() > 1) {  // single-node data parallel: master is this node
            w->set_world_size(static_cast<int32_t>(w->accelerator_count()));
            w->set_rank(0);
            w->set_master_addr(node_ip);
            w->set_master_port(29500);
          }
        } else if (roll < 0.9) {
          w->set_workload_class(provenance::v1::WORKLOAD_CLASS_INFERENCE);
          w->set_launcher("vllm");
          w->set_tensor_activity(ctx->Real(0.05, 0.25));
          w->add_listening_ports(8000);
        } else {
          w->set_workload_class(provenance::v1::WORKLOAD_CLASS_UNKNOWN);
          w->set_class_confidence(0);
          w->set_launcher("python");
          w->set_tensor_activity(-1);
        }
        if (real_duty) {
          const auto& series = traces.duty_cycles[ctx->Uniform(traces.duty_cycles.size())];
          // One sample per report interval (series are 1-minute steps), from a random offset.
          size_t step = std::max<size_t>(1, ctx->interval() / 60);
          size_t offset = ctx->Uniform(series.size());
          double sum = 0;
          for (uint32_t k = 0; k < std::min<uint32_t>(len, 240); ++k) {
            float v = series[(offset + k * step) % series.size()];
            w->add_utilization_series(v);
            sum += v;
          }
          w->set_utilization_pct(sum / w->utilization_series_size());
          w->set_origin(absl::StrCat(
              shapes[j] != nullptr ? "alibaba_gpu_v2023:" + shapes[j]->name : "synthetic-shape",
              "+alibaba_genai_v2026_duty_cycle"));
        } else {
          w->set_utilization_pct(ctx->Real(55, 100));
          for (uint32_t k = start; k < start + len; ++k) {
            if (ctx->Uniform(50) == 0) w->add_idle_reports(k);  // ~2% synthetic stalls
          }
          w->set_origin(shapes[j] != nullptr ? "alibaba_gpu_v2023:" + shapes[j]->name
                                             : "synthetic");
        }
        start += len;
      }
    }
    Lineage l;
    l.id = absl::StrCat("L-bg-", node_id);
    l.typology = "background";
    l.role = kRoleBackground;
    l.description = "ordinary tenant: one node, unrelated jobs, no links to other accounts";
    l.accounts = {account};
    l.training_accounts = {account};
    l.nodes = {node_id};
    ctx->truth().lineages.push_back(std::move(l));
  }
}

}  // namespace prov::eval
