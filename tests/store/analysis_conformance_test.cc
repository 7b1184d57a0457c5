// The analysis facts repository (server/store/repo/analysis_facts.h) behaves the same on SQLite
// and on PostgreSQL: Save then Load round-trips every fact kind, the member tables follow bundles
// and flags, links are withdrawn, a flag's (rule, subject) stays unique, bad input writes nothing,
// a stored proto that does not parse is DATA_LOSS. PostgreSQL only: a deposed leader's Save
// writes nothing (leader term fencing) and a terminated session is replaced.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/analysis/analysis_store.h"
#include "server/analysis/analyzer.h"
#include "server/store/pg/pg_analysis_facts.h"
#include "server/store/pg/pg_conn.h"
#include "server/store/pg/pg_ingest_batches.h"
#include "server/store/pg/pg_inventory.h"
#include "server/store/pg/pg_schema.h"
#include "server/store/repo/analysis_facts.h"
#include "server/store/sqlite.h"
#include "server/store/sqlite/sqlite_analysis_facts.h"
#include "server/store/sqlite/sqlite_inventory.h"
#include "tests/analysis/analysis_test_util.h"
#include "tests/server/temp_dir.h"
#include "tests/store/pg_server.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

provenance::v1::NodeFacts Node(const std::string& id, int64_t last_us) {
  provenance::v1::NodeFacts n;
  n.set_node_id(id);
  n.set_hostname(id + ".example");
  n.set_datacenter("dc-east");
  n.add_addresses("10.0.0.1");
  n.set_last_time_us(last_us);
  return n;
}

provenance::v1::WorkloadFacts Workload(const std::string& node, const std::string& wl,
                                       const std::string& account) {
  provenance::v1::WorkloadFacts w;
  w.set_key(node + "/" + wl);
  w.set_node_id(node);
  w.set_account(account);
  w.set_workload_class(2);
  w.set_first_time_us(1000);
  return w;
}

provenance::v1::Link Link(const std::string& a, const std::string& b, double weight) {
  provenance::v1::Link l;
  l.set_kind("network_peer");
  l.set_account_a(a);
  l.set_account_b(b);
  l.set_weight(weight);
  l.set_sentence("café 東京 \"quoted\"");
  return l;
}

provenance::v1::Bundle Bundle(const std::string& id, std::vector<std::string> accounts,
                              int64_t last_seconds, const std::string& merged_into = "") {
  provenance::v1::Bundle b;
  b.set_bundle_id(id);
  for (auto& a : accounts) b.add_accounts(a);
  b.mutable_last_time()->set_seconds(last_seconds);
  b.set_merged_into(merged_into);
  b.set_score(0.75);
  return b;
}

