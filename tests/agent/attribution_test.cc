#include "agent/collect/attribution.h"

#include "gtest/gtest.h"

namespace prov::agent {
namespace {

using provenance::v1::ATTRIBUTION_SOURCE_K8S_ANNOTATION;
using provenance::v1::ATTRIBUTION_SOURCE_K8S_LABEL;
using provenance::v1::ATTRIBUTION_SOURCE_SLURM_ENV;
using provenance::v1::ATTRIBUTION_SOURCE_STATIC_MAP;
using provenance::v1::ATTRIBUTION_SOURCE_UNIX_USER;
using provenance::v1::ATTRIBUTION_SOURCE_UNSPECIFIED;

constexpr char kPods[] = R"({"kind":"PodList","items":[
 {"metadata":{"uid":"pod-1","name":"vllm-0","namespace":"ml",
   "labels":{"provenance.io/account":"acme-label"},
   "annotations":{"provenance.io/account":"acme-annotation","other":"x"}},
  "status":{"containerStatuses":[
    {"name":"server","containerID":"containerd://c0ffee","imageID":"docker.io/vllm/vllm-openai@sha256:abcd"},
    {"name":"sidecar","containerID":"cri-o://beef","imageID":"sha256:1234"}]}},
 {"metadata":{"uid":"pod-2","name":"bare","namespace":"ns2"}},
 {"metadata":{"name":"no-uid"}}, 42]})";

TEST(AttributionTest, ChainParsing) {
  auto chain = ParseAttributionChain("static, unix-user");
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ(*chain,
            (std::vector<AttributionStep>{AttributionStep::kStatic, AttributionStep::kUnixUser}));
  auto bad = ParseAttributionChain("slurm,ldap");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown source 'ldap'"), std::string::npos);
  EXPECT_FALSE(ParseAttributionChain("").ok());
  EXPECT_TRUE(ParseAttributionChain(kDefaultAttributionChain).ok());
}

TEST(AttributionTest, KubeletPodsParse) {
  auto pods = ParseKubeletPods(kPods, "pods.json");
  ASSERT_TRUE(pods.ok()) << pods.status();
  EXPECT_EQ(pods->size(), 2u);
  const PodMeta* p = pods->Find("pod-1");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->name, "vllm-0");
  EXPECT_EQ(p->namespace_, "ml");
  ASSERT_EQ(p->containers.size(), 2u);
  EXPECT_EQ(p->containers[0].container_id, "c0ffee");
  EXPECT_EQ(p->containers[0].runtime, "containerd");
  EXPECT_EQ(p->containers[0].image_digest, "sha256:abcd");
  EXPECT_EQ(p->containers[1].runtime, "cri-o");
  EXPECT_EQ(pods->Find("nope"), nullptr);
  auto bad = ParseKubeletPods("{not json", "pods.json");
  EXPECT_EQ(bad.status().message(), "pods.json: not valid JSON");
  EXPECT_FALSE(ParseKubeletPods(R"({"items":{}})", "p").ok());
  EXPECT_FALSE(ParseKubeletPods("[]", "p").ok());
}

TEST(AttributionTest, AccountMapParseAndErrors) {
  auto map = ParseAccountMap(
      "# owners\nuid:1000 acct-uid\nuser:alice acct-user\n\nnamespace:ml acct-ns\n"
      "slurm-account:physics acct-slurm\n",
      "accounts.map");
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->size(), 4u);
  EXPECT_EQ(map->Find("user", "alice")->account, "acct-user");
  EXPECT_EQ(map->Find("user", "alice")->line, 3);
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"uid:1000\n", "accounts.map:1: expected '<kind>:<key> <account>'"},
      {"\ngroup:x acct\n", "accounts.map:2: unknown kind 'group'"},
      {"uid:abc acct\n", "accounts.map:1: uid is not a number"},
      {"user: acct\n", "accounts.map:1: expected '<kind>:<key>' before the account"},
      {"user:a x\nuser:a y\n", "accounts.map:2: user:a already mapped on line 1"},
      {"user:a x y\n", "accounts.map:1: expected"},
  };
  for (const Case& c : cases) {
    auto r = ParseAccountMap(c.text, "accounts.map");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.error), std::string::npos) << r.status().message();
  }
}

