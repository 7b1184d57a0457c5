// prov-eval-score: scores provd's flags against an evaluation's ground truth
// (tools/eval/README.md).
//
//   prov-eval-score --dir /tmp/eval --timeline /tmp/eval/timeline.json --flags flags.json
//   prov-eval-score --dir /tmp/eval --server 127.0.0.1:50051 --insecure --require-goal
//
// Exit status: 0 scored (and, with --require-goal, the goal met); 1 goal missed (--require-goal)
// or provd unreachable; 2 bad usage or input.
#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/accelerator_catalog.h"
#include "common/fs.h"
#include "common/grpc/bearer_channel.h"
#include "common/grpc/tls.h"
#include "common/version.h"
#include "grpcpp/grpcpp.h"
#include "provenance/v1/analysis.grpc.pb.h"
#include "tools/eval/flop_model.h"
#include "tools/eval/ground_truth.h"
#include "tools/eval/scorer.h"
#include "tools/prov-sim/scenario.h"

namespace {

constexpr char kUsage[] =
    R"(usage: prov-eval-score [--dir DIR] [flags] (--flags FILE | --server HOST:PORT)

  --dir DIR             takes DIR/ground_truth.json, DIR/scenario.json, DIR/timeline.json
  --truth FILE --scenario FILE --timeline FILE (prov-sim --timeline-out)
  --flags FILE          `provctl flags list -o json` output
  --server HOST:PORT    or ask provd (AnalysisService.ListFlags); --insecure or --tls-ca F
                        [--tls-cert F --tls-key F]
  --require-goal        exit 1 unless every adversary is found, no look-alike or background is
                        flagged and every detection delay is <= one report interval
)";

int Fail(const std::string& message, int code) {
  std::cerr << "prov-eval-score: " << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace prov::eval;
  std::string dir, truth_file, scenario_file, timeline_file, flags_file, server;
  prov::TlsFiles tls;
  bool insecure = false, require_goal = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--version") {
    std::printf("%s\n", prov::VersionLine("prov-eval-score").c_str());
    return 0;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (a == "--insecure") {
      insecure = true;
      continue;
    }
    if (a == "--require-goal") {
      require_goal = true;
      continue;
    }
    std::string* target = a == "--dir"        ? &dir
                          : a == "--truth"    ? &truth_file
                          : a == "--scenario" ? &scenario_file
                          : a == "--timeline" ? &timeline_file
                          : a == "--flags"    ? &flags_file
                          : a == "--server"   ? &server
                          : a == "--tls-ca"   ? &tls.ca_file
                          : a == "--tls-cert" ? &tls.cert_file
                          : a == "--tls-key"  ? &tls.key_file
                                              : nullptr;
    if (target == nullptr) return Fail(absl::StrCat("unknown flag '", a, "'\n", kUsage), 2);
    if (i + 1 >= args.size() || args[i + 1].empty()) return Fail(a + " needs a value", 2);
    *target = args[++i];
  }
  if (!dir.empty()) {
    if (truth_file.empty()) truth_file = dir + "/ground_truth.json";
    if (scenario_file.empty()) scenario_file = dir + "/scenario.json";
    if (timeline_file.empty()) timeline_file = dir + "/timeline.json";
  }
  if (truth_file.empty()) return Fail(absl::StrCat("--truth (or --dir) is required\n", kUsage), 2);
  if (flags_file.empty() == server.empty()) {
    return Fail(absl::StrCat("give exactly one of --flags and --server\n", kUsage), 2);
  }
  auto truth_text = prov::ReadFileToString(truth_file);
  if (!truth_text.ok()) return Fail(std::string(truth_text.status().message()), 2);
  auto truth = ParseGroundTruth(*truth_text, truth_file);
  if (!truth.ok()) return Fail(std::string(truth.status().message()), 2);

  std::optional<FlopModel> model;
  if (!scenario_file.empty()) {
    auto scenario = prov::sim::LoadScenarioFile(scenario_file);
    if (!scenario.ok()) return Fail(std::string(scenario.status().message()), 2);
    model = FlopModel::Compute(*scenario, prov::AcceleratorCatalog::Builtin());
  }
  std::optional<Timeline> timeline;
  if (!timeline_file.empty()) {
    auto text = prov::ReadFileToString(timeline_file);
    if (!text.ok()) {
      std::cerr << "prov-eval-score: " << text.status().message()
                << " (no timeline: detection delays unknown)\n";
    } else {
      auto t = ParseTimeline(*text, timeline_file);
      if (!t.ok()) return Fail(std::string(t.status().message()), 2);
      if (t->interval_seconds != truth->interval_seconds) {
        return Fail(absl::StrCat(timeline_file, ": interval ", t->interval_seconds,
                                 " s differs from the ground truth's ", truth->interval_seconds),
                    2);
      }
      timeline = *t;
    }
  }

  std::vector<FlagRecord> flags;
  std::vector<BundleRecord> bundles;  // --server only
  bool have_bundles = false;
  if (!flags_file.empty()) {
    auto text = prov::ReadFileToString(flags_file);
    if (!text.ok()) return Fail(std::string(text.status().message()), 2);
    auto parsed = ParseFlagsJson(*text, flags_file);
    if (!parsed.ok()) return Fail(std::string(parsed.status().message()), 2);
    flags = *std::move(parsed);
  } else {
    auto creds = prov::MakeClientCredentials(tls, insecure);
    if (!creds.ok()) return Fail(std::string(creds.status().message()), 2);
    std::string token;
    const char* token_file = std::getenv("PROV_TOKEN_FILE");
    if (token_file != nullptr && *token_file != '\0') {
      auto read = prov::ReadTokenFile(token_file);
      if (!read.ok()) return Fail(absl::StrCat("PROV_TOKEN_FILE: ", read.status().message()), 2);
      token = *read;
    }
    grpc::ChannelArguments channel_args;
    // A long world's flags and bundles (every evidence sentence) pass gRPC's 4 MiB default.
    channel_args.SetMaxReceiveMessageSize(-1);
    auto stub = provenance::v1::AnalysisService::NewStub(
        prov::CreateBearerChannel(server, *creds, token, channel_args));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    provenance::v1::ListFlagsRequest request;
    request.set_limit(100000);  // provd's maximum
    provenance::v1::ListFlagsResponse response;
    grpc::Status s = stub->ListFlags(&ctx, request, &response);
    if (!s.ok()) {
      return Fail(absl::StrCat("ListFlags on ", server, ": ", s.error_message(), " (code ",
                               static_cast<int>(s.error_code()), ")"),
                  1);
    }
    for (const auto& f : response.flags()) flags.push_back(FlagFromProto(f));

    grpc::ClientContext bundles_ctx;
    bundles_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    provenance::v1::ListBundlesRequest bundles_request;
    bundles_request.set_limit(100000);
    provenance::v1::ListBundlesResponse bundles_response;
    s = stub->ListBundles(&bundles_ctx, bundles_request, &bundles_response);
    if (!s.ok()) {
      std::cerr << "prov-eval-score: ListBundles on " << server << ": " << s.error_message()
                << " (no bundle line)\n";
    } else {
      for (const auto& b : bundles_response.bundles()) {
        bundles.push_back({b.bundle_id(), {b.accounts().begin(), b.accounts().end()}});
      }
      have_bundles = true;
    }
  }

  ScoreResult result = Score(*truth, model ? &*model : nullptr, timeline, flags);
  std::cout << FormatScore(result, *truth);
  if (have_bundles) std::cout << FormatBundles(*truth, bundles);
  return require_goal && !result.goal_met ? 1 : 0;
}
