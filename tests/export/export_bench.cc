// prov-export-bench: how long one audit export takes on a large store, and what it costs.
//   build/release/tests/prov-export-bench [usage_rows] [flags] [workloads]
// Seeds a fresh provd.db (every migration) with realistic rows — usage hours, flags with an
// evidence chain and a case, bundles, links, workloads, nodes with 8 accelerators each, audit
// entries — then times Exporter::Run, integrity::VerifyExport, and reports bytes and peak RSS.
// PROV_EXPORT_BENCH_KEEP=1 keeps the data dir. Not a ctest: run by hand (tools/bench-style);
// figures are quoted in server/export/README.md.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/integrity/export_check.h"
#include "common/testing/fake_clock.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/compliance.pb.h"
#include "provenance/v1/report.pb.h"
#include "server/auditlog/audit_log.h"
#include "server/export/exporter.h"
#include "server/store/connection.h"
#include "server/store/schema.h"
#include "server/store/transaction.h"

namespace {

using namespace prov;
using namespace prov::server;
using Wall = std::chrono::steady_clock;

double Since(Wall::time_point t) { return std::chrono::duration<double>(Wall::now() - t).count(); }

void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, std::string(s.message()).c_str());
    std::exit(1);
  }
}

void Insert(SqliteDb& db, const std::string& sql, int64_t n,
            const std::function<void(Statement&, int64_t)>& bind) {
  Check(db.Exec("BEGIN"), "begin");
  auto st = db.Prepare(sql);
  Check(st.status(), sql.c_str());
  for (int64_t i = 0; i < n; ++i) {
    bind(**st, i);
    Check((*st)->Run(), sql.c_str());
    (*st)->Reset();
  }
  Check(db.Exec("COMMIT"), "commit");
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t usage_rows = argc > 1 ? std::atoll(argv[1]) : 1'000'000;
  const int64_t flags = argc > 2 ? std::atoll(argv[2]) : 20'000;
  const int64_t workloads = argc > 3 ? std::atoll(argv[3]) : 200'000;
  const int64_t nodes = 2'000, links = flags * 4, audit = 10'000;
  const std::string dir = std::filesystem::temp_directory_path() / "prov-export-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string db_path = dir + "/provd.db";
  auto db = OpenConnection(db_path, SqliteDb::kReadWrite);
  Check(db.status(), "open");
  Check(MigrateSchema(**db), "migrate");
  FakeClock clock(absl::FromUnixSeconds(1'790'000'000));
  const int64_t now = absl::ToUnixMicros(clock.Now());
  const int64_t hour = 3'600'000'000;

  auto t = Wall::now();
  Insert(**db,
         "INSERT INTO nodes (id, node_id, hostname, datacenter, region, first_seen_us, "
         "last_seen_us, last_received_us) VALUES (?1, 'n-' || ?1, 'host-' || ?1, 'dc-' || "
         "(?1 % 8), 'eu', ?2, ?2, ?2)",
         nodes, [&](Statement& st, int64_t i) {
           st.BindInt64(1, i + 1);
           st.BindInt64(2, now);
         });
  provenance::v1::Accelerator accel;
  accel.set_vendor_id(0x10de);
  accel.set_device_id(0x2330);
  accel.set_model("H100 SXM5");
  accel.set_serial("1654922000000");
  Insert(**db,
         "INSERT INTO accelerators VALUES (?1, '0000:' || ?2 || ':00.0', 4318, 9008, "
         "'NVIDIA', 'H100 SXM5', 1, 'GPU-' || ?3, 'S' || ?3, ?4, ?5, ?5)",
         nodes * 8, [&](Statement& st, int64_t i) {
           accel.set_pci_address(absl::StrCat("0000:", 10 + i % 8, ":00.0"));
           st.BindInt64(1, i / 8 + 1);
           st.BindInt64(2, 10 + i % 8);
           st.BindInt64(3, i);
           st.BindBlob(4, accel.SerializeAsString());
           st.BindInt64(5, now);
         });
  Insert(**db,
         "INSERT INTO workloads (node, workload_id, kind, account, attribution_source, "
         "workload_class, class_confidence, launcher, accelerator_count, accelerator_model, "
         "first_seen_us, last_seen_us, accelerator_seconds, flop_low, flop_high, method) "
         "VALUES (?1, 'slurm:' || ?2, 2, 'acct-' || (?2 % 500), 1, 1, 0.9, 'torchrun', 8, "
         "'H100 SXM5', ?3, ?3, 36000, 1.5e19, 3.5e19, 'accel_seconds*peak*tensor_activity')",
         workloads, [&](Statement& st, int64_t i) {
           st.BindInt64(1, i % nodes + 1);
           st.BindInt64(2, i);
           st.BindInt64(3, now - (i % 1000) * hour);
         });
  Insert(**db,
         "INSERT INTO account_usage_hourly VALUES ('acct-' || (?1 % 500), ?2, 28800, "
         "20000, 8800, 1.2e18, 2.9e18, 'accel_seconds*peak*tensor_activity', 0)",
         usage_rows, [&](Statement& st, int64_t i) {
           st.BindInt64(1, i);
           st.BindInt64(2, (now / hour - i / 500) * hour);
         });
  provenance::v1::Flag flag;
  flag.set_rule("compute_tier:eu-ai-act-systemic-1e25");
  flag.set_severity(provenance::v1::SEVERITY_HIGH);
  flag.set_status(provenance::v1::FLAG_STATUS_OPEN);
  flag.set_summary("bundle of 3 accounts trained 1.2e25 FLOP across 2 data centres");
  for (int a = 0; a < 3; ++a) flag.add_accounts(absl::StrCat("acct-", a));
  for (int e = 0; e < 6; ++e) {
    auto* ev = flag.add_evidence();
    ev->set_kind("link");
    ev->set_sentence(
        "slurm:17 on n-17 (dc-east) sends traffic to 10.2.0.5:29500, a node of acct-2");
    ev->mutable_link()->set_kind("network_peer");
    ev->mutable_link()->set_account_a("acct-0");
    ev->mutable_link()->set_account_b("acct-2");
    ev->mutable_link()->set_weight(0.6);
  }
  Insert(**db,
         "INSERT INTO flags VALUES ('F-' || ?1, 'compute_tier', 'bundle:B-' || ?1, 4, 1, "
         "?2, ?3)",
         flags, [&](Statement& st, int64_t i) {
           flag.set_flag_id(absl::StrCat("F-", i));
           st.BindInt64(1, i);
           st.BindInt64(2, now);
           st.BindBlob(3, flag.SerializeAsString());
         });
  Insert(**db, "INSERT INTO cases VALUES ('F-' || ?1, 4, 2, 'alice', '', 3, ?2)", flags / 2,
         [&](Statement& st, int64_t i) {
           st.BindInt64(1, i);
           st.BindInt64(2, now);
         });
  provenance::v1::CaseAction action;
  action.set_actor("token:alice");
  action.set_action("note");
  action.set_note("looked at the evidence; the accounts share a payment fingerprint");
  Insert(**db, "INSERT INTO case_actions VALUES ('F-' || ?1, ?2, ?3, 'token:alice', ?4)", flags,
         [&](Statement& st, int64_t i) {
           st.BindInt64(1, i / 2);
           st.BindInt64(2, i % 2 + 1);
           st.BindInt64(3, now);
           st.BindBlob(4, action.SerializeAsString());
         });
  provenance::v1::Bundle bundle;
  for (int a = 0; a < 3; ++a) bundle.add_accounts(absl::StrCat("acct-", a));
  for (int w = 0; w < 24; ++w) bundle.add_workloads(absl::StrCat("n-", w, "/slurm:", w));
  Insert(**db, "INSERT INTO bundles VALUES ('B-' || ?1, '', ?2, ?3)", flags,
         [&](Statement& st, int64_t i) {
           bundle.set_bundle_id(absl::StrCat("B-", i));
           st.BindInt64(1, i);
           st.BindInt64(2, now);
           st.BindBlob(3, bundle.SerializeAsString());
         });
  provenance::v1::Link link = flag.evidence(0).link();
  link.set_sentence(flag.evidence(0).sentence());
  Insert(**db, "INSERT INTO links VALUES ('network_peer|' || ?1, 'network_peer', 'a', 'b', ?2)",
         links, [&](Statement& st, int64_t i) {
           st.BindInt64(1, i);
           st.BindBlob(2, link.SerializeAsString());
         });
  for (int64_t i = 0; i < audit; ++i) {
    auto txn = Transaction::Begin(**db, Transaction::kWrite);
    Check(txn.status(), "txn");
    Check(AppendAuditEntry(**db, "token:alice", "case.note", R"({"flag_id":"F-1"})", clock.Now())
              .status(),
          "audit");
    Check(txn->Commit(), "commit");
  }
  const double seed_s = Since(t);

  ExporterOptions o;
  o.db_path = db_path;
  o.export_dir = dir + "/exports";
  o.key = *integrity::GenerateSigningKey();
  o.clock = &clock;
  auto exporter = Exporter::Open(o);
  Check(exporter.status(), "exporter");
  t = Wall::now();
  auto r = (*exporter)->Run("request", "bench");
  Check(r.status(), "export");
  const double export_s = Since(t);
  t = Wall::now();
  integrity::ExportVerification v =
      integrity::VerifyExport(r->summary.server_path(), o.key.public_key);
  const double verify_s = Since(t);
  uint64_t rows = 0;
  for (const auto& [k, val] : r->manifest.metadata) {
    if (k.rfind("rows.", 0) == 0) rows += std::stoull(val);
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "seeded in %.1f s; export: %llu rows, %u files, %.1f MB in %.2f s (%.0f rows/s); "
      "verify %.2f s (%s); peak RSS %.0f MB\n",
      seed_s, static_cast<unsigned long long>(rows), r->summary.files(), r->summary.bytes() / 1e6,
      export_s, rows / export_s, verify_s, v.ok() ? "ok" : v.problems[0].c_str(),
      ru.ru_maxrss / 1024.0);
  if (std::getenv("PROV_EXPORT_BENCH_KEEP") == nullptr) {
    std::filesystem::remove_all(dir);
  } else {
    std::printf("kept %s (provd --data-dir it to time provctl export --out)\n", dir.c_str());
  }
  return v.ok() ? 0 : 1;
}