TEST(AttributionTest, PasswdParse) {
  auto users =
      ParsePasswd("root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/a:/bin/sh\nbad\n");
  EXPECT_EQ(users.size(), 2u);
  EXPECT_EQ(users[1000], "alice");
}

class ChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pods_ = *ParseKubeletPods(kPods, "pods.json");
    map_ = *ParseAccountMap(
        "uid:1000 acct-uid\nuser:bob acct-user\nnamespace:ml acct-ns\n"
        "slurm-account:physics acct-slurm\n",
        "m");
    users_ = {{1000, "alice"}, {1001, "bob"}};
    config_.chain = *ParseAttributionChain(kDefaultAttributionChain);
    config_.account_map = &map_;
    config_.users = &users_;
  }
  PodIndex pods_;
  AccountMap map_;
  std::map<uint32_t, std::string> users_;
  AttributionConfig config_;
};

TEST_F(ChainTest, SlurmFirst) {
  AttributionSubject s{.slurm_account = "physics", .slurm_account_pid = 42, .uid = 1000};
  auto a = Attribute(config_, s);
  EXPECT_EQ(a.account(), "physics");
  EXPECT_EQ(a.source(), ATTRIBUTION_SOURCE_SLURM_ENV);
  EXPECT_EQ(a.detail(), "SLURM_JOB_ACCOUNT of pid 42");
  EXPECT_DOUBLE_EQ(a.confidence(), 0.9);
}

TEST_F(ChainTest, LabelThenAnnotation) {
  AttributionSubject s{.pod = pods_.Find("pod-1"), .pod_namespace = "ml", .uid = 1000};
  auto a = Attribute(config_, s);
  EXPECT_EQ(a.account(), "acme-label");
  EXPECT_EQ(a.source(), ATTRIBUTION_SOURCE_K8S_LABEL);
  EXPECT_EQ(a.detail(), "label provenance.io/account of pod ml/vllm-0");
  config_.label_key = "missing";
  a = Attribute(config_, s);
  EXPECT_EQ(a.account(), "acme-annotation");
  EXPECT_EQ(a.source(), ATTRIBUTION_SOURCE_K8S_ANNOTATION);
}

TEST_F(ChainTest, StaticMapKeysInOrder) {
  config_.chain = {AttributionStep::kStatic};
  auto a = Attribute(config_, {.slurm_account = "physics", .uid = 1000});
  EXPECT_EQ(a.account(), "acct-slurm");
  EXPECT_EQ(a.source(), ATTRIBUTION_SOURCE_STATIC_MAP);
  EXPECT_EQ(a.detail(), "account map line 4 (slurm-account:physics)");
  EXPECT_EQ(Attribute(config_, {.pod_namespace = "ml", .uid = 1000}).account(), "acct-ns");
  EXPECT_EQ(Attribute(config_, {.uid = 1001}).account(), "acct-user");
  EXPECT_EQ(Attribute(config_, {.uid = 1000}).account(), "acct-uid");
  EXPECT_EQ(Attribute(config_, {.uid = 5}).source(), ATTRIBUTION_SOURCE_UNSPECIFIED);
}

TEST_F(ChainTest, UnixUserLast) {
  AttributionSubject s{.uid = 1001};
  config_.chain = {AttributionStep::kSlurm, AttributionStep::kK8sLabel, AttributionStep::kUnixUser};
  auto a = Attribute(config_, s);
  EXPECT_EQ(a.account(), "bob");
  EXPECT_EQ(a.source(), ATTRIBUTION_SOURCE_UNIX_USER);
  EXPECT_EQ(a.detail(), "owner uid 1001");
  auto unknown = Attribute(config_, {.uid = 4242});
  EXPECT_EQ(unknown.account(), "uid:4242");
  EXPECT_EQ(unknown.detail(), "owner uid 4242 (not in passwd file)");
  auto none = Attribute(config_, {});
  EXPECT_EQ(none.source(), ATTRIBUTION_SOURCE_UNSPECIFIED);
  EXPECT_EQ(none.account(), "");
}

TEST_F(ChainTest, OrderIsConfigurable) {
  AttributionSubject s{.slurm_account = "physics", .slurm_account_pid = 1, .uid = 1000};
  config_.chain = {AttributionStep::kUnixUser, AttributionStep::kSlurm};
  EXPECT_EQ(Attribute(config_, s).source(), ATTRIBUTION_SOURCE_UNIX_USER);
}

}  // namespace
}  // namespace prov::agent
