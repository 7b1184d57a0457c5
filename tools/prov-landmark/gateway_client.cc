#include "tools/prov-landmark/gateway_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"

namespace prov::landmark {

namespace pb = provenance::v1;

GatewayClient::GatewayClient(std::unique_ptr<pb::LandmarkGateway::StubInterface> stub,
                             RetryPolicy retry)
    : stub_(std::move(stub)), retry_(std::move(retry)) {
  if (!retry_.sleep) retry_.sleep = [](absl::Duration d) { absl::SleepFor(d); };
}

template <typename Call>
absl::Status GatewayClient::WithRetries(absl::string_view what, Call call) {
  absl::Duration backoff = retry_.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + retry_.deadline));
    const grpc::Status status = call(&context);
    if (status.ok()) return absl::OkStatus();
    const auto code = static_cast<absl::StatusCode>(status.error_code());
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || attempt >= retry_.max_attempts) {
      return absl::Status(
          code, absl::StrCat(what, ": ", status.error_message(),
                             attempt > 1 ? absl::StrCat(" (after ", attempt, " attempts)") : ""));
    }
    retry_.sleep(backoff);
    backoff = std::min(backoff * 2, retry_.max_backoff);
  }
}

absl::StatusOr<pb::Assignment> GatewayClient::GetAssignment(const std::string& landmark_id) {
  pb::GetAssignmentRequest request;
  request.set_landmark_id(landmark_id);
  pb::Assignment assignment;
  absl::Status s = WithRetries("GetAssignment", [&](grpc::ClientContext* context) {
    assignment.Clear();
    return stub_->GetAssignment(context, request, &assignment);
  });
  if (!s.ok()) return s;
  return assignment;
}

absl::StatusOr<SubmitSummary> GatewayClient::Submit(
    const std::vector<pb::SignedMeasurement>& records) {
  SubmitSummary summary;
  for (size_t start = 0; start < records.size(); start += kMaxRecordsPerBatch) {
    const size_t end = std::min(records.size(), start + kMaxRecordsPerBatch);
    pb::SubmitMeasurementsRequest request;
    for (size_t i = start; i < end; ++i) *request.add_records() = records[i];
    pb::SubmitMeasurementsResponse response;
    absl::Status s = WithRetries("SubmitMeasurements", [&](grpc::ClientContext* context) {
      response.Clear();
      return stub_->SubmitMeasurements(context, request, &response);
    });
    if (!s.ok()) return s;
    ++summary.batches;
    summary.accepted += response.accepted();
    for (const pb::MeasurementRefusal& r : response.refused()) {
      summary.refused.emplace_back(start + r.index(), r.reason());
    }
  }
  return summary;
}

}  // namespace prov::landmark
