// IdentityServiceImpl in-process on port 0, over a real provd.db in a temp dir, with a fake
// IdentitySink recording what the analysis engine would be told.
#include "server/identity/identity_service.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/fs.h"
#include "common/testing/fake_clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "server/identity/account_screening.h"
#include "server/store/sqlite.h"
#include "tests/server/temp_dir.h"

namespace prov::server {
namespace {

using namespace provenance::v1;

class FakeSink : public IdentitySink {
 public:
  void OnIdentityChanged(IdentitySnapshot snapshot) override {
    absl::MutexLock lock(&mu_);
    snapshots_.push_back(std::move(snapshot));
  }
  absl::Status OnPolicyLoaded(std::shared_ptr<const policy::Policy> policy) override {
    absl::MutexLock lock(&mu_);
    policies_.push_back(policy);
    return refuse_;
  }
  std::vector<IdentitySnapshot> snapshots() {
    absl::MutexLock lock(&mu_);
    return snapshots_;
  }
  std::vector<std::shared_ptr<const policy::Policy>> policies() {
    absl::MutexLock lock(&mu_);
    return policies_;
  }
  void Refuse(absl::Status s) {
    absl::MutexLock lock(&mu_);
    refuse_ = s;
  }

 private:
  absl::Mutex mu_;
  std::vector<IdentitySnapshot> snapshots_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<const policy::Policy>> policies_ ABSL_GUARDED_BY(mu_);
  absl::Status refuse_ ABSL_GUARDED_BY(mu_);
};

std::string Fixture(const std::string& name) {
  auto text = ReadFileToString("tests/fixtures/identity/" + name);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

class IdentityServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(LoadedPolicy{}); }
  void TearDown() override { Stop(); }

  void Start(LoadedPolicy policy, IdentityServiceOptions options = {}) {
    auto service =
        IdentityServiceImpl::Create(DbPath(), clock_, &sink_, std::move(policy), options);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    builder.SetMaxReceiveMessageSize(64 << 20);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(-1);
    stub_ = IdentityService::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(), args));
  }
  void Stop() {
    if (server_ != nullptr) server_->Shutdown();
    server_.reset();
    service_.reset();
  }
  std::string DbPath() const { return dir_.path() + "/provd.db"; }

  grpc::Status ImportAccounts(const std::string& fixture, ImportAccountsResponse* resp) {
    ImportAccountsRequest req;
    req.set_source_name(fixture);
    req.set_content(Fixture(fixture));
    grpc::ClientContext ctx;
    return stub_->ImportAccounts(&ctx, req, resp);
  }
  grpc::Status ImportList(const std::string& content, ImportScreeningListResponse* resp) {
    ImportScreeningListRequest req;
    req.set_source_name("csl_sample.csv");
    req.set_content(content);
    grpc::ClientContext ctx;
    return stub_->ImportScreeningList(&ctx, req, resp);
  }
  grpc::Status GetAccount(const std::string& id, GetAccountResponse* resp) {
    GetAccountRequest req;
    req.set_account_id(id);
    grpc::ClientContext ctx;
    return stub_->GetAccount(&ctx, req, resp);
  }
  grpc::Status LoadPolicy(const std::string& yaml, LoadPolicyResponse* resp) {
    LoadPolicyRequest req;
    req.set_source_name("test.yaml");
    req.set_yaml(yaml);
    grpc::ClientContext ctx;
    return stub_->LoadPolicy(&ctx, req, resp);
  }

  testing::TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1'760'000'000)};
  FakeSink sink_;
  std::unique_ptr<IdentityServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<IdentityService::Stub> stub_;
};

