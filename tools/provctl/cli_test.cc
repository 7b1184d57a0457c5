// provctl argument parsing for the identity and analysis commands, and the requests they build.
#include "tools/provctl/cli.h"

#include "gtest/gtest.h"
#include "tools/provctl/requests.h"

namespace prov::provctl {
namespace {

void ExpectError(const std::vector<std::string>& args, const std::string& needle) {
  auto inv = ParseArgs(args);
  ASSERT_FALSE(inv.ok()) << "parsed: " << inv->command;
  EXPECT_NE(inv.status().message().find(needle), std::string::npos) << inv.status();
}

TEST(CliIdentityTest, ImportsTakeAFile) {
  auto inv = ParseArgs({"accounts", "import", "/tmp/kyc/accounts.jsonl"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "accounts import");
  EXPECT_EQ(inv->file, "/tmp/kyc/accounts.jsonl");
  auto req = ImportAccountsRequestFor(*inv, "{}");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->format(), "jsonl");
  EXPECT_EQ(req->source_name(), "accounts.jsonl");
  EXPECT_EQ(req->content(), "{}");
  EXPECT_EQ(inv->timeout_seconds, kImportTimeoutSeconds);  // provd screens before it answers
  inv = ParseArgs({"accounts", "import", "a.csv", "--timeout", "5"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->timeout_seconds, 5);
  EXPECT_EQ(ParseArgs({"account", "acme"})->timeout_seconds, kDefaultTimeoutSeconds);

  inv = ParseArgs({"accounts", "import", "export.txt", "--format", "csv"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(ImportAccountsRequestFor(*inv, "")->format(), "csv");
  inv = ParseArgs({"accounts", "import", "export.txt"});
  ASSERT_TRUE(inv.ok());
  auto unknown = ImportAccountsRequestFor(*inv, "");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("--format"), std::string::npos) << unknown.status();

  inv = ParseArgs({"screening", "import", "data/consolidated.csv", "-o", "json"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->command, "screening import");
  EXPECT_TRUE(inv->json);
  EXPECT_EQ(ImportScreeningListRequestFor(*inv, "x").source_name(), "consolidated.csv");
  inv = ParseArgs({"policy", "load", "p.yaml"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(LoadPolicyRequestFor(*inv, "version: x").yaml(), "version: x");
  inv = ParseArgs({"policy", "show"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->command, "policy show");
  inv = ParseArgs({"account", "acme-ml"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->account, "acme-ml");
}

TEST(CliAnalysisTest, FlagsListFiltersBecomeTheRequest) {
  auto inv =
      ParseArgs({"flags", "list", "--severity", "HIGH", "--status=open", "--rule",
                 "compute_tier:", "--account", "acme", "--datacenter", "dc-1", "--limit", "20"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "flags list");
  auto req = ListFlagsRequestFor(*inv);
  EXPECT_EQ(req.min_severity(), provenance::v1::SEVERITY_HIGH);
  EXPECT_EQ(req.status(), provenance::v1::FLAG_STATUS_OPEN);
  EXPECT_EQ(req.rule(), "compute_tier:");
  EXPECT_EQ(req.account(), "acme");
  EXPECT_EQ(req.datacenter(), "dc-1");
  EXPECT_EQ(req.limit(), 20u);
}

TEST(CliAnalysisTest, WatchShowBundles) {
  auto inv = ParseArgs({"flags", "watch", "--severity", "critical", "--count", "3"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->count, 3u);
  EXPECT_EQ(WatchFlagsRequestFor(*inv).min_severity(), provenance::v1::SEVERITY_CRITICAL);
  inv = ParseArgs({"flags", "show", "F-12"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->flag_id, "F-12");
  inv = ParseArgs({"bundles", "list", "--account", "acme"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(ListBundlesRequestFor(*inv).account(), "acme");
  inv = ParseArgs({"--server", "h:1", "bundle", "B-0123456789ab"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->command, "bundle");
  EXPECT_EQ(inv->bundle_id, "B-0123456789ab");
}

TEST(CliAnalysisTest, ErrorsNameTheProblem) {
  ExpectError({"flags"}, "flags: missing subcommand (list, show, watch)");
  ExpectError({"flags", "delete"}, "unknown subcommand 'delete'");
  ExpectError({"flags", "show"}, "flags show: missing <flag-id>");
  ExpectError({"flags", "list", "--severity", "severe"}, "unknown severity 'severe'");
  ExpectError({"flags", "list", "--status", "closed"}, "unknown status 'closed'");
  ExpectError({"flags", "watch", "--count", "many"}, "--count: not a count");
  ExpectError({"flags", "watch", "--rule", "x"}, "flags watch: does not take --rule");
  ExpectError({"usage", "--node", "n1"}, "usage: does not take --node");
  ExpectError({"accounts", "import"}, "accounts import: missing FILE");
  ExpectError({"accounts", "import", "a.csv", "--format", "xlsx"}, "unknown format 'xlsx'");
  ExpectError({"screening", "import", "a.csv", "b.csv"}, "unexpected argument 'b.csv'");
  ExpectError({"policy"}, "policy: missing subcommand (load, show)");
  ExpectError({"account"}, "account: missing <account-id>");
  ExpectError({"bundle", ""}, "bundle: empty <bundle-id>");
}

TEST(CliNodesTest, RevokeAndRevocationsAreSubcommandsOfNodes) {
  auto inv = ParseArgs({"nodes", "revoke", "gpu-017", "--note", "key leaked"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "nodes revoke");
  EXPECT_EQ(inv->node_id, "gpu-017");
  EXPECT_EQ(inv->note, "key leaked");
  inv = ParseArgs({"nodes", "revocations"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "nodes revocations");
  inv = ParseArgs({"nodes", "--datacenter", "fra1"});  // the fleet list is still "nodes"
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "nodes");
  ExpectError({"nodes", "revoke"}, "nodes revoke: missing <node-id>");
  ExpectError({"nodes", "revocations", "--note", "x"}, "--note");
  EXPECT_NE(Usage().find("nodes revoke <node-id>"), std::string::npos);
}

TEST(CliNodesTest, EnrollTokenNeedsANodeAndTakesATtl) {
  auto inv = ParseArgs({"nodes", "enroll-token", "--node", "gpu-017", "--ttl", "30m"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, "nodes enroll-token");
  EXPECT_EQ(inv->node_id, "gpu-017");
  EXPECT_EQ(inv->ttl_seconds, 1800u);
  inv = ParseArgs({"nodes", "enroll-token", "--node", "gpu-017"});
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->ttl_seconds, 0u);  // provd's default, one hour
  ExpectError({"nodes", "enroll-token"}, "nodes enroll-token: --node is required");
  ExpectError({"nodes", "enroll-token", "--node", "n", "--ttl", "forever"}, "--ttl");
  ExpectError({"nodes", "enroll-token", "--node", "n", "--ttl", "30d"}, "--ttl");
  EXPECT_NE(Usage().find("nodes enroll-token --node NODE"), std::string::npos);
}

TEST(CliTest, HelpAndUsageMentionEveryCommand) {
  auto inv = ParseArgs({"help"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->command, "help");
  std::string usage = Usage();
  for (const char* c : {"accounts import FILE", "account <account-id>", "screening import FILE",
                        "policy load FILE", "policy show", "flags list", "flags show <flag-id>",
                        "flags watch", "bundles list", "bundle <bundle-id>", "--count N"}) {
    EXPECT_NE(usage.find(c), std::string::npos) << c;
  }
}

}  // namespace
}  // namespace prov::provctl
