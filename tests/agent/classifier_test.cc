#include "agent/collect/classifier.h"

#include "gtest/gtest.h"

namespace prov::agent {
namespace {

using provenance::v1::WORKLOAD_CLASS_INFERENCE;
using provenance::v1::WORKLOAD_CLASS_TRAINING;
using provenance::v1::WORKLOAD_CLASS_UNKNOWN;

ProcessInfo Proc(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
                 std::vector<std::string> parent = {}) {
  ProcessInfo p;
  p.pid = 10;
  p.argv = std::move(argv);
  p.env = std::move(env);
  p.parent_argv = std::move(parent);
  return p;
}

Classification ClassifyOne(const ProcessInfo& p, size_t inbound = 0,
                           std::optional<uint64_t> memory = std::nullopt) {
  return Classify(
      {.processes = {&p}, .inbound_peer_addresses = inbound, .memory_used_bytes = memory});
}

bool HasReason(const Classification& c, const std::string& text) {
  for (const auto& r : c.reasons) {
    if (r.find(text) != std::string::npos) return true;
  }
  return false;
}

struct Case {
  const char* name;
  ProcessInfo proc;
  provenance::v1::WorkloadClass want;
  const char* launcher;
  const char* reason;
};

TEST(ClassifierTest, EveryRule) {
  const Case cases[] = {
      {"torchrun", Proc({"/usr/bin/torchrun", "--nproc-per-node=8", "main.py"}),
       WORKLOAD_CLASS_TRAINING, "torchrun", "launcher torchrun"},
      {"torch.distributed.run", Proc({"python", "-m", "torch.distributed.run", "x.py"}),
       WORKLOAD_CLASS_TRAINING, "torchrun", "launcher torchrun"},
      {"torchelastic env", Proc({"python", "x.py"}, {{"TORCHELASTIC_RUN_ID", "abc"}}),
       WORKLOAD_CLASS_TRAINING, "torchrun", "TORCHELASTIC_RUN_ID"},
      {"torchrun via interpreter", Proc({"/usr/bin/python3", "/usr/local/bin/torchrun", "x.py"}),
       WORKLOAD_CLASS_TRAINING, "torchrun", "launcher torchrun"},
      {"torchrun parent", Proc({"python", "x.py"}, {}, {"torchrun", "x.py"}),
       WORKLOAD_CLASS_TRAINING, "torchrun", "launcher torchrun"},
      {"deepspeed", Proc({"deepspeed", "--num_gpus=8", "x.py"}), WORKLOAD_CLASS_TRAINING,
       "deepspeed", "launcher deepspeed"},
      {"deepspeed env", Proc({"python", "x.py"}, {{"DEEPSPEED_ZERO_STAGE", ""}}),
       WORKLOAD_CLASS_TRAINING, "deepspeed", "DEEPSPEED_*"},
      {"accelerate", Proc({"accelerate", "launch", "x.py"}), WORKLOAD_CLASS_TRAINING, "accelerate",
       "launcher accelerate launch"},
      {"accelerate env",
       Proc({"python", "x.py"}, {{"ACCELERATE_MIXED_PRECISION", ""}, {"RANK", "0"}}),
       WORKLOAD_CLASS_TRAINING, "accelerate", "ACCELERATE_*"},
      {"megatron", Proc({"python", "/opt/Megatron-LM/pretrain_gpt.py", "--tp", "8"}),
       WORKLOAD_CLASS_TRAINING, "megatron", "Megatron pretrain_*.py"},
      {"train script", Proc({"python3", "scripts/train_lora.py"}), WORKLOAD_CLASS_TRAINING,
       "python", "script name contains train"},
      {"vllm serve", Proc({"/usr/local/bin/vllm", "serve", "meta-llama/Llama-3-8B"}),
       WORKLOAD_CLASS_INFERENCE, "vllm", "vllm serve"},
      {"vllm entrypoints", Proc({"python3", "-m", "vllm.entrypoints.openai.api_server"}),
       WORKLOAD_CLASS_INFERENCE, "vllm", "vllm serve"},
      {"trtllm-serve", Proc({"trtllm-serve", "model"}), WORKLOAD_CLASS_INFERENCE, "trtllm-serve",
       "trtllm-serve"},
      {"triton", Proc({"/opt/tritonserver/bin/tritonserver", "--model-repository=/m"}),
       WORKLOAD_CLASS_INFERENCE, "triton", "tritonserver"},
      {"tgi", Proc({"text-generation-launcher", "--model-id", "x"}), WORKLOAD_CLASS_INFERENCE,
       "tgi", "text-generation-inference"},
      {"sglang", Proc({"python", "-m", "sglang.launch_server", "--model-path", "x"}),
       WORKLOAD_CLASS_INFERENCE, "sglang", "sglang.launch_server"},
      {"nothing", Proc({"python3", "app.py"}), WORKLOAD_CLASS_UNKNOWN, "python", "no rule reached"},
      {"ranks alone", Proc({"./bin", "x"}, {{"RANK", "1"}, {"WORLD_SIZE", "4"}}),
       WORKLOAD_CLASS_UNKNOWN, "other", "ranks alone do not prove training"},
  };
  for (const Case& c : cases) {
    Classification r = ClassifyOne(c.proc);
    EXPECT_EQ(r.workload_class, c.want) << c.name;
    EXPECT_EQ(r.launcher, c.launcher) << c.name;
    EXPECT_TRUE(HasReason(r, c.reason)) << c.name;
    if (c.want != WORKLOAD_CLASS_UNKNOWN) {
      EXPECT_GT(r.confidence, 0.2) << c.name;
    } else {
      EXPECT_EQ(r.confidence, 0) << c.name;
    }
  }
}

TEST(ClassifierTest, VllmWithRanksIsInference) {
  ProcessInfo p =
      Proc({"vllm", "serve", "model", "--tensor-parallel-size", "8"}, {{"RANK", "0"},
                                                                       {"WORLD_SIZE", "8"},
                                                                       {"LOCAL_RANK", "0"},
                                                                       {"MASTER_ADDR", "10.1.2.3"},
                                                                       {"MASTER_PORT", "29500"}});
  Classification c = ClassifyOne(p);
  EXPECT_EQ(c.workload_class, WORKLOAD_CLASS_INFERENCE);
  EXPECT_TRUE(HasReason(c, "parallel serving is still inference"));
  EXPECT_EQ(c.markers.world_size(), 8);
  EXPECT_EQ(c.markers.rank(), 0);
  EXPECT_EQ(c.markers.master_addr(), "10.1.2.3");
  EXPECT_EQ(c.markers.master_port(), 29500u);
}

TEST(ClassifierTest, ManyInboundPeersSuggestServing) {
  Classification c = ClassifyOne(Proc({"./server"}), /*inbound=*/12);
  EXPECT_EQ(c.workload_class, WORKLOAD_CLASS_INFERENCE);
  EXPECT_TRUE(HasReason(c, "12 inbound peer addresses"));
  EXPECT_EQ(ClassifyOne(Proc({"./server"}), 2).workload_class, WORKLOAD_CLASS_UNKNOWN);
}

TEST(ClassifierTest, MemoryPerParameter) {
  EXPECT_EQ(ModelSizeHint({"python", "--model", "org/Llama-3-70B-Instruct"}), 70e9);
  EXPECT_EQ(ModelSizeHint({"x", "--model=qwen2.5-1.5b"}), 1.5e9);
  EXPECT_EQ(ModelSizeHint({"x", "--batch=8", "abc7b"}), std::nullopt);
  // 7B model using 112 GB: 16 bytes/param -> training (optimizer state).
  ProcessInfo big = Proc({"./run", "--model", "llama-7b"});
  Classification t = ClassifyOne(big, 0, 112'000'000'000ull);
  EXPECT_EQ(t.workload_class, WORKLOAD_CLASS_TRAINING);
  EXPECT_TRUE(HasReason(t, "16 bytes per parameter"));
  // 70B model in 150 GB: ~2 bytes/param -> inference (weights only).
  ProcessInfo small = Proc({"./run", "--model", "llama-70b"}, {{"SOME", ""}});
  Classification i = Classify({.processes = {&small},
                               .inbound_peer_addresses = 5,
                               .memory_used_bytes = 150'000'000'000ull});
  EXPECT_EQ(i.workload_class, WORKLOAD_CLASS_INFERENCE);
  EXPECT_TRUE(HasReason(i, "2 bytes per parameter"));
}

TEST(ClassifierTest, ReasonsNeverContainArgumentValues) {
  ProcessInfo p = Proc({"torchrun", "--nproc-per-node=8", "train_secret_project.py",
                        "--hf-token=hf_abcdef", "--model=secret-model-7b"},
                       {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "10.0.0.1"}});
  Classification c = ClassifyOne(p, 0, 120'000'000'000ull);
  for (const auto& r : c.reasons) {
    EXPECT_EQ(r.find("secret"), std::string::npos) << r;
    EXPECT_EQ(r.find("hf_"), std::string::npos) << r;
    EXPECT_EQ(r.find("10.0.0.1"), std::string::npos) << r;
  }
}

}  // namespace
}  // namespace prov::agent
