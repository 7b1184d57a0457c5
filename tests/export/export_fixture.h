// ExportFixture: a real provd.db (every migration) in a temp dir, seeded with plain SQL the way
// provd's components write it (protos as BLOBs), and an Exporter over it with a FakeClock.
//
//   class MyTest : public ExportFixture {};
//   TEST_F(MyTest, X) { Seed(); auto r = Export(); ... VerifyExport(r.summary.server_path(),
//   key_.public_key); }
#pragma once

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/integrity/ed25519.h"
#include "common/testing/fake_clock.h"
#include "gtest/gtest.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/compliance.pb.h"
#include "provenance/v1/identity.pb.h"
#include "provenance/v1/report.pb.h"
#include "server/auditlog/audit_log.h"
#include "server/export/exporter.h"
#include "server/store/connection.h"
#include "server/store/schema.h"
#include "server/store/transaction.h"
#include "tests/server/temp_dir.h"

namespace prov::server::testing {

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline size_t Lines(const std::string& path) {
  std::string text = ReadAll(path);
  size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

class ExportFixture : public ::testing::Test {
 protected:
  static constexpr int64_t kHourUs = 3'600'000'000;

  void SetUp() override {
    auto db = OpenConnection(db_path(), SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    ASSERT_TRUE(MigrateSchema(*db_).ok());
    key_ = *integrity::SigningKeyFromSeed(std::string(32, '\x07'));
    OpenExporter();
  }
  void OpenExporter() {
    ExporterOptions o;
    o.db_path = db_path();
    o.export_dir = export_dir();
    o.key = key_;
    o.clock = &clock_;
    o.policy_version = [] { return std::string("policy-v7"); };
    o.retention = absl::Hours(24 * 1826);
    auto e = Exporter::Open(std::move(o));
    ASSERT_TRUE(e.ok()) << e.status();
    exporter_ = *std::move(e);
  }
  std::string db_path() const { return dir_.path() + "/provd.db"; }
  std::string export_dir() const { return dir_.path() + "/exports"; }
  int64_t NowUs() const { return absl::ToUnixMicros(clock_.Now()); }

  void Sql(const std::string& sql) { ASSERT_TRUE(db_->Exec(sql).ok()) << sql; }
  void Blob(const std::string& sql, const google::protobuf::Message& m) {
    auto st = db_->Prepare(sql);
    ASSERT_TRUE(st.ok()) << st.status();
    (*st)->BindBlob(1, m.SerializeAsString());
    ASSERT_TRUE((*st)->Run().ok()) << sql;
  }
  void Audit(const std::string& actor, const std::string& action) {
    auto txn = Transaction::Begin(*db_, Transaction::kWrite);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(AppendAuditEntry(*db_, actor, action, "{}", clock_.Now()).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  void AddFlag(const std::string& id, const std::string& account, bool with_case) {
    provenance::v1::Flag f;
    f.set_flag_id(id);
    f.set_rule("screening_hit");
    f.set_subject("account:" + account);
    f.set_severity(provenance::v1::SEVERITY_HIGH);
    f.set_status(provenance::v1::FLAG_STATUS_OPEN);
    f.set_summary("account " + account + ", matches \"Evil Corp\"");  // comma and quotes
    f.add_accounts(account);
    f.set_policy_version("policy-v7");
    auto* e = f.add_evidence();
    e->set_kind("screening");
    e->set_sentence("legal entity matches an Entity List entry");
    auto* l = f.add_evidence();
    l->set_kind("link");
    l->mutable_link()->set_kind("network_peer");
    l->mutable_link()->set_account_a(account);
    l->mutable_link()->set_account_b("zeta");
    l->mutable_link()->set_weight(0.6);
    Blob(absl::StrCat("INSERT INTO flags VALUES ('", id, "', 'screening_hit', 'account:", account,
                      "', 4, 1, ", NowUs(), ", ?1)"),
         f);
    if (with_case) {
      Sql(absl::StrCat("INSERT INTO cases VALUES ('", id, "', 4, 2, 'alice', '', 3, ", NowUs(),
                       ")"));
      for (int seq = 1; seq <= 3; ++seq) {
        provenance::v1::CaseAction a;
        a.set_seq(seq);
        a.set_flag_id(id);
        a.set_actor("token:alice");
        a.set_action(seq == 3 ? "resolve" : seq == 2 ? "assign" : "acknowledge");
        a.set_note(seq == 3 ? "cleared:\nline two" : "");  // a newline inside a CSV field
        a.mutable_time()->set_seconds(NowUs() / 1000000);
        Blob(absl::StrCat("INSERT INTO case_actions VALUES ('", id, "', ", seq, ", ", NowUs(),
                          ", 'token:alice', ?1)"),
             a);
      }
    }
  }
  // Two nodes, accelerators, workloads, usage hours, accounts with a screening hit, a bundle, a
  // link, two flags (one with a resolved case), a KYC import, a screening list, audit entries.
  void Seed(int usage_hours = 5) {
    const int64_t now = NowUs();
    for (int n = 1; n <= 2; ++n) {
      Sql(absl::StrCat(
          "INSERT INTO nodes (id, node_id, hostname, datacenter, region, first_seen_us,"
          " last_seen_us, last_received_us) VALUES (",
          n, ", 'n-", n, "', 'host", n, "', 'fra1', 'eu', ", now - 10 * kHourUs, ", ", now, ", ",
          now, ")"));
      provenance::v1::Accelerator a;
      a.set_pci_address("0000:3b:00.0");
      a.set_vendor_id(0x10de);
      a.set_device_id(0x2330);
      Blob(absl::StrCat("INSERT INTO accelerators VALUES (", n,
                        ", '0000:3b:00.0', 4318, 9008, 'NVIDIA', 'H100 SXM5', 1, 'GPU-", n, "', 'S",
                        n, "', ?1, ", now - 10 * kHourUs, ", ", now, ")"),
           a);
      Sql(
          absl::StrCat("INSERT INTO workloads (node, workload_id, kind, account, "
                       "attribution_source, workload_class, class_confidence, launcher, "
                       "accelerator_count, accelerator_model, first_seen_us, last_seen_us, "
                       "accelerator_seconds, flop_low, flop_high, method) VALUES (",
                       n, ", 'slurm:", n, "', 2, 'acme', 1, 1, 0.9, 'torchrun', 8, 'H100', ",
                       now - 5 * kHourUs, ", ", now, ", 36000, 1.5e19, 3.5e19, 'x')"));
    }
    for (int h = 0; h < usage_hours; ++h) {
      Sql(absl::StrCat("INSERT INTO account_usage_hourly VALUES ('acme', ",
                       (now / kHourUs - h) * kHourUs, ", 28800, 28800, 0, 1e18, 2e18, 'x', 0)"));
    }
    Sql(absl::StrCat("INSERT INTO kyc_imports VALUES (1, ", now,
                     ", 'kyc.csv', 'token:admin', "
                     "'sha256:ab', 2, 0)"));
    Sql(absl::StrCat("INSERT INTO screening_lists VALUES (1, 'csl-sha256:cafe', ", now,
                     ", 'csl.csv', 'token:admin', 28, 100, x'00')"));
    for (const char* account : {"acme", "zeta"}) {
      provenance::v1::AccountIdentity id;
      id.set_account_id(account);
      id.set_legal_entity(std::string(account) + " GmbH");
      id.set_country_of_incorporation("DE");
      id.add_beneficial_owners()->set_name("Ann Owner");
      Blob(absl::StrCat("INSERT INTO accounts VALUES ('", account, "', 1, '", account,
                        " GmbH', 'DE', '', ?1)"),
           id);
    }
    provenance::v1::ScreeningMatch m;
    m.set_account_id("acme");
    m.set_subject_kind("legal_entity");
    m.set_list_version("csl-sha256:cafe");
    m.set_entry_name("Evil Corp");
    m.set_score(0.93);
    m.set_kyc_version(1);
    Blob(absl::StrCat("INSERT INTO screening_hits (account_id, list_version, kyc_version, score, "
                      "found_at_us, hit) VALUES ('acme', 'csl-sha256:cafe', 1, 0.93, ",
                      now, ", ?1)"),
         m);
    provenance::v1::Bundle b;
    b.set_bundle_id("B-000001");
    b.add_accounts("acme");
    b.add_accounts("zeta");
    b.mutable_training_flop()->set_low(3e19);
    Blob(absl::StrCat("INSERT INTO bundles VALUES ('B-000001', '', ", now, ", ?1)"), b);
    provenance::v1::Link l;
    l.set_kind("network_peer");
    l.set_account_a("acme");
    l.set_account_b("zeta");
    l.set_weight(0.6);
    Blob(
        "INSERT INTO links VALUES ('network_peer|acme|zeta|x', 'network_peer', 'acme', 'zeta', "
        "?1)",
        l);
    AddFlag("F-000001", "acme", /*with_case=*/true);
    AddFlag("F-000002", "zeta", /*with_case=*/false);
    Audit("token:admin", "kyc.import");
    Audit("token:alice", "case.resolve");
  }
  ExportResult Export(const std::string& trigger = "request") {
    auto r = exporter_->Run(trigger, "token:admin");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : ExportResult{};
  }

  TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1'790'000'000)};
  std::unique_ptr<SqliteDb> db_;
  integrity::SigningKey key_;
  std::unique_ptr<Exporter> exporter_;
};

}  // namespace prov::server::testing