provenance::v1::Flag Flag(const std::string& id, const std::string& rule,
                          const std::string& subject, std::vector<std::string> accounts) {
  provenance::v1::Flag f;
  f.set_flag_id(id);
  f.set_rule(rule);
  f.set_subject(subject);
  f.set_severity(provenance::v1::SEVERITY_HIGH);
  f.set_status(provenance::v1::FLAG_STATUS_OPEN);
  for (auto& a : accounts) f.add_accounts(a);
  f.mutable_updated_at()->set_seconds(1'700'000'000);
  f.mutable_updated_at()->set_nanos(123'456'789);
  f.set_revision(3);
  return f;
}

template <typename Proto>
std::vector<std::string> Serialized(const std::vector<Proto>& protos) {
  std::vector<std::string> out;
  for (const auto& p : protos) out.push_back(p.SerializeAsString());
  return out;
}

class AnalysisFactsTest : public prov::testing::StoreTest {
 protected:
  std::unique_ptr<AnalysisFactsRepository> Open(const std::string& app = "provd/analysis") {
    absl::StatusOr<std::unique_ptr<AnalysisFactsRepository>> repo;
    if (engine() == prov::testing::Engine::kSqlite) {
      repo = SqliteAnalysisFactsRepository::Open(sqlite_path());
    } else if (app == "provd/analysis") {
      repo = PgAnalysisFactsRepository::Open(pg_conninfo());
    } else {
      auto conn =
          PgConn::Connect(pg_conninfo(), {.application_name = app, .search_path = kPgSchema});
      if (!conn.ok()) {
        repo = conn.status();
      } else {
        repo = std::make_unique<PgAnalysisFactsRepository>(*std::move(conn));
      }
    }
    EXPECT_TRUE(repo.ok()) << repo.status();
    return repo.ok() ? *std::move(repo) : nullptr;
  }
  std::unique_ptr<InventoryRepository> OpenInventory() {
    absl::StatusOr<std::unique_ptr<InventoryRepository>> repo;
    if (engine() == prov::testing::Engine::kSqlite) {
      repo = SqliteInventoryRepository::Open(sqlite_path());
    } else {
      repo = PgInventoryRepository::Open(pg_conninfo());
    }
    EXPECT_TRUE(repo.ok()) << repo.status();
    return repo.ok() ? *std::move(repo) : nullptr;
  }
  // The rows of `sql`, each as its columns joined by '|' (read on the engine directly).
  std::vector<std::string> Rows(const std::string& sql) {
    std::vector<std::string> out;
    // The select list's columns (the queries here are plain column lists).
    const std::string list = sql.substr(0, sql.find(" FROM "));
    const int columns = 1 + static_cast<int>(std::count(list.begin(), list.end(), ','));
    if (engine() == prov::testing::Engine::kSqlite) {
      auto db = SqliteDb::Open(sqlite_path(), SqliteDb::kReadOnly);
      EXPECT_TRUE(db.ok()) << db.status();
      if (!db.ok()) return out;
      auto st = (*db)->Prepare(sql);
      EXPECT_TRUE(st.ok()) << st.status();
      if (!st.ok()) return out;
      while (true) {
        auto row = (*st)->Step();
        EXPECT_TRUE(row.ok()) << row.status();
        if (!row.ok() || !*row) break;
        std::vector<std::string> cols;
        for (int c = 0; c < columns; ++c) cols.push_back((*st)->ColumnText(c));
        out.push_back(absl::StrJoin(cols, "|"));
      }
    } else {
      auto conn = PgConn::Connect(pg_conninfo(),
                                  {.application_name = "prov-test", .search_path = kPgSchema});
      EXPECT_TRUE(conn.ok()) << conn.status();
      if (!conn.ok()) return out;
      auto r = (*conn)->Query(sql);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) return out;
      for (int i = 0; i < r->rows(); ++i) {
        std::vector<std::string> cols;
        for (int c = 0; c < r->columns(); ++c) cols.push_back(r->Text(i, c));
        out.push_back(absl::StrJoin(cols, "|"));
      }
    }
    return out;
  }
};

TEST_P(AnalysisFactsTest, AnEmptyStoreLoadsNothing) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  auto facts = repo->Load();
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_THAT(facts->nodes, IsEmpty());
  EXPECT_THAT(facts->workloads, IsEmpty());
  EXPECT_THAT(facts->links, IsEmpty());
  EXPECT_THAT(facts->bundles, IsEmpty());
  EXPECT_THAT(facts->flags, IsEmpty());
  EXPECT_THAT(facts->ledger, IsEmpty());
  EXPECT_TRUE(repo->Save({}).ok());
}

