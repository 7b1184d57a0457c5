// Signed exports and retention (server/store/repo/exports.h, export_snapshot.h, retention.h)
// behave the same on SQLite and on PostgreSQL: the same stored rows give byte-identical export
// files on both engines; each export is recorded with its "export" audit entry, chains to the
// previous one (previous_manifest_sha256), verifies (VerifyExport, the audit chain); List,
// LastExportTime and Stats answer the same; a snapshot does not see rows written after it began;
// bad records are refused and leave nothing; retention deletes exactly the rows before the
// cutoff, in batches, and records its audit entry. PostgreSQL only: two replicas exporting at
// once chain one after the other (the second's previous is the first's manifest), and the
// repositories carry on after their sessions are terminated (pg_terminate_backend).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/integrity/ed25519.h"
#include "common/integrity/export_check.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "provenance/v1/identity.pb.h"
#include "provenance/v1/location.pb.h"
#include "server/export/exporter.h"
#include "server/export/retention.h"
#include "server/store/connection.h"
#include "server/store/pg/pg_audit_log.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_exports.h"
#include "server/store/pg/pg_retention.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/repo/audit_log.h"
#include "server/store/sqlite/sqlite_audit_appender.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/sqlite/sqlite_exports.h"
#include "server/store/sqlite/sqlite_retention.h"
#include "tests/server/temp_dir.h"
#include "tests/store/pg_server.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

namespace fs = std::filesystem;
using prov::testing::Engine;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kT0 = 1'780'000'000'000'000;  // 2026-05-28T20:26:40Z
constexpr int64_t kHour = 3'600'000'000;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every file of an export folder by name.
std::map<std::string, std::string> Files(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    out[e.path().filename().string()] = ReadFile(e.path().string());
  }
  return out;
}

// One engine's store: raw SQL behind the repositories' backs and the repositories themselves.
class EngineStore {
 public:
  EngineStore(Engine engine, std::string sqlite_path, std::string conninfo)
      : engine_(engine), sqlite_path_(std::move(sqlite_path)), conninfo_(std::move(conninfo)) {}

  Engine engine() const { return engine_; }
  bool pg() const { return engine_ == Engine::kPostgres; }

  absl::Status Exec(const std::string& sql) {
    if (pg()) {
      auto conn =
          PgConn::Connect(conninfo_, {.application_name = "prov-test", .search_path = kPgSchema});
      if (!conn.ok()) return conn.status();
      return (*conn)->Exec(sql);
    }
    auto db = OpenConnection(sqlite_path_, SqliteDb::kReadWrite);
    if (!db.ok()) return db.status();
    return (*db)->Exec(sql);
  }
  // A BLOB / bytea literal.
  std::string Blob(const std::string& bytes) const {
    const std::string hex = absl::BytesToHexString(bytes);
    return pg() ? absl::StrCat("'\\x", hex, "'::bytea") : absl::StrCat("X'", hex, "'");
  }
  // Between INSERT's column list and VALUES when the ids are given (PostgreSQL's identities).
  std::string Given() const { return pg() ? " OVERRIDING SYSTEM VALUE " : " "; }

  absl::StatusOr<std::unique_ptr<ExportRepository>> Records() {
    if (pg()) return PgExportRepository::Open(conninfo_);
    return SqliteExportRepository::Open(sqlite_path_);
  }
  absl::StatusOr<std::unique_ptr<ExportSnapshotSource>> Snapshots() {
    if (pg()) return PgExportSnapshotSource::Open(conninfo_);
    return SqliteExportSnapshotSource::Open(sqlite_path_);
  }
  absl::StatusOr<std::unique_ptr<RetentionRepository>> Retention() {
    if (pg()) return PgRetentionRepository::Open(conninfo_);
    return SqliteRetentionRepository::Open(sqlite_path_);
  }
  absl::StatusOr<std::unique_ptr<AuditLogRepository>> AuditLog() {
    if (pg()) return PgAuditLogRepository::Open(conninfo_);
    return SqliteAuditLogRepository::Open(sqlite_path_);
  }
  absl::Status Audit(const std::string& actor, const std::string& action, int64_t at_us) {
    const AuditRecord r{actor, action, AuditPayload({{"n", action}}), absl::FromUnixMicros(at_us)};
    if (pg()) {
      auto conn =
          PgConn::Connect(conninfo_, {.application_name = "prov-test", .search_path = kPgSchema});
      if (!conn.ok()) return conn.status();
      return (*conn)->Transaction([&]() -> absl::Status {
        return AppendAuditEntry(**conn, r.actor, r.action, r.payload, r.at).status();
      });
    }
    auto appender = SqliteAuditAppender::Open(sqlite_path_);
    if (!appender.ok()) return appender.status();
    return (*appender)->Append(r);
  }
  absl::StatusOr<int64_t> Count(const std::string& table, const std::string& where = "TRUE") {
    const std::string sql = absl::StrCat("SELECT COUNT(*) FROM ", table, " WHERE ", where);
    if (pg()) {
      auto conn =
          PgConn::Connect(conninfo_, {.application_name = "prov-test", .search_path = kPgSchema});
      if (!conn.ok()) return conn.status();
      auto r = (*conn)->Query(sql);
      if (!r.ok()) return r.status();
      return r->Int64(0, 0);
    }
    auto db = OpenConnection(sqlite_path_, SqliteDb::kReadOnly);
    if (!db.ok()) return db.status();
    auto st = (*db)->Prepare(sql);
    if (!st.ok()) return st.status();
    auto row = (*st)->Step();
    if (!row.ok()) return row.status();
    return (*st)->ColumnInt64(0);
  }

