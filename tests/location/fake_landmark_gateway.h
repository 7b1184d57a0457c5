// FakeGateway: an in-test LandmarkGateway (provd's real one is tested with provd) that hands out
// a set assignment and keeps every submitted record; optional UNAVAILABLE / PERMISSION_DENIED
// answers and refusals, for prov-landmark's client tests.
#pragma once

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "provenance/v1/location.grpc.pb.h"

namespace prov::landmark {

namespace pb = provenance::v1;

class FakeGateway final : public pb::LandmarkGateway::Service {
 public:
  grpc::Status GetAssignment(grpc::ServerContext* context, const pb::GetAssignmentRequest* request,
                             pb::Assignment* response) override {
    absl::MutexLock lock(&mu);
    auto auth = context->client_metadata().find("authorization");
    if (auth != context->client_metadata().end()) {
      token = std::string(auth->second.data(), auth->second.size());
    }
    if (unavailable_left > 0) {
      --unavailable_left;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "provd restarting");
    }
    if (deny) return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not a landmark");
    requested_id = request->landmark_id();
    *response = assignment;
    return grpc::Status::OK;
  }
  grpc::Status SubmitMeasurements(grpc::ServerContext*,
                                  const pb::SubmitMeasurementsRequest* request,
                                  pb::SubmitMeasurementsResponse* response) override {
    absl::MutexLock lock(&mu);
    batch_sizes.push_back(request->records_size());
    for (int i = 0; i < request->records_size(); ++i) {
      if (refuse_first_of_batch && i == 0) {
        pb::MeasurementRefusal* r = response->add_refused();
        r->set_index(0);
        r->set_reason("landmark_seq not rising");
        continue;
      }
      records.push_back(request->records(i));
    }
    response->set_accepted(static_cast<uint32_t>(request->records_size()) -
                           (refuse_first_of_batch ? 1 : 0));
    return grpc::Status::OK;
  }

  absl::Mutex mu;
  pb::Assignment assignment;
  std::vector<pb::SignedMeasurement> records;
  std::vector<int> batch_sizes;
  std::string token, requested_id;
  int unavailable_left = 0;
  bool deny = false;
  bool refuse_first_of_batch = false;
};

}  // namespace prov::landmark