TEST_P(AnalysisFactsTest, SaveThenLoadRoundTripsEveryFactKindInKeyOrder) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  const auto n2 = Node("n-2", 20), n1 = Node("n-1", -5);
  const auto w1 = Workload("n-1", "job-b", "acct-1"), w0 = Workload("n-1", "job-a", "acct-2");
  const auto l1 = Link("acct-1", "acct-2", 0.5), l0 = Link("acct-0", "acct-1", 0.25);
  const auto f2 = Flag("F-2", "screening_hit", "account:acct-1", {"acct-1"});
  const auto f10 = Flag("F-10", "compute_tier", "bundle:B-1", {"acct-2", "acct-1"});
  AnalysisFactsChanges c;
  c.nodes = {{"n-2", &n2}, {"n-1", &n1}};
  c.workloads = {{w1.key(), &w1}, {w0.key(), &w0}};
  c.links = {{"L-b", &l1}, {"L-a", &l0}};
  c.bundles = {{"B-2", Bundle("B-2", {"acct-9"}, 30)},
               {"B-1", Bundle("B-1", {"acct-2", "acct-1"}, 40)}};
  c.flags = {{"F-2", &f2}, {"F-10", &f10}};
  ASSERT_TRUE(repo->Save(c).ok());

  auto reopened = Open();
  ASSERT_NE(reopened, nullptr);
  auto facts = reopened->Load();
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(Serialized(facts->nodes), Serialized(std::vector{n1, n2}));
  EXPECT_EQ(Serialized(facts->workloads), Serialized(std::vector{w0, w1}));
  ASSERT_EQ(facts->links.size(), 2u);
  EXPECT_EQ(facts->links[0].first, "L-a");
  EXPECT_EQ(facts->links[0].second.SerializeAsString(), l0.SerializeAsString());
  EXPECT_EQ(facts->links[1].first, "L-b");
  EXPECT_EQ(facts->links[1].second.SerializeAsString(), l1.SerializeAsString());
  EXPECT_EQ(Serialized(facts->bundles),
            Serialized(std::vector{c.bundles[1].second, c.bundles[0].second}));
  EXPECT_EQ(Serialized(facts->flags), Serialized(std::vector{f10, f2}));  // "F-10" < "F-2"

  // The columns the other readers query.
  EXPECT_THAT(Rows("SELECT link_key, kind, account_a, account_b FROM links ORDER BY link_key"),
              ElementsAre("L-a|network_peer|acct-0|acct-1", "L-b|network_peer|acct-1|acct-2"));
  EXPECT_THAT(Rows("SELECT bundle_id, merged_into, updated_us FROM bundles ORDER BY bundle_id"),
              ElementsAre("B-1||40000000", "B-2||30000000"));
  EXPECT_THAT(Rows("SELECT account_id, bundle_id FROM bundle_accounts ORDER BY account_id"),
              ElementsAre("acct-1|B-1", "acct-2|B-1", "acct-9|B-2"));
  EXPECT_THAT(
      Rows("SELECT flag_id, rule, subject, severity, status, updated_us FROM flags "
           "ORDER BY flag_id"),
      ElementsAre(absl::StrCat("F-10|compute_tier|bundle:B-1|", provenance::v1::SEVERITY_HIGH, "|",
                               provenance::v1::FLAG_STATUS_OPEN, "|1700000000123456"),
                  absl::StrCat("F-2|screening_hit|account:acct-1|", provenance::v1::SEVERITY_HIGH,
                               "|", provenance::v1::FLAG_STATUS_OPEN, "|1700000000123456")));
  EXPECT_THAT(Rows("SELECT account_id, flag_id FROM flag_accounts ORDER BY account_id, flag_id"),
              ElementsAre("acct-1|F-10", "acct-1|F-2", "acct-2|F-10"));
}

TEST_P(AnalysisFactsTest, SaveReplacesRowsAndWithdrawsLinksBeforeWritingThem) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  auto n = Node("n-1", 1);
  const auto a = Link("acct-1", "acct-2", 0.5), b = Link("acct-1", "acct-3", 0.5);
  AnalysisFactsChanges first;
  first.nodes = {{"n-1", &n}};
  first.links = {{"L-a", &a}, {"L-b", &b}, {"L-c", &b}};
  ASSERT_TRUE(repo->Save(first).ok());

  n.set_last_time_us(99);
  const auto b2 = Link("acct-1", "acct-4", 0.9);
  AnalysisFactsChanges second;
  second.nodes = {{"n-1", &n}};
  second.removed_links = {"L-a", "L-c", "L-unknown"};
  second.links = {{"L-b", &b2}, {"L-c", &b2}};  // withdrawn, then written again in this Save
  ASSERT_TRUE(repo->Save(second).ok());

  auto facts = repo->Load();
  ASSERT_TRUE(facts.ok()) << facts.status();
  ASSERT_EQ(facts->nodes.size(), 1u);
  EXPECT_EQ(facts->nodes[0].last_time_us(), 99);
  EXPECT_THAT(Rows("SELECT link_key, account_b FROM links ORDER BY link_key"),
              ElementsAre("L-b|acct-4", "L-c|acct-4"));
}