  // Location verification's rows: two node keys, three measurements (two used by a verdict),
  // two verdicts (one without coordinates: left out of the export).
  absl::Status PlantLocation() {
    provenance::v1::NodeLocation loc;
    loc.set_node_id("node-b");
    loc.set_datacenter("dc-1");
    loc.set_site_known(true);
    loc.mutable_declared_site()->set_lat_deg(47.376886999999996);
    loc.mutable_declared_site()->set_lon_deg(8.541694);
    loc.set_reason("within 120.5 km of landmark lm-1");
    loc.set_policy_version("p-7");
    provenance::v1::NodeLocation unknown;
    unknown.set_node_id("Node-A");
    const std::string g = Given();
    const std::vector<std::string> sql = {
        absl::StrCat("INSERT INTO location_node_keys (node_id, spki, first_seen_us, last_seen_us, "
                     "source) VALUES ('node-b', ",
                     Blob("\x30\x01"), ", ", kT0, ", ", kT0 + 1, ", 'enrol'), ('node-b', ",
                     Blob(std::string("\x30\x00\xff", 3)), ", ", kT0 - 1, ", ", kT0,
                     ", 'enrol'), ('Node-A', ", Blob("k"), ", ", kT0, ", ", kT0, ", 'enrol')"),
        absl::StrCat(
            "INSERT INTO location_measurements (id, received_us, landmark_id, target_kind, "
            "target_id, measured_us, landmark_seq, rtt_min_ms, answers, measurement, "
            "signature)",
            g, "VALUES (3, ", kT0 + 3, ", 'lm-1', 'node', 'node-b', ", kT0 + 2,
            ", 7, 1.2345678901234567, 3, ", Blob(std::string("m3\0\n", 4)), ", ", Blob("s3"),
            "), (1, ", kT0 + 1, ", 'lm-1', 'node', 'node-b', ", kT0, ", 5, 0.5, 3, ", Blob("m1"),
            ", ", Blob("s1"), "), (2, ", kT0 + 2, ", 'lm-2', 'landmark', 'lm-1', ", kT0 + 1,
            ", 6, 9.75, 3, ", Blob("m2"), ", ", Blob("s2"), ")"),
        absl::StrCat("INSERT INTO location_verdicts (node_id, verdict, evaluated_us, location, "
                     "disk_ids, calibration, params) VALUES ('node-b', 'verified', ",
                     kT0 + 4, ", ", Blob(loc.SerializeAsString()),
                     ", '[3, 1]', '{\"lm-1\": [2]}', '{\"speed_km_per_ms\": 100.5}'), ('Node-A', "
                     "'unverified', ",
                     kT0 + 4, ", ", Blob(unknown.SerializeAsString()), ", '[]', '{}', '{}')"),
    };
    for (const std::string& s : sql) {
      if (absl::Status st = Exec(s); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

  // The rows every export table reads, the same on both engines (ids given, text keys whose
  // byte order differs from a locale's, non-ASCII text, doubles that need all their digits).
  absl::Status Plant() {
    provenance::v1::AccountIdentity id;
    id.set_account_id("acct-ü");
    id.set_legal_entity("Zürich Compute AG");
    id.set_country_of_incorporation("CH");
    id.add_email_domains("example.ch");
    provenance::v1::ScreeningMatch hit;
    hit.set_list_version("L-2026-05");
    hit.set_entry_name("Some Entity");
    hit.set_score(0.8700000000000001);
    const std::string g = Given();
    const std::vector<std::string> sql = {
        absl::StrCat("INSERT INTO nodes (id, node_id, hostname, datacenter, region, agent_version, "
                     "boot_id, first_seen_us, last_seen_us, last_received_us)",
                     g, "VALUES (1, 'node-b', 'h-b', 'dc-1', 'eu', '1.2.0', 'boot-1', ", kT0, ", ",
                     kT0 + 5, ", ", kT0 + 6,
                     "), (2, 'Node-A', 'h-a', 'dc-1', 'eu', '1.2.0', "
                     "'boot-2', ",
                     kT0 + 1, ", ", kT0 + 7, ", ", kT0 + 8, ")"),
        absl::StrCat("INSERT INTO accelerators (node, pci_address, vendor_id, device_id, vendor, "
                     "model, model_known, uuid, serial, accelerator, first_seen_us, last_seen_us) "
                     "VALUES (1, '0000:3b:00.0', 4318, 8989, 'NVIDIA', 'H100', 1, 'GPU-1', 'S1', ",
                     Blob(""), ", ", kT0, ", ", kT0 + 5,
                     "), (2, '0000:1a:00.0', 4318, 8989, "
                     "'NVIDIA', 'H100', 0, 'GPU-2', 'S2', ",
                     Blob(""), ", ", kT0, ", ", kT0 + 5, ")"),
        absl::StrCat("INSERT INTO workloads (id, node, workload_id, kind, account, "
                     "attribution_source, workload_class, class_confidence, launcher, "
                     "accelerator_count, accelerator_model, first_seen_us, last_seen_us, "
                     "accelerator_seconds, flop_low, flop_high, method)",
                     g, "VALUES (1, 1, 'w-b', 1, 'acct-ü', 1, 2, 0.1, 'slurm', 8, 'H100', ", kT0,
                     ", ", kT0 + 3 * kHour,
                     ", 86400.5, 1.25e+21, 3.3e-7, 'counters'), (2, 2, 'W-a', "
                     "2, 'acct-a', 2, 1, 0.3333333333333333, '', 1, 'H100', ",
                     kT0, ", ", kT0 + kHour, ", 7, 0, 1e+300, 'spec')"),
        absl::StrCat("INSERT INTO account_usage_hourly (account, hour_us, accelerator_seconds, "
                     "training_seconds, inference_seconds, flop_low, flop_high, method) VALUES "
                     "('acct-ü', ",
                     kT0,
                     ", 3600, 1800.25, 0.1, 1e+18, 2.5e+18, 'counters'), "
                     "('acct-a', ",
                     kT0, ", 1, 0, 1, 0, 0, 'spec'), ('Acct-Z', ", kT0 + kHour,
                     ", 2.2250738585072014e-308, 0, 0, 0, 0, 'spec')"),
        absl::StrCat("INSERT INTO kyc_imports (version, imported_at_us, source, actor, "
                     "content_digest, accepted, errors) VALUES (1, ",
                     kT0,
                     ", 'kyc.csv', "
                     "'token:root', 'abc', 2, 0), (2, ",
                     kT0 + 9,
                     ", 'kyc2.csv', 'token:root', "
                     "'def', 3, 1)"),
        absl::StrCat("INSERT INTO accounts (account_id, version, legal_entity, country, "
                     "parent_account, identity) VALUES ('acct-ü', 2, 'Zürich Compute AG', 'CH', "
                     "'', ",
                     Blob(id.SerializeAsString()), "), ('acct-a', 1, 'A', 'US', '', ", Blob(""),
                     ")"),
        absl::StrCat(
            "INSERT INTO screening_lists (id, list_version, imported_at_us, source, actor, "
            "columns, entries, content)",
            g, "VALUES (1, 'L-2026-05', ", kT0, ", 'list.csv', 'token:root', 4, 10, ", Blob("x"),
            ")"),
        absl::StrCat("INSERT INTO screening_hits (id, account_id, list_version, kyc_version, "
                     "score, found_at_us, hit)",
                     g, "VALUES (1, 'acct-ü', 'L-2026-05', 2, 0.8700000000000001, ", kT0 + 2, ", ",
                     Blob(hit.SerializeAsString()), ")"),
        absl::StrCat("INSERT INTO policies (id, policy_version, source, loaded_at_us, yaml)", g,
                     "VALUES (1, 'p-7', 'policy.yaml', ", kT0, ", 'rules: []\n')"),
        absl::StrCat("INSERT INTO inventory_imports (version, imported_at_us, source, actor, "
                     "content_digest, accepted, errors) VALUES (1, ",
                     kT0 + 4,
                     ", 'inv.csv', "
                     "'token:root', 'ff', 1, 0)"),
        absl::StrCat("INSERT INTO inventory (serial, version, uuid, node_id, datacenter, rack, "
                     "status, declared) VALUES ('S1', 1, 'GPU-1', 'node-b', 'dc-1', 'r1', 1, ",
                     Blob(""), ")"),
        absl::StrCat("INSERT INTO flags (flag_id, rule, subject, severity, status, updated_us, "
                     "flag) VALUES ('F-000002', 'r', 'b', 2, 1, ",
                     kT0, ", ", Blob(""), "), ('F-000001', 'r', 'a', 3, 4, ", kT0, ", ", Blob(""),
                     ")"),
        absl::StrCat("INSERT INTO cases (flag_id, status, disposition, assignee, duplicate_of, "
                     "revision, updated_us) VALUES ('F-000001', 4, 1, 'alice', '', 2, ",
                     kT0 + 3, ")"),
        absl::StrCat("INSERT INTO case_actions (flag_id, seq, time_us, actor, action) VALUES "
                     "('F-000001', 1, ",
                     kT0 + 2, ", 'token:alice', ", Blob(""), "), ('F-000001', 2, ", kT0 + 3,
                     ", 'token:alice', ", Blob(""), ")"),
        absl::StrCat("INSERT INTO bundles (bundle_id, merged_into, updated_us, bundle) VALUES "
                     "('B-2', '', ",
                     kT0, ", ", Blob(""), "), ('B-1', 'B-2', ", kT0, ", ", Blob(""), ")"),
        absl::StrCat("INSERT INTO links (link_key, kind, account_a, account_b, link) VALUES "
                     "('l|b', 'email', 'acct-a', 'acct-ü', ",
                     Blob(""), "), ('L|a', 'ip', 'acct-a', 'acct-ü', ", Blob(""), ")"),
    };
    for (const std::string& s : sql) {
      if (absl::Status st = Exec(s); !st.ok()) return st;
    }
    if (absl::Status st = PlantLocation(); !st.ok()) return st;
    if (absl::Status st = Audit("token:root", "kyc.import", kT0 + 1); !st.ok()) return st;
    return Audit("token:root", "policy.load", kT0 + 2);
  }

 private:
  Engine engine_;
  std::string sqlite_path_;
  std::string conninfo_;
};

integrity::SigningKey TestKey() { return *integrity::SigningKeyFromSeed(std::string(32, '\x07')); }

ExporterOptions Options(const std::string& export_dir, const Clock* clock) {
  ExporterOptions o;
  auto location = std::make_shared<ExportLocation>();
  location->landmarks.push_back({"lm-1", 47.5, 8.25, "eu", std::string(32, '\x01')});
  location->sites.push_back({"dc-1", 47.376886999999996, 8.541694, "eu", ""});
  o.location = location;
  o.export_dir = export_dir;
  o.key = TestKey();
  o.clock = clock;
  o.policy_version = [] { return std::string("p-7"); };
  o.retention = absl::Hours(24 * 1826);
  return o;
}

absl::StatusOr<std::unique_ptr<Exporter>> OpenExporter(EngineStore& store,
                                                       const std::string& export_dir,
                                                       const Clock* clock) {
  auto records = store.Records();
  if (!records.ok()) return records.status();
  auto snapshots = store.Snapshots();
  if (!snapshots.ok()) return snapshots.status();
  return Exporter::Create(Options(export_dir, clock), *std::move(records), *std::move(snapshots));
}

class ExportsTest : public prov::testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    store_ = std::make_unique<EngineStore>(engine(), sqlite_path(), pg_conninfo());
    auto e = OpenExporter(*store_, export_dir(), &clock_);  // migrates the schema
    ASSERT_TRUE(e.ok()) << e.status();
    exporter_ = *std::move(e);
  }
  std::string export_dir() const { return dir_.path() + "/exports"; }

  std::unique_ptr<EngineStore> store_;
  FakeClock clock_{absl::FromUnixMicros(kT0 + 10 * kHour)};
  server::testing::TempDir dir_;
  std::unique_ptr<Exporter> exporter_;
};

// The same rows on both engines: every file of the export is the same bytes (the tables, and
// even manifest.json and its signature: same snapshot time, same audit head, same key).
TEST(ExportsBothEngines, SameRowsGiveByteIdenticalExports) {
  PROV_PG_SERVER_OR_SKIP(pg);
  absl::StatusOr<std::string> conninfo = pg->FreshDatabase();
  ASSERT_TRUE(conninfo.ok()) << conninfo.status();
  server::testing::TempDir dir;
  EngineStore sqlite(Engine::kSqlite, dir.path() + "/provd.db", "");
  EngineStore postgres(Engine::kPostgres, "", *conninfo);
  std::map<std::string, std::string> files[2];
  int i = 0;
  for (EngineStore* store : {&sqlite, &postgres}) {
    FakeClock clock(absl::FromUnixMicros(kT0 + 10 * kHour));
    const std::string out = absl::StrCat(dir.path(), "/exports-", i);
    auto exporter = OpenExporter(*store, out, &clock);
    ASSERT_TRUE(exporter.ok()) << exporter.status();
    ASSERT_TRUE(store->Plant().ok());
    auto first = (*exporter)->Run("schedule", "provd");
    ASSERT_TRUE(first.ok()) << first.status();
    clock.Advance(absl::Seconds(1));
    auto second = (*exporter)->Run("request", "token:root");
    ASSERT_TRUE(second.ok()) << second.status();
    files[i] = Files(second->summary.server_path());
    const integrity::ExportVerification v =
        integrity::VerifyExport(second->summary.server_path(), TestKey().public_key);
    EXPECT_TRUE(v.ok()) << absl::StrJoin(v.problems, "; ");
    ++i;
  }
  ASSERT_EQ(files[0].size(), files[1].size());
  EXPECT_GE(files[0].size(), 30u);
  for (const auto& [name, text] : files[0]) {
    ASSERT_TRUE(files[1].count(name)) << name;
    EXPECT_EQ(text, files[1][name]) << name << " differs between SQLite and PostgreSQL";
  }
  // Not vacuous: the rows are there, byte order (upper case first), all of a double's digits.
  EXPECT_EQ(files[1]["usage_hourly.csv"],
            "account,hour,accelerator_seconds,training_seconds,inference_seconds,flop_low,"
            "flop_high,method\n"
            "Acct-Z,2026-05-28T21:26:40Z,2.2250738585072014e-308,0.0,0.0,0.0,0.0,spec\n"
            "acct-a,2026-05-28T20:26:40Z,1.0,0.0,1.0,0.0,0.0,spec\n"
            "acct-ü,2026-05-28T20:26:40Z,3600.0,1800.25,0.1,1e+18,2.5e+18,counters\n");
  EXPECT_THAT(files[1]["nodes.csv"], HasSubstr("\nNode-A,"));
  EXPECT_LT(files[1]["nodes.csv"].find("Node-A"), files[1]["nodes.csv"].find("node-b"));
  EXPECT_THAT(files[1]["workloads.csv"], HasSubstr(",0.3333333333333333,"));
  EXPECT_THAT(files[1]["accounts.jsonl"], HasSubstr("Zürich Compute AG"));
  // Location: the verdict with coordinates, the measurements it uses (1, 2, 3; by id), the keys
  // in (node_id, first_seen, spki) order.
  EXPECT_EQ(std::count(files[1]["location_verdicts.jsonl"].begin(),
                       files[1]["location_verdicts.jsonl"].end(), '\n'),
            1);
  EXPECT_THAT(files[1]["location_measurements.jsonl"], HasSubstr("\"id\":1,"));
  EXPECT_LT(files[1]["location_measurements.jsonl"].find("\"id\":2,"),
            files[1]["location_measurements.jsonl"].find("\"id\":3,"));
  EXPECT_LT(files[1]["location_node_keys.jsonl"].find("Node-A"),
            files[1]["location_node_keys.jsonl"].find("3000ff"));
}

TEST_P(ExportsTest, RecordsEachExportWithItsAuditEntryAndChainsThem) {
  ASSERT_TRUE(store_->Plant().ok());
  auto first = exporter_->Run("schedule", "provd");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->summary.export_id(), "20260529T062640Z");
  EXPECT_EQ(first->summary.previous_manifest_sha256(), "");
  auto second = exporter_->Run("request", "token:alice");  // same instant: a second id
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->summary.export_id(), "20260529T062640Z-2");
  EXPECT_EQ(second->summary.previous_manifest_sha256(), first->summary.manifest_sha256());
  EXPECT_EQ(second->manifest.metadata["previous_export_id"], "20260529T062640Z");
  const std::string first_dir = first->summary.server_path();
  const integrity::ExportVerification v =
      integrity::VerifyExport(second->summary.server_path(), TestKey().public_key, &first_dir);
  EXPECT_TRUE(v.ok()) << absl::StrJoin(v.problems, "; ");
  EXPECT_TRUE(v.chain_checked);
  // The first export's audit entry is in the second's audit_log (kyc, policy, export).
  EXPECT_EQ(v.audit_entries, 3u);

  auto log = store_->AuditLog();
  ASSERT_TRUE(log.ok()) << log.status();
  auto entries = (*log)->List(0, 100, "export");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[1].actor, "token:alice");
  EXPECT_THAT((*entries)[1].payload, HasSubstr(second->summary.manifest_sha256()));
  EXPECT_THAT((*entries)[1].payload, HasSubstr(first->summary.manifest_sha256()));
  auto verified = (*log)->Verify(std::nullopt);  // anchored at the newest export's head
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->intact());
  EXPECT_EQ(verified->entries, 4u);

  auto list = exporter_->List();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].export_id(), "20260529T062640Z");
  EXPECT_EQ((*list)[1].export_id(), "20260529T062640Z-2");
  EXPECT_EQ((*list)[1].manifest_sha256(), second->summary.manifest_sha256());
  EXPECT_EQ(*store_->Count("exports", "audit_head_seq = 3"), 1);  // the second saw 3 entries
}

