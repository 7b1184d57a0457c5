// Families that attack provd's agent stream: malformed frames, oversized fields, unknown fields,
// sequence jumps, interval claims, and SIGKILL during ingest.
#include "tools/probe/probe_ingest.h"

#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/unknown_field_set.h"
#include "tools/bench/report_factory.h"
#include "tools/probe/raw_stream.h"

namespace prov::probe {
namespace {

namespace pb = provenance::v1;

constexpr absl::Duration kStreamDeadline = absl::Seconds(60);
constexpr char kBoot[] = "boot-probe";

pb::NodeReport Genuine(const std::string& node, uint64_t seq, const std::string& account) {
  static bench::ReportFactory factory;
  pb::NodeReport r = factory.MakeTemplate(static_cast<int>(std::hash<std::string>()(node) % 9973));
  r.mutable_node()->set_node_id(node);
  r.mutable_node()->set_boot_id(kBoot);
  for (auto& w : *r.mutable_workloads()) w.mutable_attribution()->set_account(account);
  bench::ReportFactory::Stamp(r, seq, absl::Now());
  return r;
}

std::string Frame(const pb::NodeReport& r) { return r.SerializeAsString(); }

bool Rejected(const RawStreamResult& res, uint64_t seq) {
  for (const auto& r : res.rejections) {
    if (r.seq() == seq) return true;
  }
  return false;
}

std::string Describe(const RawStreamResult& res) {
  std::string s = absl::StrCat("stream ended ", res.status.error_code(), " '",
                               res.status.error_message().substr(0, 80), "'");
  if (!res.rejections.empty()) {
    absl::StrAppend(&s, ", ", res.rejections.size(), " rejection(s): '",
                    res.rejections[0].message().substr(0, 80), "'");
  }
  return s;
}

// Sends seq first..last of `node` on a fresh stream (what the agent does after a reconnect).
RawStreamResult Resend(ProbeProvd& provd, const std::string& node, uint64_t first, uint64_t last,
                       const std::string& account) {
  RawReportStream stream(provd.channel(), kStreamDeadline);
  for (uint64_t seq = first; seq <= last; ++seq) stream.Send(Frame(Genuine(node, seq, account)));
  return stream.Close();
}

// Replaces the first occurrence of `marker` in `bytes` with `with` (same length).
std::string Patch(std::string bytes, const std::string& marker, const std::string& with) {
  size_t at = bytes.find(marker);
  if (at != std::string::npos) bytes.replace(at, marker.size(), with);
  return bytes;
}

}  // namespace

FamilyResult MalformedFrames(const ProbeEnv& env) {
  FamilyResult out{.name = "frames"};
  auto provd = StartFamilyProvd(env, out);
  if (provd == nullptr) return out;
  std::mt19937 rng(14);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
  };
  const std::string genuine = Frame(Genuine("template", 3, "probe-frames"));
  auto invalid_utf8_in = [&](std::function<void(pb::NodeReport&)> set_marker) {
    pb::NodeReport r = Genuine("template", 3, "probe-frames");
    set_marker(r);
    return Patch(Frame(r), "PRBMRKR1", "\xff\xfe\xfd\xfc\xc3\x28\xa0\xa1");
  };
  std::vector<std::pair<std::string, std::string>> variants = {
      {"random 1 byte", random_bytes(1)},
      {"random 7 bytes", random_bytes(7)},
      {"random 64 bytes", random_bytes(64)},
      {"random 1 KiB", random_bytes(1024)},
      {"random 64 KiB", random_bytes(65536)},
      {"truncated to 10%", genuine.substr(0, genuine.size() / 10)},
      {"truncated to 50%", genuine.substr(0, genuine.size() / 2)},
      {"truncated to 90%", genuine.substr(0, genuine.size() * 9 / 10)},
      {"truncated by 1 byte", genuine.substr(0, genuine.size() - 1)},
      {"invalid UTF-8 hostname",
       invalid_utf8_in([](pb::NodeReport& r) { r.mutable_node()->set_hostname("PRBMRKR1"); })},
      {"invalid UTF-8 MASTER_ADDR", invalid_utf8_in([](pb::NodeReport& r) {
         r.mutable_workloads(0)->mutable_distributed()->set_master_addr("10.20.PRBMRKR1");
       })},
      {"invalid UTF-8 account", invalid_utf8_in([](pb::NodeReport& r) {
         r.mutable_workloads(1)->mutable_attribution()->set_account("PRBMRKR1");
       })},
  };
  for (size_t i = 0; i < variants.size(); ++i) {
    const auto& [label, bad] = variants[i];
    const std::string node = absl::StrCat("probe-frames-", i);
    RawReportStream stream(provd->channel(), kStreamDeadline);
    stream.Send(Frame(Genuine(node, 1, "probe-frames")));
    stream.Send(Frame(Genuine(node, 2, "probe-frames")));
    stream.Send(bad);
    stream.Send(Frame(Genuine(node, 3, "probe-frames")));
    stream.Send(Frame(Genuine(node, 4, "probe-frames")));
    RawStreamResult res = stream.Close();
    ++out.variants;
    const uint64_t acked = res.committed_seq[kBoot];
    if (acked < 4) Resend(*provd, node, acked + 1, 4, "probe-frames");
    const int64_t stored = provd->StoredReports(node);
    const bool silent = res.status.ok() && res.rejections.empty();
    if (silent) ++out.wrong_acceptances;
    if (stored >= 0 && stored < 4) out.reports_lost += static_cast<int>(4 - stored);
    if (silent || stored != 4) {
      out.details.push_back(absl::StrCat(label, ": ", Describe(res), ", acked ", acked,
                                         ", stored after resend ", stored, " of 4"));
    }
    if (!StillServing(*provd, out)) break;
  }
  out.notes = "good reports before and after a bad frame on one stream; resent as an agent would";
  return out;
}

