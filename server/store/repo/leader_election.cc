#include "server/store/repo/leader_election.h"

namespace prov::server {

absl::Status SoleLeader::Start(LeaderEvents events) {
  if (started_) return absl::FailedPreconditionError("leader election: already started");
  started_ = true;
  events_ = std::move(events);
  leading_ = true;
  if (events_.elected) events_.elected(1);
  return absl::OkStatus();
}

void SoleLeader::Stop() {
  if (!leading_.exchange(false)) return;
  if (events_.deposed) events_.deposed();
}

bool SoleLeader::leading() const { return leading_; }

}  // namespace prov::server