TEST_P(ExportsTest, ListLastExportTimeAndStatsByTrigger) {
  auto none = exporter_->LastExportTime("");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  EXPECT_THAT(*exporter_->List(), IsEmpty());
  EXPECT_TRUE(exporter_->Stats()->by_trigger.empty());

  ASSERT_TRUE(exporter_->Run("schedule", "provd").ok());
  const absl::Time t1 = clock_.Now();
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(exporter_->Run("request", "token:root").ok());
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(exporter_->Run("request", "token:root").ok());
  const absl::Time t3 = clock_.Now();

  EXPECT_EQ(**exporter_->LastExportTime("schedule"), t1);
  EXPECT_EQ(**exporter_->LastExportTime("request"), t3);
  EXPECT_EQ(**exporter_->LastExportTime(""), t3);
  EXPECT_FALSE(exporter_->LastExportTime("nope")->has_value());
  auto stats = exporter_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->by_trigger.size(), 2u);
  EXPECT_EQ(stats->by_trigger["schedule"].exports, 1u);
  EXPECT_EQ(stats->by_trigger["schedule"].last_us, absl::ToUnixMicros(t1));
  EXPECT_EQ(stats->by_trigger["request"].exports, 2u);
  EXPECT_EQ(stats->by_trigger["request"].last_us, absl::ToUnixMicros(t3));
  auto list = exporter_->List();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].trigger(), "schedule");
  EXPECT_EQ((*list)[2].previous_manifest_sha256(), (*list)[1].manifest_sha256());
}

