// IdentityServiceImpl over IdentityRepository on both engines (in-process gRPC on port 0): KYC and
// list imports re-screen and store their hits, GetAccount reads through the second repository, a
// policy load is stored with its audit entry, and LoadStartup reads back what a restart would.
// PostgreSQL only: two services (two replicas) on one database import one after the other and
// each builds on the other's version.
#include <memory>
#include <string>

#include "common/fs.h"
#include "common/testing/fake_clock.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "server/identity/identity_service.h"
#include "server/store/connection.h"
#include "server/store/pg/pg_audit_log.h"
#include "server/store/pg/pg_identity.h"
#include "server/store/repo/audit_log.h"
#include "server/store/sqlite/sqlite_audit_log.h"
#include "server/store/sqlite/sqlite_identity.h"
#include "tests/store/store_fixture.h"

namespace prov::server {
namespace {

using namespace provenance::v1;
using ::testing::ElementsAre;

std::string Fixture(const std::string& name) {
  auto text = ReadFileToString("tests/fixtures/identity/" + name);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

// One IdentityServiceImpl on its own two repositories, served in-process on port 0.
struct Replica {
  std::unique_ptr<IdentityServiceImpl> service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<IdentityService::Stub> stub;

  ~Replica() {
    if (server != nullptr) server->Shutdown();
  }
  ImportAccountsResponse Import(const std::string& fixture, grpc::Status* status) {
    ImportAccountsRequest req;
    req.set_source_name(fixture);
    req.set_content(Fixture(fixture));
    grpc::ClientContext ctx;
    ImportAccountsResponse resp;
    *status = stub->ImportAccounts(&ctx, req, &resp);
    return resp;
  }
};

class IdentityServiceEnginesTest : public prov::testing::StoreTest {
 protected:
  std::unique_ptr<IdentityRepository> OpenRepo() {
    if (engine() == prov::testing::Engine::kSqlite) {
      auto repo = SqliteIdentityRepository::Open(sqlite_path());
      EXPECT_TRUE(repo.ok()) << repo.status();
      return repo.ok() ? std::unique_ptr<IdentityRepository>(*std::move(repo)) : nullptr;
    }
    auto repo = PgIdentityRepository::Open(pg_conninfo());
    EXPECT_TRUE(repo.ok()) << repo.status();
    return repo.ok() ? std::unique_ptr<IdentityRepository>(*std::move(repo)) : nullptr;
  }

  std::unique_ptr<Replica> StartReplica() {
    auto r = std::make_unique<Replica>();
    auto repo = OpenRepo();
    auto reader = OpenRepo();
    if (repo == nullptr || reader == nullptr) return nullptr;
    r->service = IdentityServiceImpl::Create(std::move(repo), std::move(reader), clock_, nullptr,
                                             LoadedPolicy{});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(r->service.get());
    r->server = builder.BuildAndStart();
    if (r->server == nullptr) return nullptr;
    r->stub = IdentityService::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                           grpc::InsecureChannelCredentials()));
    return r;
  }

  std::vector<std::string> AuditActions() {
    std::unique_ptr<AuditLogRepository> log;
    if (engine() == prov::testing::Engine::kSqlite) {
      auto l = SqliteAuditLogRepository::Open(sqlite_path());
      EXPECT_TRUE(l.ok()) << l.status();
      log = *std::move(l);
    } else {
      auto l = PgAuditLogRepository::Open(pg_conninfo());
      EXPECT_TRUE(l.ok()) << l.status();
      log = *std::move(l);
    }
    auto v = log->Verify(std::nullopt);
    EXPECT_TRUE(v.ok() && v->intact());
    std::vector<std::string> out;
    auto entries = log->List(0, 100, "");
    EXPECT_TRUE(entries.ok()) << entries.status();
    if (entries.ok()) {
      for (const auto& e : *entries) out.push_back(e.action);
    }
    return out;
  }