// A key given twice in one Save ends as its last entry, as writing them one by one leaves it;
// more rows than one PostgreSQL statement carries (500) all land.
TEST_P(AnalysisFactsTest, TheLastEntryOfAKeyWinsAndLargeSavesLandWhole) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  const auto first = Link("acct-1", "acct-2", 0.1), last = Link("acct-1", "acct-3", 0.9);
  const auto n_old = Node("n-1", 1), n_new = Node("n-1", 2);
  std::vector<provenance::v1::WorkloadFacts> many;
  for (int i = 0; i < 1201; ++i) many.push_back(Workload("n-1", absl::StrCat("w-", i), "acct"));
  AnalysisFactsChanges c;
  c.links = {{"L-1", &first}, {"L-2", &first}, {"L-1", &last}};
  c.nodes = {{"n-1", &n_old}, {"n-1", &n_new}};
  for (const auto& w : many) c.workloads.emplace_back(w.key(), &w);
  ASSERT_TRUE(repo->Save(c).ok());
  EXPECT_THAT(Rows("SELECT link_key, account_b FROM links ORDER BY link_key"),
              ElementsAre("L-1|acct-3", "L-2|acct-2"));
  auto facts = repo->Load();
  ASSERT_TRUE(facts.ok()) << facts.status();
  ASSERT_EQ(facts->nodes.size(), 1u);
  EXPECT_EQ(facts->nodes[0].last_time_us(), 2);
  EXPECT_EQ(facts->workloads.size(), 1201u);
}

TEST_P(AnalysisFactsTest, BundleMergeMovesItsAccountsToTheSurvivor) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  AnalysisFactsChanges first;
  first.bundles = {{"B-1", Bundle("B-1", {"acct-1", "acct-2"}, 10)},
                   {"B-2", Bundle("B-2", {"acct-3"}, 10)}};
  ASSERT_TRUE(repo->Save(first).ok());
  // B-2 absorbs B-1: the survivor is written with every account, the absorbed one emptied.
  AnalysisFactsChanges merge;
  merge.bundles = {{"B-2", Bundle("B-2", {"acct-1", "acct-2", "acct-3"}, 20)},
                   {"B-1", Bundle("B-1", {}, 20, "B-2")}};
  ASSERT_TRUE(repo->Save(merge).ok());
  EXPECT_THAT(Rows("SELECT account_id, bundle_id FROM bundle_accounts ORDER BY account_id"),
              ElementsAre("acct-1|B-2", "acct-2|B-2", "acct-3|B-2"));
  EXPECT_THAT(Rows("SELECT bundle_id, merged_into FROM bundles ORDER BY bundle_id"),
              ElementsAre("B-1|B-2", "B-2|"));
  // An account written under another bundle without emptying its old one moves too (one row
  // per account).
  AnalysisFactsChanges move;
  move.bundles = {{"B-3", Bundle("B-3", {"acct-3"}, 30)}};
  ASSERT_TRUE(repo->Save(move).ok());
  EXPECT_THAT(Rows("SELECT account_id, bundle_id FROM bundle_accounts ORDER BY account_id"),
              ElementsAre("acct-1|B-2", "acct-2|B-2", "acct-3|B-3"));
  auto facts = repo->Load();
  ASSERT_TRUE(facts.ok()) << facts.status();
  ASSERT_EQ(facts->bundles.size(), 3u);
  EXPECT_EQ(facts->bundles[0].merged_into(), "B-2");
}

TEST_P(AnalysisFactsTest, AFlagsRuleAndSubjectStayUniqueAcrossIds) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  const auto old_flag = Flag("F-1", "screening_hit", "account:acct-1", {"acct-1", "acct-2"});
  AnalysisFactsChanges first;
  first.flags = {{"F-1", &old_flag}};
  ASSERT_TRUE(repo->Save(first).ok());
  auto updated = old_flag;
  updated.set_status(provenance::v1::FLAG_STATUS_RESOLVED);
  updated.clear_accounts();
  updated.add_accounts("acct-1");
  const auto other = Flag("F-2", "screening_hit", "account:acct-9", {"acct-9"});
  AnalysisFactsChanges second;
  second.flags = {{"F-1", &updated}, {"F-2", &other}};
  ASSERT_TRUE(repo->Save(second).ok());
  EXPECT_THAT(Rows("SELECT flag_id, status FROM flags ORDER BY flag_id"),
              ElementsAre(absl::StrCat("F-1|", provenance::v1::FLAG_STATUS_RESOLVED),
                          absl::StrCat("F-2|", provenance::v1::FLAG_STATUS_OPEN)));
  EXPECT_THAT(Rows("SELECT account_id, flag_id FROM flag_accounts ORDER BY account_id, flag_id"),
              ElementsAre("acct-1|F-1", "acct-9|F-2"));
  // Another id with F-1's (rule, subject) replaces F-1's row (SQLite's INSERT OR REPLACE; F-1's
  // flag_accounts rows stay, as they always did).
  const auto same_key = Flag("F-3", "screening_hit", "account:acct-1", {"acct-5"});
  AnalysisFactsChanges third;
  third.flags = {{"F-3", &same_key}};
  ASSERT_TRUE(repo->Save(third).ok());
  EXPECT_THAT(Rows("SELECT flag_id, subject FROM flags ORDER BY flag_id"),
              ElementsAre("F-2|account:acct-9", "F-3|account:acct-1"));
  EXPECT_THAT(Rows("SELECT account_id, flag_id FROM flag_accounts ORDER BY account_id, flag_id"),
              ElementsAre("acct-1|F-1", "acct-5|F-3", "acct-9|F-2"));
  auto facts = repo->Load();
  ASSERT_TRUE(facts.ok()) << facts.status();
  ASSERT_EQ(facts->flags.size(), 2u);
  EXPECT_EQ(facts->flags[1].flag_id(), "F-3");
}