// An empty store exports every table with its header only, and the chain starts empty.
TEST_P(ExportsTest, EmptyStoreExportsHeadersOnly) {
  auto r = exporter_->Run("request", "token:root");
  ASSERT_TRUE(r.ok()) << r.status();
  std::map<std::string, std::string> files = Files(r->summary.server_path());
  EXPECT_EQ(files["flags.csv"].find('\n'), files["flags.csv"].size() - 1);
  EXPECT_EQ(files["flags.jsonl"], "");
  EXPECT_EQ(files["audit_log.jsonl"], "");
  EXPECT_EQ(r->manifest.metadata["audit_head_seq"], "0");
  EXPECT_EQ(r->manifest.metadata["kyc_version"], "0");
}

// A snapshot reads the store as of its first read: rows committed later are not in it.
TEST_P(ExportsTest, SnapshotDoesNotSeeLaterWrites) {
  ASSERT_TRUE(store_->Plant().ok());
  auto source = store_->Snapshots();
  ASSERT_TRUE(source.ok()) << source.status();
  auto count = [](ExportSnapshot& s) -> int64_t {
    auto c = s.Query("SELECT COUNT(*) FROM policies");
    EXPECT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(*(*c)->Next());
    return (*c)->Int64(0);
  };
  {
    auto snap = (*source)->Begin();
    ASSERT_TRUE(snap.ok()) << snap.status();
    EXPECT_EQ(count(**snap), 1);
    ASSERT_TRUE(store_
                    ->Exec(absl::StrCat("INSERT INTO policies (id, policy_version, source, "
                                        "loaded_at_us, yaml)",
                                        store_->Given(), "VALUES (2, 'p-8', 's', 1, '')"))
                    .ok());
    EXPECT_EQ(count(**snap), 1);
    // A cursor streams more rows than one fetch, ordered, and parameters bind.
    auto c = (*snap)->Query("SELECT policy_version FROM policies WHERE id >= $1 ORDER BY id", {1});
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE(*(*c)->Next());
    EXPECT_EQ((*c)->Text(0), "p-7");
    EXPECT_FALSE(*(*c)->Next());
    auto bad = (*snap)->Query("SELECT nope FROM policies");
    EXPECT_FALSE(bad.ok());
  }
  auto snap = (*source)->Begin();
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(count(**snap), 2);
}