  FakeClock clock_{absl::FromUnixSeconds(1'767'225'600)};
};

TEST_P(IdentityServiceEnginesTest, ImportsScreenStoreAndComeBackAtTheNextStart) {
  auto replica = StartReplica();
  ASSERT_NE(replica, nullptr);
  grpc::Status s;
  ImportAccountsResponse v1 = replica->Import("accounts.csv", &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(v1.kyc_version(), 1);
  EXPECT_EQ(v1.accepted(), 9u);

  ImportScreeningListRequest list_req;
  list_req.set_source_name("csl_sample.csv");
  list_req.set_content(Fixture("csl_sample.csv"));
  ImportScreeningListResponse list;
  {
    grpc::ClientContext ctx;
    s = replica->stub->ImportScreeningList(&ctx, list_req, &list);
  }
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(list.entries(), 6u);
  EXPECT_EQ(list.hits(), 6u);

  ImportAccountsResponse v2 = replica->Import("accounts_v2.csv", &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(v2.kyc_version(), 2);

  GetAccountRequest get;
  get.set_account_id("guian-cloud");
  GetAccountResponse guian;
  {
    grpc::ClientContext ctx;
    s = replica->stub->GetAccount(&ctx, get, &guian);
  }
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(guian.identity().legal_entity(), "Guian New District Huawei Investment Co., Ltd.");
  EXPECT_EQ(guian.kyc_version(), 1);
  ASSERT_EQ(guian.screening_size(), 1);
  EXPECT_EQ(guian.screening(0).kyc_version(), 2);

  LoadPolicyRequest policy;
  policy.set_source_name("p.yaml");
  policy.set_yaml(R"(version: "p-1"
compute_tiers:
  - name: tier-a
    flop: 1.0e25
    severity: high
    basis: "test"
screening:
  min_score: 0.95
  severity: high
)");
  LoadPolicyResponse loaded;
  {
    grpc::ClientContext ctx;
    s = replica->stub->LoadPolicy(&ctx, policy, &loaded);
  }
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(loaded.policy_version(), "p-1");
  EXPECT_THAT(AuditActions(),
              ElementsAre("kyc.import", "screening.import", "kyc.import", "policy.load"));

  replica.reset();
  auto repo = OpenRepo();
  ASSERT_NE(repo, nullptr);
  auto startup = IdentityServiceImpl::LoadStartup(*repo);
  ASSERT_TRUE(startup.ok()) << startup.status();
  EXPECT_EQ(startup->snapshot.kyc_version, 2);
  EXPECT_EQ(startup->snapshot.accounts->size(), 10u);
  EXPECT_EQ(startup->snapshot.screening_list_version, list.list_version());
  ASSERT_TRUE(startup->policy.has_value());
  EXPECT_EQ(startup->policy->policy->version, "p-1");
}

PROV_STORE_TEST_P(IdentityServiceEnginesTest);

using PgIdentityServiceTest = IdentityServiceEnginesTest;

// Two replicas on one database: the second imports on top of the first's version (it reads the
// latest version from the database, not from its own memory), and the first then on the second's.
TEST_P(PgIdentityServiceTest, ReplicasImportOnTopOfEachOther) {
  auto a = StartReplica();
  auto b = StartReplica();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  grpc::Status s;
  EXPECT_EQ(a->Import("accounts.csv", &s).kyc_version(), 1);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(b->Import("accounts_v2.csv", &s).kyc_version(), 2);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(a->Import("accounts.csv", &s).kyc_version(), 3);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(AuditActions(), ElementsAre("kyc.import", "kyc.import", "kyc.import"));
}

INSTANTIATE_TEST_SUITE_P(Engines, PgIdentityServiceTest,
                         ::testing::Values(prov::testing::Engine::kPostgres),
                         [](const auto& info) { return prov::testing::EngineName(info.param); });

}  // namespace
}  // namespace prov::server