FamilyResult OversizedFields(const ProbeEnv& env) {
  FamilyResult out{.name = "oversize"};
  auto provd = StartFamilyProvd(env, out);
  if (provd == nullptr) return out;
  const std::string k64(64 * 1024, 'a');
  using Mutator = std::function<void(pb::NodeReport&)>;
  std::vector<std::pair<std::string, Mutator>> variants = {
      {"hostname 64 KiB", [&](pb::NodeReport& r) { r.mutable_node()->set_hostname(k64); }},
      {"region 64 KiB", [&](pb::NodeReport& r) { r.mutable_node()->set_region(k64); }},
      {"workload_id 64 KiB",
       [&](pb::NodeReport& r) { r.mutable_workloads(0)->set_workload_id(k64); }},
      {"a dozen 64 KiB fields",
       [&](pb::NodeReport& r) {
         r.mutable_node()->set_hostname(k64);
         r.mutable_node()->set_region(k64);
         r.mutable_node()->set_agent_version(k64);
         r.mutable_accelerators(0)->set_model(k64);
         r.mutable_accelerators(0)->set_serial(k64);
         r.mutable_accelerators(0)->set_uuid(k64);
         auto* w = r.mutable_workloads(0);
         w->set_cgroup_path(k64);
         w->set_launcher(k64);
         w->set_cmdline_digest(k64);
         w->set_image_digest(k64);
         w->set_pod_name(k64);
         w->mutable_attribution()->set_detail(k64);
       }},
      {"artifact digest 1 MiB",
       [&](pb::NodeReport& r) {
         r.mutable_workloads(0)->add_artifact_digests(std::string(1 << 20, 'f'));
       }},
      {"artifact digest 8 MiB",
       [&](pb::NodeReport& r) {
         r.mutable_workloads(0)->add_artifact_digests(std::string(8 << 20, 'f'));
       }},
      {"100,000 node addresses",
       [&](pb::NodeReport& r) {
         for (int i = 0; i < 100000; ++i) {
           r.mutable_node()->add_addresses(
               absl::StrFormat("10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255));
         }
       }},
      {"20,000 peers",
       [&](pb::NodeReport& r) {
         for (int i = 0; i < 20000; ++i) {
           auto* p = r.mutable_workloads(0)->add_peers();
           p->set_remote_address(absl::StrFormat("10.9.%d.%d", i >> 8, i & 255));
           p->set_remote_port(29500);
           p->set_state("ESTABLISHED");
         }
       }},
      {"5,000 workloads",
       [&](pb::NodeReport& r) {
         pb::Workload w = r.workloads(0);
         for (int i = 0; i < 5000; ++i) {
           w.set_workload_id(absl::StrCat("proc:x:", i));
           *r.add_workloads() = w;
         }
       }},
      {"2,000 accelerators",
       [&](pb::NodeReport& r) {
         pb::Accelerator a = r.accelerators(0);
         for (int i = 0; i < 2000; ++i) {
           a.set_pci_address(absl::StrFormat("0001:%02x:%02x.0", i >> 8, i & 255));
           *r.add_accelerators() = a;
         }
       }},
      {"10,000 collector errors",
       [&](pb::NodeReport& r) {
         for (int i = 0; i < 10000; ++i) {
           auto* e = r.mutable_health()->add_collector_errors();
           e->set_collector("procfs");
           e->set_message(std::string(1000, 'e'));
         }
       }},
  };
  const int64_t db_before = provd->DatabaseBytes();
  for (size_t i = 0; i < variants.size(); ++i) {
    const auto& [label, mutate] = variants[i];
    const std::string node = absl::StrCat("probe-oversize-", i);
    pb::NodeReport r = Genuine(node, 1, "probe-oversize");
    mutate(r);
    RawReportStream stream(provd->channel(), kStreamDeadline);
    stream.Send(Frame(r));
    RawStreamResult res = stream.Close();
    ++out.variants;
    const bool taken = res.status.ok() && res.committed_seq[kBoot] >= 1 && !Rejected(res, 1);
    if (taken) {
      ++out.wrong_acceptances;
      out.details.push_back(absl::StrCat(label, ": accepted and stored (", Describe(res), ")"));
    }
    // The node's next genuine report must still be stored.
    Resend(*provd, node, 2, 2, "probe-oversize");
    const int64_t stored = provd->StoredReports(node);
    if (stored >= 0 && stored < 1) {
      ++out.reports_lost;
      out.details.push_back(absl::StrCat(label, ": the next genuine report was not stored"));
    }
    if (!StillServing(*provd, out)) break;
  }
  out.notes = absl::StrFormat("database grew %.1f MiB over all variants",
                              (provd->DatabaseBytes() - db_before) / 1048576.0);
  return out;
}

FamilyResult UnknownFields(const ProbeEnv& env) {
  FamilyResult out{.name = "unknown"};
  auto provd = StartFamilyProvd(env, out);
  if (provd == nullptr) return out;
  const std::string blob(1 << 20, 'u');
  using Mutator = std::function<void(pb::NodeReport&)>;
  auto add_unknown = [&](google::protobuf::Message& m) {
    m.GetReflection()->MutableUnknownFields(&m)->AddLengthDelimited(9999, blob);
  };
  std::vector<std::pair<std::string, Mutator>> variants = {
      {"1 MiB unknown field in the report", [&](pb::NodeReport& r) { add_unknown(r); }},
      {"1 MiB unknown field in an accelerator",
       [&](pb::NodeReport& r) { add_unknown(*r.mutable_accelerators(0)); }},
      {"1 MiB unknown field in a workload",
       [&](pb::NodeReport& r) { add_unknown(*r.mutable_workloads(0)); }},
      {"1 MiB unknown field in the node identity",
       [&](pb::NodeReport& r) { add_unknown(*r.mutable_node()); }},
  };
  for (size_t i = 0; i < variants.size(); ++i) {
    const auto& [label, mutate] = variants[i];
    const std::string node = absl::StrCat("probe-unknown-", i);
    const int64_t before = provd->DatabaseBytes();
    RawReportStream stream(provd->channel(), kStreamDeadline);
    for (uint64_t seq = 1; seq <= 5; ++seq) {
      pb::NodeReport r = Genuine(node, seq, "probe-unknown");
      mutate(r);
      stream.Send(Frame(r));
    }
    RawStreamResult res = stream.Close();
    ++out.variants;
    const int64_t grew = provd->DatabaseBytes() - before;
    if (grew > 2 * (1 << 20)) {  // 5 MiB of unknown data sent; genuine reports add ~100 KB
      ++out.wrong_acceptances;
      out.details.push_back(absl::StrFormat("%s: database grew %.1f MiB for 5 reports (%s)", label,
                                            grew / 1048576.0, Describe(res)));
    }
    const int64_t stored = provd->StoredReports(node);
    const uint64_t acked = res.committed_seq[kBoot];
    if (stored >= 0 && static_cast<uint64_t>(stored) < acked) {
      out.reports_lost += static_cast<int>(acked - stored);
    }
    if (!StillServing(*provd, out)) break;
  }
  out.notes = "5 reports per variant, each carrying 1 MiB of fields provd does not know";
  return out;
}

FamilyResult SequenceJumps(const ProbeEnv& env) {
  FamilyResult out{.name = "seq"};
  auto provd = StartFamilyProvd(env, out);
  if (provd == nullptr) return out;
  const std::vector<uint64_t> jumps = {1ull << 63, 1ull << 40, 100000000ull, 10000000ull};
  for (size_t i = 0; i < jumps.size(); ++i) {
    const std::string node = absl::StrCat("probe-seq-", i);
    RawReportStream stream(provd->channel(), kStreamDeadline);
    stream.Send(Frame(Genuine(node, 1, "probe-seq")));
    stream.Send(Frame(Genuine(node, jumps[i], "probe-seq")));
    RawStreamResult res = stream.Close();
    RawStreamResult after = Resend(*provd, node, 2, 4, "probe-seq");
    ++out.variants;
    const bool jump_taken = res.committed_seq[kBoot] >= jumps[i] && !Rejected(res, jumps[i]);
    if (jump_taken) ++out.wrong_acceptances;
    const int64_t stored = provd->StoredReports(node);
    const int64_t genuine_stored = stored - (jump_taken ? 1 : 0);
    if (stored >= 0 && genuine_stored < 4) out.reports_lost += static_cast<int>(4 - genuine_stored);
    if (jump_taken || genuine_stored != 4) {
      out.details.push_back(absl::StrCat("seq ", jumps[i], ": ", Describe(res),
                                         jump_taken ? ", jump acked" : "", "; genuine 2..4 ",
                                         Describe(after), ", acked ", after.committed_seq[kBoot],
                                         "; stored ", stored));
    }
    if (!StillServing(*provd, out)) break;
  }
  out.notes = "seq 1, then a jump, then the node's genuine seq 2..4";
  return out;
}

FamilyResult IntervalClaims(const ProbeEnv& env) {
  FamilyResult out{.name = "interval"};
  auto provd = StartFamilyProvd(env, out);
  if (provd == nullptr) return out;
  const std::vector<uint32_t> claims = {3600, 86400, 4294967295u};
  for (size_t i = 0; i < claims.size(); ++i) {
    const std::string node = absl::StrCat("probe-interval-", i);
    const std::string account = absl::StrCat("probe-interval-acct-", i);
    const absl::Time start = absl::Now();
    RawReportStream stream(provd->channel(), kStreamDeadline);
    for (uint64_t seq = 1; seq <= 120; ++seq) {
      pb::NodeReport r = Genuine(node, seq, account);
      r.set_interval_seconds(claims[i]);
      stream.Send(Frame(r));
    }
    RawStreamResult res = stream.Close();
    const double elapsed_s = absl::ToDoubleSeconds(absl::Now() - start);
    ++out.variants;
    const double credited = provd->AcceleratorHours(account);
    // 10 workloads on one accelerator each. Generous bound: what elapsed on provd's clock plus
    // one full claimed interval (at most an hour) for the first report, doubled.
    const double bound = 10 * 2 * (elapsed_s + 3600) / 3600;
    if (credited > bound) {
      ++out.wrong_acceptances;
      out.details.push_back(absl::StrFormat(
          "claim %u s x 120 reports sent in %.2f s: %.1f accelerator-hours credited (bound %.1f)",
          claims[i], elapsed_s, credited, bound));
    } else {
      out.details.push_back(absl::StrFormat(
          "claim %u s x 120 reports sent in %.2f s: %.2f accelerator-hours credited (%s)",
          claims[i], elapsed_s, credited, Describe(res)));
    }
    if (!StillServing(*provd, out)) break;
  }
  out.notes =
      "inflation only: shrinking (claim 1 s, report hourly) needs hours; see the ledger tests";
  return out;
}

FamilyResult KillDuringIngest(const ProbeEnv& env) {
  FamilyResult out{.name = "kill"};
  auto provd = StartFamilyProvd(env, out);
  if (provd == nullptr) return out;
  constexpr int kNodes = 4;
  constexpr uint64_t kReports = 40;
  for (int round = 0; round < 5; ++round) {
    std::vector<uint64_t> acked(kNodes, 0);
    {
      std::vector<std::unique_ptr<RawReportStream>> streams;
      for (int n = 0; n < kNodes; ++n) {
        const std::string node = absl::StrCat("probe-kill-", round, "-", n);
        streams.push_back(std::make_unique<RawReportStream>(provd->channel(), kStreamDeadline));
        for (uint64_t seq = 1; seq <= kReports / 2; ++seq) {
          streams.back()->Send(Frame(Genuine(node, seq, "probe-kill")));
        }
      }
      // Kill at a different point of each round: before, during and after the first commits.
      std::this_thread::sleep_for(std::chrono::milliseconds(25 * round));
      provd->Kill();
      for (int n = 0; n < kNodes; ++n) acked[n] = streams[n]->Close().committed_seq[kBoot];
    }
    ++out.variants;
    if (!provd->Restart().ok()) {
      ++out.crashes;
      out.details.push_back(absl::StrCat("round ", round, ": provd did not start again"));
      break;
    }
    for (int n = 0; n < kNodes; ++n) {
      const std::string node = absl::StrCat("probe-kill-", round, "-", n);
      const int64_t stored_after_kill = provd->StoredReports(node);
      if (stored_after_kill >= 0 && static_cast<uint64_t>(stored_after_kill) < acked[n]) {
        out.reports_lost += static_cast<int>(acked[n] - stored_after_kill);
        out.details.push_back(absl::StrCat(node, ": ", acked[n], " acked, ", stored_after_kill,
                                           " stored after SIGKILL"));
      }
      Resend(*provd, node, acked[n] + 1, kReports, "probe-kill");
      const int64_t stored = provd->StoredReports(node);
      if (stored >= 0 && static_cast<uint64_t>(stored) < kReports) {
        out.reports_lost += static_cast<int>(kReports - stored);
        out.details.push_back(
            absl::StrCat(node, ": ", stored, " of ", kReports, " stored after the agent resent"));
      }
    }
  }
  out.notes = "SIGKILL with 4 streams in flight, restart, agents resend what was not acked";
  return out;
}

}  // namespace prov::probe