TEST_F(IdentityServiceTest, ImportsGiveSnapshotsWithHits) {
  ImportAccountsResponse accounts;
  ASSERT_TRUE(ImportAccounts("accounts.csv", &accounts).ok());
  EXPECT_EQ(accounts.kyc_version(), 1);
  EXPECT_EQ(accounts.accepted(), 9u);
  EXPECT_TRUE(accounts.errors().empty());
  ASSERT_EQ(sink_.snapshots().size(), 1u);
  EXPECT_EQ(sink_.snapshots()[0].accounts->size(), 9u);
  EXPECT_TRUE(sink_.snapshots()[0].screening.empty());  // no list yet

  ImportScreeningListResponse list;
  ASSERT_TRUE(ImportList(Fixture("csl_sample.csv"), &list).ok());
  EXPECT_EQ(list.entries(), 6u);
  EXPECT_EQ(list.columns(), 28u);
  EXPECT_EQ(list.list_version().rfind("csl-sha256:", 0), 0u);
  EXPECT_EQ(list.hits(), 6u);
  ASSERT_EQ(sink_.snapshots().size(), 2u);
  const IdentitySnapshot snap = sink_.snapshots()[1];
  EXPECT_EQ(snap.kyc_version, 1);
  EXPECT_EQ(snap.screening_list_version, list.list_version());
  ASSERT_EQ(snap.screening.size(), 6u);
  EXPECT_EQ(snap.screening[0].list_version(), list.list_version());

  // A re-import re-screens with the stored list: the hits carry the new KYC version.
  ImportAccountsResponse v2;
  ASSERT_TRUE(ImportAccounts("accounts_v2.csv", &v2).ok());
  EXPECT_EQ(v2.kyc_version(), 2);
  ASSERT_EQ(sink_.snapshots().size(), 3u);
  EXPECT_EQ(sink_.snapshots()[2].accounts->size(), 10u);
  ASSERT_EQ(sink_.snapshots()[2].screening.size(), 6u);
  EXPECT_EQ(sink_.snapshots()[2].screening[0].kyc_version(), 2);

  GetAccountResponse guian;
  ASSERT_TRUE(GetAccount("guian-cloud", &guian).ok());
  EXPECT_EQ(guian.identity().legal_entity(), "Guian New District Huawei Investment Co., Ltd.");
  EXPECT_EQ(guian.kyc_version(), 1);
  ASSERT_EQ(guian.screening_size(), 1);
  EXPECT_EQ(guian.screening(0).subject_kind(), "legal_entity");
  EXPECT_FALSE(guian.screening(0).reasons().empty());

  // What provd would load at its next start.
  Stop();
  auto startup = IdentityServiceImpl::LoadStartup(DbPath());
  ASSERT_TRUE(startup.ok()) << startup.status();
  EXPECT_EQ(startup->snapshot.kyc_version, 2);
  EXPECT_EQ(startup->snapshot.accounts->size(), 10u);
  EXPECT_EQ(startup->snapshot.screening_list_version, list.list_version());
  EXPECT_EQ(startup->snapshot.screening.size(), 6u);
  EXPECT_FALSE(startup->policy.has_value());
}