// 2,500 rows through one cursor (PostgreSQL fetches 1,000 at a time), in order.
TEST_P(ExportsTest, CursorStreamsManyRowsInOrder) {
  std::string sql = absl::StrCat(
      "INSERT INTO audit_log (seq, time_us, actor, action, payload, "
      "prev_hash, hash) VALUES ");
  for (int i = 1; i <= 2500; ++i) {
    absl::StrAppend(&sql, i > 1 ? ", " : "", "(", i, ", ", i, ", 'a', 'b', '{}', 'p', 'h')");
  }
  ASSERT_TRUE(store_->Exec(sql).ok());
  auto source = store_->Snapshots();
  ASSERT_TRUE(source.ok());
  auto snap = (*source)->Begin();
  ASSERT_TRUE(snap.ok());
  auto c = (*snap)->Query("SELECT seq FROM audit_log ORDER BY seq DESC");
  ASSERT_TRUE(c.ok()) << c.status();
  int64_t expect = 2500;
  while (true) {
    auto row = (*c)->Next();
    ASSERT_TRUE(row.ok()) << row.status();
    if (!*row) break;
    ASSERT_EQ((*c)->Int64(0), expect--);
  }
  EXPECT_EQ(expect, 0);
  auto head = (*snap)->AuditHead();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->seq, 2500u);
}