TEST_P(AnalysisFactsTest, LoadReturnsTheIngestLedger) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  ASSERT_TRUE(RawExec("INSERT INTO nodes(node_id, first_seen_us, last_seen_us, last_received_us) "
                      "VALUES ('n-b', 1, 2, 3), ('n-a', 1, 2, 3)")
                  .ok());
  for (const auto& [node, wl, cls, low] :
       std::vector<std::tuple<std::string, std::string, int, double>>{
           {"n-b", "w-1", 1, 1e20}, {"n-a", "w-2", 2, 2.5e21}, {"n-a", "w-1", 1, 0}}) {
    ASSERT_TRUE(
        RawExec(absl::StrCat(
                    "INSERT INTO workloads(node, workload_id, kind, account, attribution_source, "
                    "workload_class, class_confidence, launcher, accelerator_count, "
                    "accelerator_model, first_seen_us, last_seen_us, accelerator_seconds, "
                    "flop_low, flop_high, method) SELECT id, '",
                    wl, "', 1, 'acct', 1, ", cls, ", 0.5, '', 1, 'H100', 1, 2, 3600, ", low, ", ",
                    low * 2, ", 'm' FROM nodes WHERE node_id = '", node, "'"))
            .ok());
  }
  auto facts = repo->Load();
  ASSERT_TRUE(facts.ok()) << facts.status();
  std::vector<std::string> rows;
  for (const auto& r : facts->ledger) {
    rows.push_back(absl::StrCat(r.node_id, "/", r.workload_id, " ", r.workload_class, " ",
                                r.flop_low, " ", r.flop_high, " ", r.accelerator_seconds));
  }
  EXPECT_THAT(rows, ElementsAre("n-a/w-1 1 0 0 3600", "n-a/w-2 2 2.5e+21 5e+21 3600",
                                "n-b/w-1 1 1e+20 2e+20 3600"));
}

TEST_P(AnalysisFactsTest, BadInputIsRefusedNamingTheEntryAndWritesNothing) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  const auto n = Node("n-1", 1);
  AnalysisFactsChanges null_flag;
  null_flag.nodes = {{"n-1", &n}};
  null_flag.flags = {{"F-7", nullptr}};
  absl::Status s = repo->Save(null_flag);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("flag F-7"));
  AnalysisFactsChanges empty_key;
  empty_key.nodes = {{"n-1", &n}};
  empty_key.removed_links = {""};
  s = repo->Save(empty_key);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("removed link"));
  AnalysisFactsChanges empty_node;
  empty_node.nodes = {{"", &n}};
  s = repo->Save(empty_node);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("node entry 0"));
  EXPECT_THAT(Rows("SELECT node_id FROM analysis_nodes"), IsEmpty());
}

TEST_P(AnalysisFactsTest, AStoredProtoThatDoesNotParseIsDataLossNamingTheRow) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  const std::string garbage =
      engine() == prov::testing::Engine::kSqlite ? "X'ffffffff'" : "'\\xffffffff'::bytea";
  ASSERT_TRUE(
      RawExec(absl::StrCat("INSERT INTO flags VALUES ('F-bad', 'r', 's', 1, 1, 0, ", garbage, ")"))
          .ok());
  auto facts = repo->Load();
  EXPECT_TRUE(absl::IsDataLoss(facts.status())) << facts.status();
  EXPECT_THAT(facts.status().message(), HasSubstr("flags row F-bad"));
}

