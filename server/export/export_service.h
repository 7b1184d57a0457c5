// ExportServiceImpl: provenance.v1.ExportService (compliance.proto) over an Exporter.
//
//   ExportServiceImpl service(*exporter, &auth);
//   builder.RegisterService(&service);
//
// Export (admin): runs an export now (trigger "request", actor = the caller), streaming an
// ExportProgress per stage and every 10,000 rows, then — with send_files — every file's bytes in
// ExportFileChunk messages of at most 1 MiB (manifest.json and manifest.sig last), then the
// ExportSummary. A client that goes away does not stop the export: it completes and is recorded.
// ListExports (admin), GetSigningKey (viewer: auditors fetch the public key to verify with).
// Runs on gRPC sync threads; exports are serialised by the Exporter.
#pragma once

#include "grpcpp/grpcpp.h"
#include "provenance/v1/compliance.grpc.pb.h"
#include "server/access/authenticator.h"
#include "server/export/exporter.h"

namespace prov::server {

class ExportServiceImpl final : public provenance::v1::ExportService::Service {
 public:
  static constexpr size_t kChunkBytes = 1 << 20;
  // auth null: no checks, the actor is the gRPC peer (library tests).
  ExportServiceImpl(Exporter& exporter, const Authenticator* auth)
      : exporter_(exporter), auth_(auth) {}

  grpc::Status Export(grpc::ServerContext* context, const provenance::v1::ExportRequest* request,
                      grpc::ServerWriter<provenance::v1::ExportEvent>* writer) override;
  grpc::Status ListExports(grpc::ServerContext* context,
                           const provenance::v1::ListExportsRequest* request,
                           provenance::v1::ListExportsResponse* response) override;
  grpc::Status GetSigningKey(grpc::ServerContext* context,
                             const provenance::v1::GetSigningKeyRequest* request,
                             provenance::v1::GetSigningKeyResponse* response) override;

 private:
  grpc::Status Allow(grpc::ServerContext* context, provenance::v1::Role need,
                     std::string* actor) const;

  Exporter& exporter_;
  const Authenticator* auth_;
};

}  // namespace prov::server