TEST_P(ExportsTest, RecordRefusesBadInputAndLeavesNothing) {
  auto records = store_->Records();
  ASSERT_TRUE(records.ok()) << records.status();
  const AuditRecord audit{"token:root", "export", "{}", absl::FromUnixMicros(kT0)};
  ExportRecord row{"X-1", kT0, "request", "/x", std::string(64, 'a'), "", 0, "h", "s"};
  {
    auto chain = (*records)->BeginChain();
    ASSERT_TRUE(chain.ok()) << chain.status();
    ExportRecord bad = row;
    bad.export_id = "";
    EXPECT_THAT((*chain)->Record(bad, audit).message(), HasSubstr("export_id is empty"));
    bad = row;
    bad.manifest_sha256 = "abc";
    EXPECT_THAT((*chain)->Record(bad, audit).message(), HasSubstr("manifest_sha256"));
    bad = row;
    bad.previous_manifest_sha256 = std::string(64, 'b');
    absl::Status s = (*chain)->Record(bad, audit);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_THAT(s.message(), HasSubstr("is not the newest export's"));
    // Dropped without a record: nothing written.
  }
  EXPECT_EQ(*store_->Count("exports"), 0);
  EXPECT_EQ(*store_->Count("audit_log"), 0);
  {
    auto chain = (*records)->BeginChain();
    ASSERT_TRUE(chain.ok()) << chain.status();
    ASSERT_TRUE((*chain)->Record(row, audit).ok());
    EXPECT_TRUE(absl::IsFailedPrecondition((*chain)->Record(row, audit)));
  }
  {
    auto chain = (*records)->BeginChain();
    ASSERT_TRUE(chain.ok()) << chain.status();
    EXPECT_EQ((*chain)->previous().export_id, "X-1");
    EXPECT_TRUE(*(*chain)->IdTaken("X-1"));
    EXPECT_FALSE(*(*chain)->IdTaken("X-2"));
    ExportRecord again = row;  // the same id again, chained correctly: refused by the key
    again.previous_manifest_sha256 = row.manifest_sha256;
    again.created_us = kT0 + 1;
    EXPECT_FALSE((*chain)->Record(again, audit).ok());
  }
  EXPECT_EQ(*store_->Count("exports"), 1);
  EXPECT_EQ(*store_->Count("audit_log"), 1);
  auto listed = (*records)->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].summary, "s");
  EXPECT_EQ((*listed)[0].audit_head_hash, "h");
}

