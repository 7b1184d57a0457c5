// AnalysisServiceImpl: provenance.v1.AnalysisService (ListFlags, GetFlag, WatchFlags, ListBundles,
// GetBundle) over the AnalysisEngine's in-memory state.
//
//   AnalysisServiceImpl service(*engine);
//   builder.RegisterService(&service);
//   ...
//   service.Stop();   // before grpc::Server::Shutdown: ends open WatchFlags streams
//
// Sync API: queries copy what they need under the engine's mutex. WatchFlags holds one handler
// thread per open stream and wakes every 200 ms to notice cancellation or Stop().
// Errors: INVALID_ARGUMENT naming the field; NOT_FOUND for an unknown flag or bundle id.
#pragma once

#include <atomic>

#include "provenance/v1/analysis.grpc.pb.h"
#include "server/access/authenticator.h"
#include "server/analysis/analysis_engine.h"

namespace prov::server {

class AnalysisServiceImpl final : public provenance::v1::AnalysisService::Service {
 public:
  static constexpr uint32_t kDefaultLimit = 1000;
  static constexpr uint32_t kMaxLimit = 100000;

  // `auth` (provd always sets it): every call needs the viewer role. Null: no checks (tests).
  explicit AnalysisServiceImpl(AnalysisEngine& engine, const Authenticator* auth = nullptr)
      : engine_(engine), auth_(auth) {}
  void Stop() { stopped_ = true; }

  grpc::Status ListFlags(grpc::ServerContext* context,
                         const provenance::v1::ListFlagsRequest* request,
                         provenance::v1::ListFlagsResponse* response) override;
  grpc::Status GetFlag(grpc::ServerContext* context, const provenance::v1::GetFlagRequest* request,
                       provenance::v1::GetFlagResponse* response) override;
  grpc::Status WatchFlags(grpc::ServerContext* context,
                          const provenance::v1::WatchFlagsRequest* request,
                          grpc::ServerWriter<provenance::v1::Flag>* writer) override;
  grpc::Status ListBundles(grpc::ServerContext* context,
                           const provenance::v1::ListBundlesRequest* request,
                           provenance::v1::ListBundlesResponse* response) override;
  grpc::Status GetBundle(grpc::ServerContext* context,
                         const provenance::v1::GetBundleRequest* request,
                         provenance::v1::GetBundleResponse* response) override;

 private:
  AnalysisEngine& engine_;
  const Authenticator* auth_;
  std::atomic<bool> stopped_{false};
};

}  // namespace prov::server
