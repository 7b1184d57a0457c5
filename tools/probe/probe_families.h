// The hostile-input families prov-hostile-probe runs against a real provd, and the provd it
// starts for each.
//
//   ProbeEnv env{.bin_dir = "build/release/bin", .work_dir = "/tmp/probe"};
//   for (const Family& f : AllFamilies()) FamilyResult r = f.run(env);
//
// Each family starts its own provd (fresh data directory under work_dir, loopback ports), so one
// family's damage cannot hide another's. Thread-safety: one thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "provenance/v1/audit.pb.h"
#include "tools/bench/child_process.h"

namespace prov::probe {

struct ProbeEnv {
  std::string bin_dir;
  std::string work_dir;
};

struct FamilyResult {
  std::string name;
  int variants = 0;
  int crashes = 0;            // provd died (or could not start again) during the family
  int reports_lost = 0;       // genuine reports acked but not stored, or never storable
  int wrong_acceptances = 0;  // hostile input taken as good
  std::string notes;
  std::vector<std::string> details;  // one line per variant that went wrong, and key figures
};

struct Family {
  std::string name;
  std::function<FamilyResult(const ProbeEnv&)> run;
};

const std::vector<Family>& AllFamilies();

// A real provd on loopback: gRPC on a free port, the dashboard on another, its own data dir.
class ProbeProvd {
 public:
  static absl::StatusOr<std::unique_ptr<ProbeProvd>> Start(const ProbeEnv& env,
                                                           const std::string& name,
                                                           std::vector<std::string> extra = {});
  // Starts provd again on the same data dir (after Kill or Stop).
  absl::Status Restart();
  bool Running() { return child_ && child_->Running(); }
  void Kill();  // SIGKILL
  // SIGTERM; returns how long provd took to exit, or an error when it had to be killed.
  absl::StatusOr<absl::Duration> Stop(absl::Duration grace);

  const std::string& address() const { return address_; }
  int web_port() const { return web_port_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string token() const;
  std::shared_ptr<grpc::Channel> channel() const;
  // reports_stored per node (AuditService.ListNodes with the admin token); -1 when unknown.
  int64_t StoredReports(const std::string& node_id);
  // The account's accelerator-hours in the ledger; negative when the call failed.
  double AcceleratorHours(const std::string& account);
  // Bytes of provd.db and its WAL.
  int64_t DatabaseBytes() const;

 private:
  ProbeProvd(const ProbeEnv& env, std::string name, std::vector<std::string> extra);

  ProbeEnv env_;
  std::string data_dir_;
  std::vector<std::string> extra_;
  std::unique_ptr<bench::ChildProcess> child_;
  std::string address_;
  int web_port_ = 0;
  int generation_ = 0;
};

// Starts the family's provd (data dir named after out.name); on failure counts a crash, notes why
// and returns nullptr.
std::unique_ptr<ProbeProvd> StartFamilyProvd(const ProbeEnv& env, FamilyResult& out);
// After a variant: true while provd still serves. A provd that died is counted as a crash and
// started again; false when it could not start again (the family stops).
bool StillServing(ProbeProvd& provd, FamilyResult& out);

// Runs a program to completion; its exit code (-1 when it could not run or was killed).
int RunProgram(const std::vector<std::string>& argv, const std::string& log_file,
               absl::Duration timeout);

}  // namespace prov::probe
