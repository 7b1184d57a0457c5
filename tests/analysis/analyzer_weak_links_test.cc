// Weak links never carry a merge (issue 9): owner names count with their rarity, addresses
// shared by more than a few accounts are common, and a pair joins only on substantial
// workload-level evidence.
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/analysis/analyzer.h"
#include "tests/analysis/analysis_test_util.h"

namespace prov::server {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using namespace testing;  // NOLINT: test builders

std::shared_ptr<policy::Policy> PolicyWith(double artifact_weight, double min_workload) {
  auto policy = std::make_shared<policy::Policy>(*TestPolicy());
  policy->correlation.weights["artifact"] = artifact_weight;
  policy->correlation.min_workload_evidence = min_workload;
  return policy;
}

provenance::v1::AccountIdentity& AddAccount(std::vector<provenance::v1::AccountIdentity>& accounts,
                                            const std::string& id) {
  auto& a = accounts.emplace_back();
  a.set_account_id(id);
  a.set_legal_entity("Entity " + id);
  return a;
}

// Each account trains on its own node with the digest `digest`.
void ObserveSharing(Analyzer& a, const std::vector<std::string>& accounts,
                    const std::string& digest) {
  for (const std::string& id : accounts) {
    ReportObservation r = WithAddress(Node("n-" + id, "dc-" + id, "r", kT0),
                                      "10.20.0." + std::to_string(id.size() + id.back()));
    WorkloadObservation w = Training("w-" + id, id, 1e15);
    w.digests = w.artifact_digests = {digest};
    r.workloads.push_back(w);
    a.Observe(r);
  }
  a.Evaluate(kT0);
}

std::vector<provenance::v1::Link> LinksOfKind(Analyzer& a, const std::string& kind) {
  std::vector<provenance::v1::Link> out;
  for (const std::string& key : a.TakeChanges().links) {
    if (const auto* l = a.link(key); l != nullptr && l->kind() == kind) out.push_back(*l);
  }
  return out;
}

TEST(AnalyzerWeakLinksTest, ACommonOwnerNameDoesNotCarryAMergeARareOneDoes) {
  Analyzer a(PolicyWith(/*artifact_weight=*/0.3, /*min_workload=*/0.25));
  IdentitySnapshot snap;
  snap.kyc_version = 2;
  auto accounts = std::make_shared<std::vector<provenance::v1::AccountIdentity>>();
  // An ordinary population: given names and family names that recur across customers.
  const char* given[] = {"Wei", "Min", "Jun", "Lei", "Hui"};
  const char* family[] = {"Wang", "Zhang", "Liu", "Chen"};
  std::vector<std::string> names;
  for (const char* g : given) {
    for (const char* f : family) {
      if (std::string(g) != "Wei" || std::string(f) != "Wang")
        names.push_back(std::string(g) + " " + f);
    }
  }
  for (int i = 0; i < 100; ++i) {  // 19 other combinations, about 5 customers each
    AddAccount(*accounts, "cust-" + std::to_string(i))
        .add_beneficial_owners()
        ->set_name(names[i % names.size()]);
  }
  AddAccount(*accounts, "x-1").add_beneficial_owners()->set_name("Wei Wang");
  AddAccount(*accounts, "x-2").add_beneficial_owners()->set_name("WEI  WANG");
  AddAccount(*accounts, "y-1").add_beneficial_owners()->set_name("Xochitl Abernathy-Quinn");
  AddAccount(*accounts, "y-2").add_beneficial_owners()->set_name("Xochitl Abernathy Quinn");
  snap.accounts = accounts;
  a.SetIdentity(snap, kT0);
  ObserveSharing(a, {"x-1", "x-2"}, "sha256:x-data");
  ObserveSharing(a, {"y-1", "y-2"}, "sha256:y-data");

  EXPECT_NE(a.BundleOf("x-1"), a.BundleOf("x-2"));  // artifact 0.3 + a name anyone could bear
  EXPECT_EQ(a.BundleOf("y-1"), a.BundleOf("y-2"));  // artifact 0.3 + a rare shared owner
  auto owners = LinksOfKind(a, "identity_owner");
  ASSERT_THAT(owners, SizeIs(1));
  EXPECT_EQ(owners[0].account_a(), "y-1");
  EXPECT_NEAR(owners[0].weight(), 0.8, 1e-3);
}

TEST(AnalyzerWeakLinksTest, ANameSharedInASmallPopulationIsDiscountedAndSaysSo) {
  Analyzer a(TestPolicy());
  IdentitySnapshot snap;
  auto accounts = std::make_shared<std::vector<provenance::v1::AccountIdentity>>();
  AddAccount(*accounts, "a-1").add_beneficial_owners()->set_name("Ana Silva");
  AddAccount(*accounts, "a-2").add_beneficial_owners()->set_name("Ana Silva");
  AddAccount(*accounts, "a-3").add_beneficial_owners()->set_name("Ana Costa");
  AddAccount(*accounts, "a-4").add_beneficial_owners()->set_name("Rui Silva");
  snap.accounts = accounts;
  a.SetIdentity(snap, kT0);
  auto owners = LinksOfKind(a, "identity_owner");
  ASSERT_THAT(owners, SizeIs(1));
  // 4 accounts; "ana" and "silva" each in 1 other account: 4 x (2/5)^2 = 0.64 expected.
  EXPECT_NEAR(owners[0].discount(), 0.64, 1e-9);
  EXPECT_NEAR(owners[0].weight(), 0.8 * 0.36, 1e-9);
  EXPECT_THAT(owners[0].sentence(), HasSubstr("0.64 of 4 accounts would bear it by chance"));
}

TEST(AnalyzerWeakLinksTest, ARegisteredAgentsAddressLinksNothing) {
  Analyzer a(PolicyWith(/*artifact_weight=*/0.35, /*min_workload=*/0.25));
  IdentitySnapshot snap;
  auto accounts = std::make_shared<std::vector<provenance::v1::AccountIdentity>>();
  for (int i = 0; i < 8; ++i) {  // eight unrelated companies formed through one agent
    AddAccount(*accounts, "co-" + std::to_string(i))
        .add_addresses("1209 Orange Street, Wilmington, DE 19801");
  }
  AddAccount(*accounts, "p-1").add_addresses("Flat 3, 17 Rue des Lilas, Lyon");
  AddAccount(*accounts, "p-2").add_addresses("flat 3 17 rue des lilas lyon");
  snap.accounts = accounts;
  a.SetIdentity(snap, kT0);
  ObserveSharing(a, {"co-0", "co-1"}, "sha256:co-data");
  ObserveSharing(a, {"p-1", "p-2"}, "sha256:p-data");
  EXPECT_NE(a.BundleOf("co-0"), a.BundleOf("co-1"));
  EXPECT_EQ(a.BundleOf("p-1"), a.BundleOf("p-2"));
  auto addresses = LinksOfKind(a, "identity_address");
  ASSERT_THAT(addresses, SizeIs(1));
  EXPECT_EQ(addresses[0].account_a(), "p-1");
}

// A shared payment card (0.8) and a faint workload link (0.2) score 0.84, over the threshold,
// but the workload evidence alone is below min_workload_evidence: no bundle. With a substantial
// workload link the same pair joins, and the bundle holds a readable workload-level link.
TEST(AnalyzerWeakLinksTest, IdentityNeverCarriesAPairWhoseWorkloadEvidenceIsFaint) {
  for (const double artifact : {0.2, 0.45}) {
    Analyzer a(PolicyWith(artifact, /*min_workload=*/0.4));
    IdentitySnapshot snap;
    auto accounts = std::make_shared<std::vector<provenance::v1::AccountIdentity>>();
    AddAccount(*accounts, "m-1").set_payment_fingerprint("card:4417");
    AddAccount(*accounts, "m-2").set_payment_fingerprint("card:4417");
    snap.accounts = accounts;
    a.SetIdentity(snap, kT0);
    ObserveSharing(a, {"m-1", "m-2"}, "sha256:m-data");
    const bool joined = a.BundleOf("m-1") == a.BundleOf("m-2");
    EXPECT_EQ(joined, artifact >= 0.4) << artifact;
    if (!joined) continue;
    bool readable = false;
    for (const auto& l : a.BundleLinks(a.BundleOf("m-1"), 10)) {
      if (!policy::IsSupportingLinkKind(l.kind()) && !l.workload_a().empty() &&
          !l.sentence().empty()) {
        readable = true;
      }
    }
    EXPECT_TRUE(readable);
  }
}

}  // namespace
}  // namespace prov::server
