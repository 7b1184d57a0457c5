// EvalContext: the scenario, KYC rows and ground truth being built by prov-eval-gen, with the
// helpers every part of the generator uses (new account, new node, deterministic randomness).
// Internal to tools/eval (eval_generator.cc, background.cc).
//
//   EvalContext ctx(seed, interval_seconds, reports);
//   std::string acct = ctx.NewAccount();                  // distinct synthetic identity
//   sim::v1::SimNode* n = ctx.NewNode("dc-03", kH100);    // 8 accelerators, synthetic IP
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tools/eval/ground_truth.h"
#include "tools/eval/population.h"
#include "tools/prov-sim/scenario.pb.h"

namespace prov::eval {

struct NodeModel {
  uint32_t vendor_id, device_id, count;
  const char* label;  // for hostnames ("h100")
};
inline constexpr NodeModel kH100{0x10de, 0x2330, 8, "h100"};
inline constexpr NodeModel kA100{0x10de, 0x20b2, 8, "a100"};
inline constexpr NodeModel kH200{0x10de, 0x2335, 8, "h200"};
inline constexpr NodeModel kMI300X{0x1002, 0x74a1, 8, "mi300x"};
inline constexpr NodeModel kGaudi2{0x1da3, 0x1020, 8, "gaudi2"};
inline constexpr NodeModel kAscend910B{0x19e5, 0xd802, 8, "ascend"};

// One KYC row (server/kyc/kyc_parser.h CSV columns).
struct AccountRow {
  std::string account_id, legal_entity, country;
  std::vector<std::string> owners;  // "Name (CC)"
  std::vector<std::string> addresses;
  std::string payment_fingerprint;
  std::vector<std::string> email_domains, source_ips;
  std::string parent_account;
  bool is_reseller = false;
};

class EvalContext {
 public:
  EvalContext(uint64_t seed, uint32_t interval_seconds, uint32_t reports);

  uint64_t Uniform(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  double Real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
  std::string Hex(int digits);
  // A sha256-looking digest "sha256:<64 hex>" of `what` (stable, not random).
  static std::string Digest(const std::string& what);

  // A new account with a distinct synthetic identity (own owner, payment, e-mail, IP, address).
  // With a population set, the owner and company are drawn from its name-frequency tables (so
  // common names repeat), and some accounts use a registered agent's address or a webmail domain
  // shared with many others; payment and source IP stay the account's own.
  std::string NewAccount();
  void set_population(const NameTables* names) { names_ = names; }
  AccountRow& Row(const std::string& account_id);
  // A new node in datacenter `dc` (index into the scenario's datacenters).
  sim::v1::SimNode* NewNode(int dc, const NodeModel& model, const std::string& hostname = "");
  // A new K8s training workload on `node` using all its accelerators over [start, start + len).
  sim::v1::SimWorkload* NewWorkload(const sim::v1::SimNode& node, const std::string& account,
                                    uint32_t start, uint32_t length);
  // NewWorkload with its tensor activity and image digest set.
  sim::v1::SimWorkload* NewTraining(const sim::v1::SimNode& node, const std::string& account,
                                    uint32_t start, uint32_t length, double tensor_activity,
                                    const std::string& image_digest);
  // The digest of an account's own image (links nothing to other accounts).
  static std::string PrivateImage(const std::string& account) {
    return Digest("private:" + account);
  }
  int DatacenterCount() const { return scenario_.datacenters_size(); }
  // Region of datacenter `dc`; datacenters 2r and 2r+1 share region r.
  const std::string& Region(int dc) const { return scenario_.datacenters(dc).region(); }

  sim::v1::Scenario& scenario() { return scenario_; }
  std::vector<AccountRow>& accounts() { return accounts_; }
  GroundTruth& truth() { return truth_; }
  uint32_t interval() const { return interval_; }
  uint32_t reports() const { return reports_; }

 private:
  std::string PersonName();
  std::string CompanyName();
  void RealisticIdentity(AccountRow* row);
  const NameTables* names_ = nullptr;
  std::mt19937_64 rng_;
  uint32_t interval_, reports_;
  sim::v1::Scenario scenario_;
  std::vector<AccountRow> accounts_;
  GroundTruth truth_;
  uint32_t next_node_ = 1, next_account_ = 1;
};

}  // namespace prov::eval
