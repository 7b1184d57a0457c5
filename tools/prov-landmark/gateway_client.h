// GatewayClient: prov-landmark's side of provd's LandmarkGateway (location.proto).
//
//   auto channel = CreateBearerChannel(address, *credentials, token);   // TLS, optional mTLS
//   GatewayClient client(provenance::v1::LandmarkGateway::NewStub(channel), {});
//   PROV_ASSIGN_OR_RETURN(Assignment a, client.GetAssignment("lm-fra-1"));
//   PROV_ASSIGN_OR_RETURN(SubmitSummary s, client.Submit(records));   // batches of <= 1,000
//
// Every call gets a deadline; UNAVAILABLE (provd restarting, network) is retried with
// exponential backoff (initial, doubling, capped, max_attempts in all); any other error is
// returned at once with the RPC's message. A batch that exhausted its retries fails the Submit
// (records of earlier batches stay accepted; the summary of those is lost with the error).
// Thread-safe like the stub.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "provenance/v1/location.grpc.pb.h"

namespace prov::landmark {

inline constexpr size_t kMaxRecordsPerBatch = 1000;

struct RetryPolicy {
  int max_attempts = 5;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
  absl::Duration deadline = absl::Seconds(10);  // per call
  std::function<void(absl::Duration)> sleep;    // null: absl::SleepFor
};

struct SubmitSummary {
  uint32_t accepted = 0;
  uint32_t batches = 0;
  std::vector<std::pair<size_t, std::string>> refused;  // (index into the records, reason)
};

class GatewayClient {
 public:
  GatewayClient(std::unique_ptr<provenance::v1::LandmarkGateway::StubInterface> stub,
                RetryPolicy retry);

  absl::StatusOr<provenance::v1::Assignment> GetAssignment(const std::string& landmark_id);
  absl::StatusOr<SubmitSummary> Submit(
      const std::vector<provenance::v1::SignedMeasurement>& records);

 private:
  template <typename Call>
  absl::Status WithRetries(absl::string_view what, Call call);
  std::unique_ptr<provenance::v1::LandmarkGateway::StubInterface> stub_;
  RetryPolicy retry_;
};

}  // namespace prov::landmark