// Rows on both sides of the cutoff; a batch of 2 makes every delete take several batches.
TEST_P(ExportsTest, RetentionDeletesExactlyTheRowsBeforeTheCutoffInBatches) {
  const int64_t cut = kT0 + 100 * kHour;
  const std::string g = store_->Given();
  std::string reports = absl::StrCat(
      "INSERT INTO reports (id, node, boot_id, seq, "
      "collected_at_us, received_at_us, interval_seconds, "
      "size_bytes, accelerator_count, sample_count, "
      "workload_count)",
      g, "VALUES ");
  // ids 1-5: old (collected and received before the cutoff); 6: collected before, received
  // at it (a later pass); 7: young; 8: collected before but received after a young one (the walk
  // stops at 6: a later pass).
  const int64_t collected[] = {kT0 + 1, kT0 + 2, kT0 + 3, kT0 + 4,
                               kT0 + 5, cut - 1, cut + 1, kT0 + 6};
  const int64_t received[] = {kT0 + 1, kT0 + 2, kT0 + 3, kT0 + 4, kT0 + 5, cut, cut + 2, cut + 3};
  for (int i = 0; i < 8; ++i) {
    absl::StrAppend(&reports, i ? ", " : "", "(", i + 1, ", 1, 'b', ", i + 1, ", ", collected[i],
                    ", ", received[i], ", 10, 100, 1, 1, 1)");
  }
  ASSERT_TRUE(store_
                  ->Exec(absl::StrCat("INSERT INTO nodes (id, node_id, first_seen_us, "
                                      "last_seen_us, last_received_us)",
                                      g, "VALUES (1, 'n1', 1, 1, 1), (2, 'n2', 1, 1, 1)"))
                  .ok());
  ASSERT_TRUE(store_->Exec(reports).ok());
  // Usage: hours ending at or before the cutoff go (hour_us <= cut - 1 h).
  std::string usage =
      "INSERT INTO account_usage_hourly (account, hour_us, accelerator_seconds, "
      "training_seconds, inference_seconds, flop_low, flop_high, method) VALUES ";
  int n = 0;
  for (const char* account : {"a", "B", "c"}) {
    for (int64_t h :
         {cut - 4 * kHour, cut - 3 * kHour, cut - 2 * kHour, cut - kHour, cut - kHour + 1, cut}) {
      absl::StrAppend(&usage, n++ ? ", " : "", "('", account, "', ", h, ", 1, 0, 0, 0, 0, 'x')");
    }
  }
  ASSERT_TRUE(store_->Exec(usage).ok());
  std::string workloads = absl::StrCat(
      "INSERT INTO workloads (id, node, workload_id, kind, "
      "account, attribution_source, workload_class, "
      "class_confidence, launcher, accelerator_count, "
      "accelerator_model, first_seen_us, last_seen_us, "
      "accelerator_seconds, flop_low, flop_high, method)",
      g, "VALUES ");
  std::string details =
      "INSERT INTO workload_details (node, workload_id, seen_us, workload) "
      "VALUES ";
  for (int i = 1; i <= 7; ++i) {
    const int64_t last = i <= 5 ? cut - i : cut + i - 6;  // 5 old, 2 young (cut, cut + 1)
    absl::StrAppend(&workloads, i > 1 ? ", " : "", "(", i, ", ", 1 + i % 2, ", 'w", i,
                    "', 1, 'a', 1, 1, 0.5, '', 1, 'm', 1, ", last, ", 1, 0, 0, 'x')");
    absl::StrAppend(&details, i > 1 ? ", " : "", "(", 1 + i % 2, ", 'w", i, "', ", last, ", ",
                    store_->Blob("d"), ")");
  }
  ASSERT_TRUE(store_->Exec(workloads).ok());
  ASSERT_TRUE(store_->Exec(details).ok());
  // Case actions: F-1 resolved before the cutoff (its 3 old actions go, the young one stays);
  // F-2 resolved after it; F-3 open (status 1).
  ASSERT_TRUE(store_
                  ->Exec(absl::StrCat("INSERT INTO cases (flag_id, status, revision, updated_us) "
                                      "VALUES ('F-1', 4, 4, ",
                                      cut - 1, "), ('F-2', 4, 1, ", cut, "), ('F-3', 1, 1, 1)"))
                  .ok());
  ASSERT_TRUE(
      store_
          ->Exec(absl::StrCat(
              "INSERT INTO case_actions (flag_id, seq, time_us, actor, action) VALUES ('F-1', 1, ",
              cut - 5, ", 'a', ", store_->Blob(""), "), ('F-1', 2, ", cut - 4, ", 'a', ",
              store_->Blob(""), "), ('F-1', 3, ", cut - 3, ", 'a', ", store_->Blob(""),
              "), ('F-1', 4, ", cut, ", 'a', ", store_->Blob(""), "), ('F-2', 1, 1, 'a', ",
              store_->Blob(""), "), ('F-3', 1, 1, 'a', ", store_->Blob(""), ")"))
          .ok());

  auto repo = store_->Retention();
  ASSERT_TRUE(repo.ok()) << repo.status();
  EXPECT_TRUE(absl::IsInvalidArgument((*repo)->DeleteWorkloads(cut, 0).status()));
  EXPECT_EQ(*store_->Count("workloads"), 7);
  EXPECT_EQ(*(*repo)->DeleteReports(cut, 2), 5u);
  EXPECT_EQ(*store_->Count("reports", "id <= 5"), 0);
  EXPECT_EQ(*store_->Count("reports"), 3);             // 6, 7, 8
  EXPECT_EQ(*(*repo)->DeleteUsageHours(cut, 2), 12u);  // 4 whole hours x 3 accounts
  EXPECT_EQ(*store_->Count("account_usage_hourly"), 6);
  EXPECT_EQ(*store_->Count("account_usage_hourly", absl::StrCat("hour_us <= ", cut - kHour)), 0);
  EXPECT_EQ(*(*repo)->DeleteWorkloadDetails(cut, 2), 5u);
  EXPECT_EQ(*(*repo)->DeleteWorkloads(cut, 2), 5u);
  EXPECT_EQ(*store_->Count("workloads", absl::StrCat("last_seen_us < ", cut)), 0);
  EXPECT_EQ(*store_->Count("workloads"), 2);
  EXPECT_EQ(*store_->Count("workload_details"), 2);
  EXPECT_EQ(*(*repo)->DeleteCaseActions(cut, 2), 3u);
  EXPECT_EQ(*store_->Count("case_actions"), 3);
  EXPECT_EQ(*store_->Count("case_actions", "flag_id = 'F-1' AND seq = 4"), 1);
  // A second pass finds nothing more.
  EXPECT_EQ(*(*repo)->DeleteReports(cut, 2), 0u);
  EXPECT_EQ(*(*repo)->DeleteWorkloads(cut, 2), 0u);

  // The pruner: its counts and its audit entry ("retention.prune"), on either engine.
  clock_.Set(absl::FromUnixMicros(cut) + absl::Hours(24 * 1826) + absl::Hours(2));
  auto pruner = RetentionPruner::Create(*std::move(repo), clock_, absl::Hours(24 * 1826));
  ASSERT_TRUE(pruner.ok()) << pruner.status();
  EXPECT_FALSE((*pruner)->LastPruneTime()->has_value());
  auto counts = (*pruner)->Prune("provd");
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->cutoff_us, cut + 2 * kHour);
  EXPECT_EQ(counts->reports, 3u);      // 6, 7 and 8 now
  EXPECT_EQ(counts->usage_hours, 6u);  // everything ended by cut + 1 h
  EXPECT_EQ(counts->workloads, 2u);
  EXPECT_EQ(counts->workload_details, 2u);
  EXPECT_EQ(counts->case_actions, 2u);  // F-1's last, F-2's (F-3 is open)
  EXPECT_EQ(**(*pruner)->LastPruneTime(), clock_.Now());
  auto log = store_->AuditLog();
  ASSERT_TRUE(log.ok());
  auto entries = (*log)->List(0, 10, "retention.");
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].actor, "provd");
  EXPECT_THAT((*entries)[0].payload, HasSubstr("\"reports\":\"3\""));
  EXPECT_THAT((*entries)[0].payload, HasSubstr("\"case_actions\":\"2\""));
  EXPECT_TRUE((*log)->Verify(std::nullopt)->intact());
}