// Re-imports re-screen only changed accounts and their reseller descendants; the result must be
// what screening everything gives.
TEST_F(IdentityServiceTest, IncrementalRescreeningMatchesAFullOne) {
  ImportAccountsResponse accounts;
  ASSERT_TRUE(ImportAccounts("accounts.csv", &accounts).ok());
  ImportScreeningListResponse list;
  ASSERT_TRUE(ImportList(Fixture("csl_sample.csv"), &list).ok());
  ASSERT_EQ(list.hits(), 6u);

  // reseller-top renamed to a clean name: its own hit and its descendants' reseller hits go.
  ImportAccountsRequest rename;
  rename.set_source_name("rename.csv");
  rename.set_content(
      "account_id,legal_entity,country_of_incorporation,is_reseller\n"
      "reseller-top,Harbour Holdings Pte Ltd,SG,yes\n");
  ImportAccountsResponse renamed;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ImportAccounts(&ctx, rename, &renamed).ok());
  IdentitySnapshot after = sink_.snapshots().back();
  EXPECT_EQ(after.kyc_version, 2);
  ASSERT_EQ(after.screening.size(), 3u);  // guian-cloud, orphan, sunrise stay
  for (const auto& hit : after.screening) {
    EXPECT_NE(hit.account_id(), "reseller-top");
    EXPECT_NE(hit.account_id(), "reseller-mid");
    EXPECT_NE(hit.account_id(), "end-customer");
    EXPECT_EQ(hit.kyc_version(), 2);
  }
  // And back: the hits return, in the same order a full screening gives.
  ImportAccountsResponse again;
  ASSERT_TRUE(ImportAccounts("accounts.csv", &again).ok());
  IdentitySnapshot restored = sink_.snapshots().back();
  std::vector<screening::RowError> errors;
  auto parsed = screening::ParseConsolidatedScreeningList(Fixture("csl_sample.csv"), "x", &errors);
  ASSERT_TRUE(parsed.ok());
  screening::NameNormalizer normalizer;
  screening::Screener screener(*parsed, normalizer);
  std::vector<ScreeningMatch> full = ScreenAccounts(*restored.accounts, screener, 3);
  ASSERT_EQ(restored.screening.size(), full.size());
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_EQ(restored.screening[i].SerializeAsString(), full[i].SerializeAsString()) << i;
  }
  // What was stored is what the engine was told.
  Stop();
  auto startup = IdentityServiceImpl::LoadStartup(DbPath());
  ASSERT_TRUE(startup.ok());
  ASSERT_EQ(startup->snapshot.screening.size(), full.size());
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_EQ(startup->snapshot.screening[i].SerializeAsString(), full[i].SerializeAsString());
  }
}

TEST_F(IdentityServiceTest, RowErrorsReportedGoodRowsImported) {
  ImportAccountsResponse resp;
  ASSERT_TRUE(ImportAccounts("accounts_bad_row.csv", &resp).ok());
  EXPECT_EQ(resp.accepted(), 2u);
  ASSERT_EQ(resp.errors_size(), 1);
  EXPECT_EQ(resp.errors(0).rfind("line 3: field country_of_incorporation", 0), 0u)
      << resp.errors(0);
  EXPECT_EQ(resp.content_digest().size(), 64u);
}

TEST_F(IdentityServiceTest, ManyRowErrorsAreCappedAndCounted) {
  Stop();
  IdentityServiceOptions options;
  options.max_reported_errors = 1;
  Start(LoadedPolicy{}, options);
  ImportAccountsRequest req;
  req.set_source_name("many.csv");
  req.set_content(
      "account_id,legal_entity,country_of_incorporation\n"
      "a,A Ltd,USA\nb,,US\nc,C Ltd,GB\nd,D Ltd,XYZ\n");
  ImportAccountsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ImportAccounts(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.accepted(), 1u);
  ASSERT_EQ(resp.errors_size(), 2);
  EXPECT_EQ(resp.errors(0).rfind("line 2: field country_of_incorporation", 0), 0u)
      << resp.errors(0);
  EXPECT_EQ(resp.errors(1), "... and 2 more errors");
}

TEST_F(IdentityServiceTest, JsonLinesFormatFromSourceNameAndActorRecorded) {
  ImportAccountsResponse resp;
  ASSERT_TRUE(ImportAccounts("accounts.jsonl", &resp).ok());
  EXPECT_EQ(resp.accepted(), 2u);
  ASSERT_EQ(resp.errors_size(), 1);
  EXPECT_EQ(resp.errors(0).rfind("line 2: field legal_entity", 0), 0u) << resp.errors(0);
  GetAccountResponse account;
  ASSERT_TRUE(GetAccount("jsonl-1", &account).ok());
  EXPECT_EQ(account.identity().country_of_incorporation(), "IE");  // normalised on import
  auto db = SqliteDb::Open(DbPath(), SqliteDb::kReadOnly);
  ASSERT_TRUE(db.ok());
  auto st = (*db)->Prepare("SELECT source, actor FROM kyc_imports");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(*(*st)->Step());
  EXPECT_EQ((*st)->ColumnText(0), "accounts.jsonl");
  EXPECT_EQ((*st)->ColumnText(1).rfind("ipv4:127.0.0.1:", 0), 0u) << (*st)->ColumnText(1);
}

