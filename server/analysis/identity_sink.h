// IdentitySink: how identity administration (server/identity/) tells the analysis engine that the
// accounts, the screening results or the policy changed. The engine re-derives identity links,
// restricted-party status and screening flags from the snapshot it is given.
//
//   IdentitySnapshot snapshot;
//   snapshot.kyc_version = 7;
//   snapshot.accounts = std::make_shared<const std::vector<AccountIdentity>>(current);
//   snapshot.screening_list_version = "csl-sha256:...";
//   snapshot.screening = hits;        // every current hit of every current account
//   sink.OnIdentityChanged(std::move(snapshot));
//
// Implementations must be thread-safe: the identity service calls them from gRPC handler threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/identity.pb.h"
#include "server/policy/policy.h"

namespace prov::server {

struct IdentitySnapshot {
  int64_t kyc_version = 0;  // 0: no KYC import yet
  std::shared_ptr<const std::vector<provenance::v1::AccountIdentity>> accounts;  // all current
  std::string screening_list_version;                     // empty: no list imported yet
  std::vector<provenance::v1::ScreeningMatch> screening;  // current hits, all accounts
};

class IdentitySink {
 public:
  virtual ~IdentitySink() = default;
  virtual void OnIdentityChanged(IdentitySnapshot snapshot) = 0;
  // A policy that already passed ParsePolicy. Returns an error (and keeps the old policy) only
  // when the engine cannot apply it.
  virtual absl::Status OnPolicyLoaded(std::shared_ptr<const policy::Policy> policy) = 0;
};

}  // namespace prov::server