PROV_STORE_TEST_P(ExportsTest);

class PgExportsTest : public ExportsTest {
 protected:
  void SetUp() override {
    ExportsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (engine() != Engine::kPostgres) GTEST_SKIP() << "PostgreSQL only";
  }
  std::unique_ptr<PgConn> Connect(const std::string& name) {
    auto conn =
        PgConn::Connect(pg_conninfo(), {.application_name = name, .search_path = kPgSchema});
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }
};

// Two replicas export at the same moment: a third session holds the chain lock until both wait
// for it (seen in pg_stat_activity), then lets go. Both exports are recorded, one after the
// other: the second's previous manifest is the first's.
TEST_P(PgExportsTest, TwoReplicasExportingAtOnceChainOneAfterTheOther) {
  auto other = OpenExporter(*store_, dir_.path() + "/exports-b", &clock_);
  ASSERT_TRUE(other.ok()) << other.status();
  auto blocker = Connect("prov-test/blocker");
  auto watcher = Connect("prov-test/watcher");
  ASSERT_TRUE(blocker && watcher);
  ASSERT_TRUE(blocker->Exec("BEGIN").ok());
  ASSERT_TRUE(blocker
                  ->Query("SELECT pg_advisory_xact_lock($1::int, $2::int)",
                          {kPgLockKey, kPgExportChainLock})
                  .ok());
  absl::StatusOr<ExportResult> a = absl::UnknownError("not run"), b = a;
  std::thread ta([&] { a = exporter_->Run("schedule", "provd"); });
  std::thread tb([&] { b = (*other)->Run("schedule", "provd"); });
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  int64_t waiting = 0;
  while (absl::Now() < deadline) {
    auto r = watcher->Query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'provd/exports' AND "
        "wait_event_type = 'Lock' AND wait_event = 'advisory'");
    ASSERT_TRUE(r.ok()) << r.status();
    waiting = *r->Int64(0, 0);
    if (waiting == 2) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(waiting, 2);
  ASSERT_TRUE(blocker->Exec("COMMIT").ok());
  ta.join();
  tb.join();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  const ExportResult& first = a->summary.previous_manifest_sha256().empty() ? *a : *b;
  const ExportResult& second = &first == &*a ? *b : *a;
  EXPECT_EQ(first.summary.previous_manifest_sha256(), "");
  EXPECT_EQ(second.summary.previous_manifest_sha256(), first.summary.manifest_sha256());
  EXPECT_NE(first.summary.export_id(), second.summary.export_id());
  EXPECT_EQ(*store_->Count("exports"), 2);
  auto log = store_->AuditLog();
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->List(0, 10, "export")->size(), 2u);
  EXPECT_TRUE((*log)->Verify(std::nullopt)->intact());
}

// An export's snapshot may sort a whole table in its first FETCH: statement_timeout is lifted to
// 1 h inside it (SET LOCAL: the session's 60 s again after it).
TEST_P(PgExportsTest, SnapshotLiftsTheStatementTimeoutForItsLength) {
  auto source = store_->Snapshots();
  ASSERT_TRUE(source.ok()) << source.status();
  auto setting = [](ExportSnapshot& snap) {
    auto c = snap.Query("SELECT current_setting('statement_timeout')");
    EXPECT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(*(*c)->Next());
    return (*c)->Text(0);
  };
  for (int i = 0; i < 2; ++i) {
    auto snap = (*source)->Begin();
    ASSERT_TRUE(snap.ok()) << snap.status();
    EXPECT_EQ(setting(**snap), "1h");
  }
  auto plain = Connect("prov-test");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->Query("SELECT current_setting('statement_timeout')")->Text(0, 0), "1min");
}

// Every exports session terminated between calls: the next export, List and the retention
// repository carry on, on new sessions.
TEST_P(PgExportsTest, CarriesOnAfterItsSessionsAreTerminated) {
  ASSERT_TRUE(store_->Plant().ok());
  ASSERT_TRUE(exporter_->Run("schedule", "provd").ok());
  auto retention = PgRetentionRepository::Open(pg_conninfo());
  ASSERT_TRUE(retention.ok()) << retention.status();
  auto admin = Connect("prov-test");
  ASSERT_TRUE(admin);
  auto n = prov::testing::TerminateBackends(
      *admin, "application_name IN ('provd/exports', 'provd/retention')");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 4);  // the chain's, List's, the snapshot's, retention's
  auto list = exporter_->List();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->size(), 1u);
  auto again = exporter_->Run("request", "token:root");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->summary.previous_manifest_sha256(), (*list)[0].manifest_sha256());
  EXPECT_EQ(*(*retention)->DeleteWorkloads(kT0 + 1000 * kHour, 10), 2u);
  EXPECT_FALSE((*retention)->LastPruneTime()->has_value());
}

PROV_STORE_TEST_P(PgExportsTest);

}  // namespace
}  // namespace prov::server