// SQLite has one provd, which leads alone (SoleLeader): the term is not checked there.
TEST_P(AnalysisFactsTest, ATermIsCheckedOnPostgresOnly) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  const auto n = Node("n-1", 1);
  AnalysisFactsChanges c;
  c.nodes = {{"n-1", &n}};
  absl::Status s = repo->Save(c, 7);
  if (engine() == prov::testing::Engine::kSqlite) {
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_THAT(Rows("SELECT node_id FROM analysis_nodes"), ElementsAre("n-1"));
  } else {  // no replica was ever elected
    EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
    EXPECT_THAT(Rows("SELECT node_id FROM analysis_nodes"), IsEmpty());
  }
}

// SQLite has no ingest batch log: a position is refused there, and nothing of the Save lands.
TEST_P(AnalysisFactsTest, AnIngestPositionIsRefusedOnSqlite) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  const auto n = Node("n-1", 1);
  AnalysisFactsChanges c;
  c.nodes = {{"n-1", &n}};
  c.ingest_position = IngestPosition{.horizon = 5};
  absl::Status s = repo->Save(c);
  if (engine() == prov::testing::Engine::kSqlite) {
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_THAT(Rows("SELECT node_id FROM analysis_nodes"), IsEmpty());
  } else {
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_THAT(Rows("SELECT node_id FROM analysis_nodes"), ElementsAre("n-1"));
  }
}

// Load gives back the ingest position saved with the facts (PostgreSQL, same snapshot); nullopt
// before any was saved, and always on SQLite (no batch log).
TEST_P(AnalysisFactsTest, LoadGivesTheSavedIngestPositionBack) {
  auto repo = Open();
  ASSERT_NE(repo, nullptr);
  auto before = repo->Load();
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->ingest_position, std::nullopt);
  const auto n = Node("n-1", 1);
  AnalysisFactsChanges c;
  c.nodes = {{"n-1", &n}};
  if (engine() == prov::testing::Engine::kPostgres) {
    c.ingest_position = IngestPosition{.horizon = 4242, .seen = {{11, 4300}, {12, 4250}}};
  }
  ASSERT_TRUE(repo->Save(c).ok());
  auto after = Open()->Load();
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->nodes.size(), 1u);
  if (engine() == prov::testing::Engine::kSqlite) {
    EXPECT_EQ(after->ingest_position, std::nullopt);
    return;
  }
  ASSERT_TRUE(after->ingest_position.has_value());
  EXPECT_EQ(*after->ingest_position, *c.ingest_position);
  // The zero position saved is a saved position (not "none").
  AnalysisFactsChanges zero;
  zero.ingest_position = IngestPosition{};
  ASSERT_TRUE(repo->Save(zero).ok());
  auto zeroed = repo->Load();
  ASSERT_TRUE(zeroed.ok()) << zeroed.status();
  EXPECT_EQ(zeroed->ingest_position, std::optional<IngestPosition>(IngestPosition{}));
}

// The engine-facing AnalysisStore over either engine's repository: an analyzer's state (nodes,
// workloads, links, a bundle and a flag from three rounds of peer traffic) saved, then restored
// into a fresh analyzer, gives the same bundles, flags and facts.
TEST_P(AnalysisFactsTest, AnalysisStoreRestoresAnAnalyzersState) {
  using namespace testing;  // NOLINT: analysis test builders
  auto make_store = [&]() -> std::unique_ptr<AnalysisStore> {
    auto inventory = OpenInventory();
    auto repo = Open();
    if (inventory == nullptr || repo == nullptr) return nullptr;
    return AnalysisStore::Create(std::move(repo), std::move(inventory));
  };
  Analyzer before(TestPolicy());
  for (int k = 0; k < 3; ++k) {
    for (const auto& obs : PeerRound(k)) before.Observe(obs);
  }
  before.Evaluate(kT0 + absl::Minutes(15));
  auto store = make_store();
  ASSERT_NE(store, nullptr);
  const AnalyzerChanges changes = before.TakeChanges();
  ASSERT_FALSE(changes.links.empty());
  ASSERT_TRUE(store->Save(before, changes).ok());
  ASSERT_EQ(Flags(before).size(), 1u);
  ASSERT_EQ(before.ListBundles({}).size(), 1u);

  Analyzer after(TestPolicy());
  auto reopened = make_store();
  ASSERT_NE(reopened, nullptr);
  ASSERT_TRUE(reopened->Load(after).ok());
  EXPECT_EQ(Serialized(Flags(after)), Serialized(Flags(before)));
  EXPECT_EQ(Serialized(after.ListBundles({})), Serialized(before.ListBundles({})));
  for (const char* node : {"n-east", "n-west"}) {
    ASSERT_NE(after.node(node), nullptr) << node;
    EXPECT_EQ(after.node(node)->SerializeAsString(), before.node(node)->SerializeAsString());
  }
  for (const std::string& key : changes.links) {
    ASSERT_NE(after.link(key), nullptr) << key;
    EXPECT_EQ(after.link(key)->SerializeAsString(), before.link(key)->SerializeAsString());
  }
}