// Imports from several clients at once are serialized; reads never fail beside them.
TEST_F(IdentityServiceTest, ConcurrentImportsAndReads) {
  ImportScreeningListResponse list;
  ASSERT_TRUE(ImportList(Fixture("csl_sample.csv"), &list).ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        ImportAccountsResponse resp;
        if (!ImportAccounts(t % 2 == 0 ? "accounts.csv" : "accounts_v2.csv", &resp).ok()) {
          ++failures;
        }
        GetAccountResponse account;
        grpc::Status s = GetAccount("northwind", &account);
        if (!s.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const auto snapshots = sink_.snapshots();
  ASSERT_EQ(snapshots.size(), 21u);
  for (size_t i = 1; i < snapshots.size(); ++i) {  // told in commit order
    EXPECT_EQ(snapshots[i].kyc_version, static_cast<int64_t>(i)) << i;
  }
  EXPECT_EQ(snapshots.back().screening.size(), 6u);
}

// provd's ingest writer holds the write lock for a batch: an import waits for it (busy_timeout)
// instead of failing.
TEST_F(IdentityServiceTest, ImportWaitsForAnotherWriter) {
  auto other = SqliteDb::Open(DbPath(), SqliteDb::kReadWrite);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Exec("BEGIN IMMEDIATE").ok());
  std::atomic<bool> done{false};
  grpc::Status status;
  std::thread importer([&] {
    ImportAccountsResponse resp;
    status = ImportAccounts("accounts_v2.csv", &resp);
    done = true;
  });
  // Hold the lock long enough for the import to reach its write (a bounded wait, not a timing
  // assertion): it must not finish while the lock is held, and must succeed once it is released.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < until && !done.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(done.load()) << "import finished while another writer held the lock: "
                            << status.error_message();
  ASSERT_TRUE((*other)->Exec("COMMIT").ok());
  importer.join();
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(IdentityServiceTest, MalformedInputIsInvalidArgumentAndStoresNothing) {
  ImportAccountsResponse first;
  ASSERT_TRUE(ImportAccounts("accounts.csv", &first).ok());
  ImportScreeningListResponse list;
  ASSERT_TRUE(ImportList(Fixture("csl_sample.csv"), &list).ok());
  const size_t notified = sink_.snapshots().size();

  ImportAccountsRequest bad;
  bad.set_source_name("x.csv");
  bad.set_content("account_id,favourite_colour\nacme,blue\n");
  ImportAccountsResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->ImportAccounts(&ctx, bad, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("favourite_colour"), std::string::npos) << s.error_message();

  ImportAccountsRequest unknown_format;
  unknown_format.set_source_name("accounts.xlsx");
  unknown_format.set_content("x");
  grpc::ClientContext ctx2;
  s = stub_->ImportAccounts(&ctx2, unknown_format, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("format"), std::string::npos) << s.error_message();

  ImportScreeningListResponse list_resp;
  s = ImportList("not,a,screening,list\n1,2,3,4\n", &list_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("current list is kept"), std::string::npos);
  std::string header_only = Fixture("csl_sample.csv");
  header_only = header_only.substr(0, header_only.find('\n') + 1);
  s = ImportList(header_only, &list_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("no valid entries"), std::string::npos) << s.error_message();

  // Nothing changed: same version, same hits, no notification.
  EXPECT_EQ(sink_.snapshots().size(), notified);
  GetAccountResponse guian;
  ASSERT_TRUE(GetAccount("guian-cloud", &guian).ok());
  EXPECT_EQ(guian.kyc_version(), 1);
  EXPECT_EQ(guian.screening_size(), 1);
  ImportAccountsResponse again;
  ASSERT_TRUE(ImportAccounts("accounts_v2.csv", &again).ok());
  EXPECT_EQ(again.kyc_version(), 2);
}

TEST_F(IdentityServiceTest, OversizedImportRefusedWithTheLimit) {
  Stop();
  IdentityServiceOptions options;
  options.max_import_bytes = 512;  // the fixtures are larger
  Start(LoadedPolicy{}, options);
  ImportScreeningListResponse list;
  grpc::Status s = ImportList(Fixture("csl_sample.csv"), &list);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("the limit is 512 bytes"), std::string::npos)
      << s.error_message();
  ImportAccountsResponse accounts;
  s = ImportAccounts("accounts.csv", &accounts);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(sink_.snapshots().empty());
}

// Issue 14: large files come as streamed parts, so provd's per-message receive limit stays small.
TEST_F(IdentityServiceTest, StreamedImportJoinsItsParts) {
  const std::string content = Fixture("accounts.csv");
  ASSERT_GT(content.size(), 300u);
  ImportAccountsResponse resp;
  grpc::ClientContext ctx;
  auto writer = stub_->ImportAccountsStream(&ctx, &resp);
  ImportAccountsRequest part;
  part.set_source_name("accounts.csv");
  part.set_content(content.substr(0, 100));
  ASSERT_TRUE(writer->Write(part));
  for (size_t at = 100; at < content.size(); at += 100) {
    part.Clear();
    part.set_content(content.substr(at, 100));
    ASSERT_TRUE(writer->Write(part));
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();

  ImportAccountsResponse whole;
  ASSERT_TRUE(ImportAccounts("accounts.csv", &whole).ok());
  EXPECT_EQ(resp.accepted(), whole.accepted());
  EXPECT_GT(resp.accepted(), 0u);
  EXPECT_EQ(resp.content_digest(), whole.content_digest()) << "the same bytes, joined in order";
}

TEST_F(IdentityServiceTest, StreamedImportRefusesALaterPartNamingTheFileAndTooMuch) {
  {
    ImportScreeningListResponse resp;
    grpc::ClientContext ctx;
    auto writer = stub_->ImportScreeningListStream(&ctx, &resp);
    ImportScreeningListRequest part;
    part.set_source_name("a.csv");
    part.set_content("x");
    ASSERT_TRUE(writer->Write(part));
    part.set_source_name("b.csv");
    writer->Write(part);
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(),
              "message 2: only the first message of a streamed import names the file; later "
              "ones carry content only; nothing imported");
  }
  Stop();
  IdentityServiceOptions options;
  options.max_import_bytes = 512;
  Start(LoadedPolicy{}, options);
  ImportAccountsResponse resp;
  grpc::ClientContext ctx;
  auto writer = stub_->ImportAccountsStream(&ctx, &resp);
  ImportAccountsRequest part;
  part.set_source_name("accounts.csv");
  for (int i = 0; i < 6; ++i) {
    part.set_content(std::string(100, 'a'));
    if (!writer->Write(part)) break;
    part.clear_source_name();
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "content: 600 bytes; the limit is 512 bytes; nothing imported");
  EXPECT_TRUE(sink_.snapshots().empty());
}

// Issue 14: "Soci\xe9t\xe9 G\xe9n\xe9rale" in Windows-1252 used to be stored, after which every
// import, lookup and start failed. Now it is refused by line and column, or transcoded when named.
TEST_F(IdentityServiceTest, Windows1252RefusedUnlessTheEncodingIsNamed) {
  const std::string csv =
      "account_id,legal_entity,country_of_incorporation\n"
      "good-1,Good One,US\n"
      "sg-1,Soci\xe9t\xe9 G\xe9n\xe9rale,FR\n";
  ImportAccountsRequest req;
  req.set_source_name("sg.csv");
  req.set_content(csv);
  ImportAccountsResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->ImportAccounts(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("sg.csv: line 3, column 10: byte 0xE9 is not valid UTF-8"),
            std::string::npos)
      << s.error_message();
  EXPECT_TRUE(sink_.snapshots().empty());
  EXPECT_EQ(service_->stats().imports("accounts", ImportResult::kRefused), 1u);

  req.set_encoding("windows-1252");
  grpc::ClientContext ctx2;
  s = stub_->ImportAccounts(&ctx2, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.accepted(), 2u);
  EXPECT_EQ(resp.kyc_version(), 1);
  GetAccountResponse account;
  ASSERT_TRUE(GetAccount("sg-1", &account).ok());
  EXPECT_EQ(account.identity().legal_entity(), "Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale");
  EXPECT_EQ(service_->stats().imports("accounts", ImportResult::kOk), 1u);

  // The same for a screening list, which is stored as UTF-8.
  ImportScreeningListRequest list_req;
  list_req.set_source_name("csl.csv");
  list_req.set_content("source,name,alt_names\nEL,Soci\xe9t\xe9 Noire,\n");
  ImportScreeningListResponse list_resp;
  grpc::ClientContext ctx3;
  s = stub_->ImportScreeningList(&ctx3, list_req, &list_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("csl.csv: line 2, column 8"), std::string::npos)
      << s.error_message();
  list_req.set_encoding("cp1252");
  grpc::ClientContext ctx4;
  s = stub_->ImportScreeningList(&ctx4, list_req, &list_resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(list_resp.entries(), 1u);

  // An unknown encoding, and a byte the named encoding does not define, are refused by name.
  req.set_encoding("klingon");
  grpc::ClientContext ctx5;
  s = stub_->ImportAccounts(&ctx5, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("encoding: unknown \"klingon\""), std::string::npos);
  req.set_encoding("us-ascii");
  req.set_content("account_id,legal_entity\nx,Bad \xe9 Byte\n");
  grpc::ClientContext ctx6;
  s = stub_->ImportAccounts(&ctx6, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find(
                "encoding us-ascii: line 2, column 7: byte 0xE9 is not a us-ascii character"),
            std::string::npos)
      << s.error_message();
}

// Issue 14: an import whose client gave up kept running; now it stops, rolls back, and the next
// import goes ahead. Another writer holds provd.db's write lock so the import is still running
// when the client's deadline passes (no timing assumption: the import cannot finish before the
// lock is released, and the client's deadline passes first).
TEST_F(IdentityServiceTest, ImportCancelledByTheDeadlineRollsBackAndDoesNotBlockTheNext) {
  auto other = SqliteDb::Open(DbPath(), SqliteDb::kReadWrite);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Exec("BEGIN IMMEDIATE").ok());
  ImportAccountsRequest req;
  req.set_source_name("accounts.csv");
  req.set_content(Fixture("accounts.csv"));
  ImportAccountsResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  grpc::Status s = stub_->ImportAccounts(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  ASSERT_TRUE((*other)->Exec("COMMIT").ok());
  // The next import queues behind the cancelled one, which stops before committing.
  ImportAccountsResponse next;
  ASSERT_TRUE(ImportAccounts("accounts_v2.csv", &next).ok());
  EXPECT_EQ(next.kyc_version(), 1) << "the cancelled import committed a version";
  EXPECT_EQ(service_->stats().imports("accounts", ImportResult::kCancelled), 1u);
  EXPECT_EQ(service_->stats().imports("accounts", ImportResult::kOk), 1u);
  ASSERT_EQ(sink_.snapshots().size(), 1u);
  EXPECT_EQ(sink_.snapshots()[0].kyc_version, 1);
}

TEST_F(IdentityServiceTest, OversizedFieldIsARowErrorNamingTheLimit) {
  ImportAccountsRequest req;
  req.set_source_name("big.csv");
  req.set_content("account_id,legal_entity\nbig,\"" + std::string(5 << 20, 'A') +
                  "\"\nsmall,Small Ltd\n");
  ImportAccountsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ImportAccounts(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.accepted(), 1u);
  ASSERT_EQ(resp.errors_size(), 1);
  EXPECT_EQ(resp.errors(0), "line 2: field legal_entity: 5242880 bytes; the limit is 512 bytes");
  EXPECT_EQ(service_->stats().imports("accounts", ImportResult::kPartial), 1u);
  EXPECT_EQ(service_->stats().rejected_rows("accounts"), 1u);
}

TEST_F(IdentityServiceTest, GetAccountUnknownIsNotFound) {
  GetAccountResponse resp;
  grpc::Status s = GetAccount("nobody", &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("nobody"), std::string::npos);
  EXPECT_EQ(GetAccount("", &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(IdentityServiceTest, GetAccountShowsBundleAndFlagsFromTheEngineTables) {
  ImportAccountsResponse accounts;
  ASSERT_TRUE(ImportAccounts("accounts.csv", &accounts).ok());
  Flag flag;
  flag.set_flag_id("F-7");
  flag.set_rule("screening_hit");
  flag.set_severity(SEVERITY_HIGH);
  flag.set_summary("sunrise: beneficial owner matches PLC entry 9673");
  {
    auto db = SqliteDb::Open(DbPath(), SqliteDb::kReadWrite);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(
        (*db)->Exec("INSERT INTO bundle_accounts VALUES ('sunrise', 'B-00000000abcd')").ok());
    auto st = (*db)->Prepare(
        "INSERT INTO flags(flag_id, rule, subject, severity, status, updated_us, flag) "
        "VALUES ('F-7', 'screening_hit', 'account:sunrise', 4, 1, 0, ?)");
    ASSERT_TRUE(st.ok());
    (*st)->BindBlob(1, flag.SerializeAsString());
    ASSERT_TRUE((*st)->Run().ok());
    ASSERT_TRUE((*db)->Exec("INSERT INTO flag_accounts VALUES ('sunrise', 'F-7')").ok());
    ASSERT_TRUE(
        (*db)->Exec("INSERT INTO bundle_accounts VALUES ('no-kyc', 'B-00000000abcd')").ok());
  }
  GetAccountResponse resp;
  ASSERT_TRUE(GetAccount("sunrise", &resp).ok());
  EXPECT_EQ(resp.bundle_id(), "B-00000000abcd");
  ASSERT_EQ(resp.flags_size(), 1);
  EXPECT_EQ(resp.flags(0).summary(), flag.summary());
  // An account the engine bundled but nobody imported: a view without identity.
  GetAccountResponse no_kyc;
  ASSERT_TRUE(GetAccount("no-kyc", &no_kyc).ok());
  EXPECT_EQ(no_kyc.kyc_version(), 0);
  EXPECT_EQ(no_kyc.identity().account_id(), "no-kyc");
  EXPECT_EQ(no_kyc.bundle_id(), "B-00000000abcd");
}

constexpr char kPolicy[] = R"(version: "test-1"
compute_tiers:
  - name: tier-a
    flop: 1.0e25
    severity: high
    basis: "test"
screening:
  min_score: 0.95
  severity: high
)";

TEST_F(IdentityServiceTest, BadPolicyIsInvalidArgumentNamingTheLine) {
  LoadPolicyResponse resp;
  grpc::Status s =
      LoadPolicy("version: \"x\"\ncompute_tiers:\n  - name: a\n    flop: lots\n", &resp);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("test.yaml:4"), std::string::npos) << s.error_message();
  EXPECT_TRUE(sink_.policies().empty());
  GetPolicyResponse current;
  grpc::ClientContext ctx;
  EXPECT_EQ(stub_->GetPolicy(&ctx, GetPolicyRequest(), &current).error_code(),
            grpc::StatusCode::NOT_FOUND);
  auto startup = IdentityServiceImpl::LoadStartup(DbPath());
  ASSERT_TRUE(startup.ok());
  EXPECT_FALSE(startup->policy.has_value());
}

TEST_F(IdentityServiceTest, PolicyLoadStoresOffersAndRescreens) {
  ImportAccountsResponse accounts;
  ASSERT_TRUE(ImportAccounts("accounts.csv", &accounts).ok());
  ImportScreeningListResponse list;
  ASSERT_TRUE(ImportList(Fixture("csl_sample.csv"), &list).ok());
  const size_t notified = sink_.snapshots().size();
  const size_t hits_before = sink_.snapshots().back().screening.size();

  clock_.Advance(absl::Minutes(5));
  LoadPolicyResponse resp;
  grpc::Status s = LoadPolicy(kPolicy, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.policy_version(), "test-1");
  ASSERT_EQ(sink_.policies().size(), 1u);
  EXPECT_EQ(sink_.policies()[0]->version, "test-1");
  // min_score 0.95 instead of 0.88: re-screened, and the engine told.
  ASSERT_EQ(sink_.snapshots().size(), notified + 1);
  EXPECT_LE(sink_.snapshots().back().screening.size(), hits_before);
  const IdentitySnapshot rescreened = sink_.snapshots().back();
  for (const auto& hit : rescreened.screening) EXPECT_GE(hit.score(), 0.95);

  GetPolicyResponse current;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->GetPolicy(&ctx, GetPolicyRequest(), &current).ok());
  EXPECT_EQ(current.policy_version(), "test-1");
  EXPECT_EQ(current.source_name(), "test.yaml");
  EXPECT_EQ(current.yaml(), kPolicy);
  EXPECT_EQ(current.loaded_at().seconds(), 1'760'000'000 + 300);

  Stop();
  auto startup = IdentityServiceImpl::LoadStartup(DbPath());
  ASSERT_TRUE(startup.ok());
  ASSERT_TRUE(startup->policy.has_value());
  EXPECT_EQ(startup->policy->policy->version, "test-1");
  EXPECT_EQ(startup->policy->source_name, "test.yaml");
  EXPECT_TRUE(startup->policy_status.ok());
}

TEST_F(IdentityServiceTest, PolicyRefusedByTheEngineIsNotStored) {
  sink_.Refuse(absl::FailedPreconditionError("weights name an unknown link kind"));
  LoadPolicyResponse resp;
  grpc::Status s = LoadPolicy(kPolicy, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("unknown link kind"), std::string::npos);
  auto startup = IdentityServiceImpl::LoadStartup(DbPath());
  ASSERT_TRUE(startup.ok());
  EXPECT_FALSE(startup->policy.has_value());
  GetPolicyResponse current;
  grpc::ClientContext ctx;
  EXPECT_EQ(stub_->GetPolicy(&ctx, GetPolicyRequest(), &current).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(IdentityServiceTest, RescreenAllAppliesThePolicyInForce) {
  ImportAccountsResponse accounts;
  ASSERT_TRUE(ImportAccounts("accounts.csv", &accounts).ok());
  ImportScreeningListResponse list;
  ASSERT_TRUE(ImportList(Fixture("csl_sample.csv"), &list).ok());
  ASSERT_EQ(list.hits(), 6u);
  // provd restarts with a policy demanding exact matches.
  Stop();
  auto strict = MakeLoadedPolicy("version: strict\nscreening:\n  min_score: 1.0\n", "s.yaml",
                                 absl::FromUnixSeconds(5));
  ASSERT_TRUE(strict.ok()) << strict.status();
  Start(*strict);
  const size_t notified = sink_.snapshots().size();
  auto snapshot = service_->RescreenAll();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  // Issue 9: min_score is the bar of a strong match; the others stay as weak (review) matches.
  // (With one-to-one name parts every fixture hit is exact, score 1.0, so all six stay strong.)
  for (const auto& hit : snapshot->screening) {
    if (hit.strength() == "strong") {
      EXPECT_GE(hit.score(), 1.0);
    } else {
      EXPECT_EQ(hit.strength(), "weak");
    }
  }
  EXPECT_EQ(sink_.snapshots().size(), notified + 1);
  auto startup = IdentityServiceImpl::LoadStartup(DbPath());
  ASSERT_TRUE(startup.ok());
  EXPECT_EQ(startup->snapshot.screening.size(), snapshot->screening.size());
}

TEST_F(IdentityServiceTest, PolicyGivenAtConstructionIsShown) {
  Stop();
  auto loaded = MakeLoadedPolicy(kPolicy, "deploy/policy/x.yaml", absl::FromUnixSeconds(5));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  Start(*loaded);
  GetPolicyResponse current;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->GetPolicy(&ctx, GetPolicyRequest(), &current).ok());
  EXPECT_EQ(current.source_name(), "deploy/policy/x.yaml");
  EXPECT_EQ(current.loaded_at().seconds(), 5);
}

}  // namespace
}  // namespace prov::server
