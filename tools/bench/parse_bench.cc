// prov-parse-bench: what parsing a bench report into a recycled message costs provd's gRPC
// threads, without gRPC or a network: Clear + ParseFromString of the ingest bench's 10-workload
// report over a pool of messages (provd recycles up to 16,384), against fresh messages and against
// per-report arenas with a recycled initial block. One thread; prints its CPU microseconds per
// report.
//
//   build/release/bin/prov-parse-bench --pool 16384 --reports 200000
//
// The figure depends on report.proto's `optional` singular message fields (protobuf 3.21 keeps
// such sub-messages on Clear); see tools/bench/README.md.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "google/protobuf/arena.h"
#include "tools/bench/bench_flags.h"
#include "tools/bench/report_factory.h"

ABSL_FLAG(int, pool, 16384, "Messages reused round-robin (larger than the caches: cold memory)");
ABSL_FLAG(int, reports, 200000, "Reports parsed per variant");

namespace {

using provenance::v1::NodeReport;

double ThreadCpuMicros() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

// Thread CPU time, not wall time: on a shared machine the wall clock also counts other processes.
template <typename F>
double MicrosPerReport(int reports, F&& parse_one) {
  const double start = ThreadCpuMicros();
  for (int i = 0; i < reports; ++i) parse_one(i);
  return (ThreadCpuMicros() - start) / reports;
}

}  // namespace

int main(int argc, char** argv) {
  prov::bench::ParseBenchFlags(argc, argv);
  const int pool = std::max(1, absl::GetFlag(FLAGS_pool));
  const int reports = std::max(1, absl::GetFlag(FLAGS_reports));
  prov::bench::ReportFactory factory;
  std::vector<std::string> wire;  // 64 agents' reports, as the sink and provd receive them
  for (int i = 0; i < 64; ++i) {
    NodeReport r = factory.MakeTemplate(i);
    prov::bench::ReportFactory::Stamp(r, 1, absl::Now());
    wire.push_back(r.SerializeAsString());
  }
  auto slot = [pool](int i) { return static_cast<int>((static_cast<int64_t>(i) * 7919) % pool); };
  int64_t workloads = 0;  // keeps the parses observable

  std::vector<std::unique_ptr<NodeReport>> recycled(pool);
  for (auto& m : recycled) {
    m = std::make_unique<NodeReport>();
    m->ParseFromString(wire[0]);
  }
  const double heap = MicrosPerReport(reports, [&](int i) {
    NodeReport& m = *recycled[slot(i)];
    m.Clear();
    m.ParseFromString(wire[i % wire.size()]);
    workloads += m.workloads_size();
  });

  const double fresh = MicrosPerReport(reports, [&](int i) {
    auto& m = recycled[slot(i)];
    m = std::make_unique<NodeReport>();
    m->ParseFromString(wire[i % wire.size()]);
    workloads += m->workloads_size();
  });
  recycled.clear();

  struct ArenaSlot {
    std::unique_ptr<char[]> block;
    std::unique_ptr<google::protobuf::Arena> arena;
  };
  constexpr size_t kBlock = 32 * 1024;
  std::vector<ArenaSlot> arenas(pool);
  for (ArenaSlot& s : arenas) {
    s.block.reset(new char[kBlock]);
    google::protobuf::ArenaOptions options;
    options.initial_block = s.block.get();
    options.initial_block_size = kBlock;
    s.arena = std::make_unique<google::protobuf::Arena>(options);
    google::protobuf::Arena::CreateMessage<NodeReport>(s.arena.get())->ParseFromString(wire[0]);
  }
  const double arena = MicrosPerReport(reports, [&](int i) {
    ArenaSlot& s = arenas[slot(i)];
    s.arena->Reset();
    NodeReport* m = google::protobuf::Arena::CreateMessage<NodeReport>(s.arena.get());
    m->ParseFromString(wire[i % wire.size()]);
    workloads += m->workloads_size();
  });

  std::printf("report %zu bytes, pool %d, %d reports per variant (%lld workloads parsed)\n",
              wire[0].size(), pool, reports, static_cast<long long>(workloads));
  std::printf("recycled message, Clear + parse   %6.2f us/report\n", heap);
  std::printf("fresh message, delete + new + parse %6.2f us/report\n", fresh);
  std::printf("arena with recycled block, Reset + parse %6.2f us/report\n", arena);
  return 0;
}