PROV_STORE_TEST_P(AnalysisFactsTest);

class PgAnalysisFactsTest : public AnalysisFactsTest {
 protected:
  std::unique_ptr<PgConn> Connect(const std::string& name) {
    auto conn =
        PgConn::Connect(pg_conninfo(), {.application_name = name, .search_path = kPgSchema});
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }
};

// A replica elected in term 1 was deposed (term 2 began elsewhere): its Save writes nothing,
// not even the rows before the check, and the successor's Save lands.
TEST_P(PgAnalysisFactsTest, ADeposedLeadersSaveWritesNothing) {
  auto old_leader = Open();
  auto new_leader = Open();
  auto admin = Connect("prov-test");
  ASSERT_TRUE(old_leader && new_leader && admin);
  ASSERT_TRUE(
      admin->Exec("INSERT INTO leader(id, term, holder, since_us) VALUES (1, 1, 'provd-a', 0)")
          .ok());
  const auto n = Node("n-1", 1);
  const auto f = Flag("F-1", "screening_hit", "account:acct-1", {"acct-1"});
  AnalysisFactsChanges c;
  c.nodes = {{"n-1", &n}};
  c.flags = {{"F-1", &f}};
  ASSERT_TRUE(old_leader->Save(c, 1).ok());  // term 1 leads: lands

  ASSERT_TRUE(admin->Exec("UPDATE leader SET term = 2, holder = 'provd-b' WHERE id = 1").ok());
  const auto n2 = Node("n-2", 2);
  auto f_stale = f;
  f_stale.set_status(provenance::v1::FLAG_STATUS_RESOLVED);
  AnalysisFactsChanges stale;
  stale.nodes = {{"n-2", &n2}};
  stale.flags = {{"F-1", &f_stale}};
  stale.removed_links = {"L-x"};
  absl::Status s = old_leader->Save(stale, 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("term 2"));
  EXPECT_THAT(Rows("SELECT node_id FROM analysis_nodes ORDER BY node_id"), ElementsAre("n-1"));
  EXPECT_THAT(Rows("SELECT flag_id, status FROM flags"),
              ElementsAre(absl::StrCat("F-1|", provenance::v1::FLAG_STATUS_OPEN)));

  ASSERT_TRUE(new_leader->Save(stale, 2).ok());
  EXPECT_THAT(Rows("SELECT node_id FROM analysis_nodes ORDER BY node_id"),
              ElementsAre("n-1", "n-2"));
}

// The ingest position is written with the facts, after the term check: a deposed leader's Save
// moves neither; the leader's lands both, and a Save of the position alone lands it too.
TEST_P(PgAnalysisFactsTest, TheIngestPositionIsSavedWithTheFactsUnderTheTerm) {
  auto leader = Open();
  auto admin = Connect("prov-test");
  ASSERT_TRUE(leader && admin);
  ASSERT_TRUE(
      admin->Exec("INSERT INTO leader(id, term, holder, since_us) VALUES (1, 2, 'provd-b', 0)")
          .ok());
  const auto n = Node("n-1", 1);
  AnalysisFactsChanges c;
  c.nodes = {{"n-1", &n}};
  c.ingest_position = IngestPosition{.horizon = 900, .seen = {{7, 950}, {9, 990}}};
  absl::Status stale = leader->Save(c, 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(stale)) << stale;
  auto none = PgLoadIngestPosition(*admin);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, IngestPosition{});
  EXPECT_THAT(Rows("SELECT node_id FROM analysis_nodes"), ElementsAre());

  ASSERT_TRUE(leader->Save(c, 2).ok());
  auto saved = PgLoadIngestPosition(*admin);
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(*saved, *c.ingest_position);
  EXPECT_THAT(Rows("SELECT node_id FROM analysis_nodes"), ElementsAre("n-1"));

  AnalysisFactsChanges only_position;
  only_position.ingest_position = IngestPosition{.horizon = 1000};
  ASSERT_TRUE(leader->Save(only_position, 2).ok());
  EXPECT_EQ(*PgLoadIngestPosition(*admin), *only_position.ingest_position);
}

// A Save that checked its term holds the leader row: a successor's term bump waits until that
// Save committed, so the write never lands after the new term exists.
TEST_P(PgAnalysisFactsTest, ASuccessorsTermBeginsOnlyAfterASaveInFlightCommitted) {
  auto repo = Open();
  auto bumper = Connect("prov-test/bumper");
  auto admin = Connect("prov-test");
  ASSERT_TRUE(repo && bumper && admin);
  ASSERT_TRUE(
      admin->Exec("INSERT INTO leader(id, term, holder, since_us) VALUES (1, 1, 'provd-a', 0)")
          .ok());
  // Hold the analysis_nodes row the Save writes, so the Save stops after its term check.
  const auto n = Node("n-1", 1);
  AnalysisFactsChanges c;
  c.nodes = {{"n-1", &n}};
  ASSERT_TRUE(repo->Save(c, 1).ok());
  ASSERT_TRUE(admin->Exec("BEGIN").ok());
  ASSERT_TRUE(admin->Exec("SELECT * FROM analysis_nodes WHERE node_id = 'n-1' FOR UPDATE").ok());
  absl::Status saved;
  std::thread save([&] { saved = repo->Save(c, 1); });
  auto watcher = Connect("prov-test/watcher");
  ASSERT_NE(watcher, nullptr);
  auto wait_for_lock_wait = [&](const std::string& app) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      auto w =
          watcher->Query(absl::StrCat("SELECT count(*) FROM pg_stat_activity WHERE "
                                      "application_name = '",
                                      app, "' AND wait_event_type = 'Lock'"));
      if (w.ok() && *w->Int64(0, 0) == 1) return true;
      absl::SleepFor(absl::Milliseconds(10));  // polling another session's state, bounded
    }
    return false;
  };
  ASSERT_TRUE(wait_for_lock_wait("provd/analysis"));
  absl::Status bumped;
  std::thread bump(
      [&] { bumped = bumper->Exec("UPDATE leader SET term = term + 1 WHERE id = 1"); });
  EXPECT_TRUE(wait_for_lock_wait("prov-test/bumper"));  // waits for the Save's FOR SHARE
  ASSERT_TRUE(admin->Exec("COMMIT").ok());
  save.join();
  bump.join();
  EXPECT_TRUE(saved.ok()) << saved;
  EXPECT_TRUE(bumped.ok()) << bumped;
  absl::Status after = repo->Save(c, 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(after)) << after;
}

// The server dropped the repository's session (a restart, a failover): the next calls run on a
// new one.
TEST_P(PgAnalysisFactsTest, ATerminatedSessionIsReplaced) {
  auto repo = Open();
  auto admin = Connect("prov-test");
  ASSERT_TRUE(repo && admin);
  const auto n = Node("n-1", 1);
  AnalysisFactsChanges c;
  c.nodes = {{"n-1", &n}};
  ASSERT_TRUE(repo->Save(c).ok());
  auto killed = prov::testing::TerminateBackends(*admin, "application_name = 'provd/analysis'");
  ASSERT_TRUE(killed.ok()) << killed.status();
  ASSERT_EQ(*killed, 1);
  auto facts = repo->Load();
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->nodes.size(), 1u);
  killed = prov::testing::TerminateBackends(*admin, "application_name = 'provd/analysis'");
  ASSERT_TRUE(killed.ok()) << killed.status();
  ASSERT_EQ(*killed, 1);
  const auto n2 = Node("n-2", 2);
  c.nodes = {{"n-2", &n2}};
  ASSERT_TRUE(repo->Save(c).ok());
  EXPECT_THAT(Rows("SELECT node_id FROM analysis_nodes ORDER BY node_id"),
              ElementsAre("n-1", "n-2"));
}

INSTANTIATE_TEST_SUITE_P(Engines, PgAnalysisFactsTest,
                         ::testing::Values(::prov::testing::Engine::kPostgres),
                         [](const auto& info) { return ::prov::testing::EngineName(info.param); });

}  // namespace
}  // namespace prov::server
