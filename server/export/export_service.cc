#include "server/export/export_service.h"

#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/grpc/status.h"

namespace prov::server {
namespace {

using namespace provenance::v1;

// Streams one file; false when the client went away or the file cannot be read (*error set).
bool SendFile(const std::string& dir, const std::string& path,
              grpc::ServerWriter<ExportEvent>* writer, grpc::Status* error) {
  const std::string full = JoinPath(dir, path);
  std::ifstream in(full, std::ios::binary);
  if (!in) {
    *error = grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat(full, ": cannot be read"));
    return false;
  }
  std::string buffer(ExportServiceImpl::kChunkBytes, '\0');
  uint64_t offset = 0;
  while (true) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const size_t n = static_cast<size_t>(in.gcount());
    const bool last = in.eof();
    if (!last && !in) {
      *error = grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat(full, ": read failed"));
      return false;
    }
    ExportEvent e;
    ExportFileChunk* c = e.mutable_file();
    c->set_path(path);
    c->set_offset(offset);
    c->set_data(buffer.data(), n);
    c->set_last(last);
    if (!writer->Write(e)) {
      *error = grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
      return false;
    }
    offset += n;
    if (last) return true;
  }
}

}  // namespace

grpc::Status ExportServiceImpl::Allow(grpc::ServerContext* context, Role need,
                                      std::string* actor) const {
  if (auth_ == nullptr) {
    *actor = context->peer();
    return grpc::Status::OK;
  }
  Principal who;
  grpc::Status s = auth_->Require(context, need, &who);
  if (s.ok()) *actor = who.actor();
  return s;
}

grpc::Status ExportServiceImpl::Export(grpc::ServerContext* context, const ExportRequest* request,
                                       grpc::ServerWriter<ExportEvent>* writer) {
  std::string actor;
  if (grpc::Status s = Allow(context, ROLE_ADMIN, &actor); !s.ok()) return s;
  bool client_gone = false;
  auto progress = [&](const ExportProgress& p) {
    if (client_gone) return;
    ExportEvent e;
    *e.mutable_progress() = p;
    client_gone = !writer->Write(e);
  };
  absl::StatusOr<ExportResult> result = exporter_.Run("request", actor, progress);
  if (!result.ok()) return ToGrpcStatus(result.status());
  if (client_gone) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
  if (request->send_files()) {
    std::vector<std::string> paths;
    for (const integrity::ManifestFile& f : result->manifest.files) paths.push_back(f.path);
    paths.push_back(integrity::kManifestName);
    paths.push_back(integrity::kSignatureName);
    grpc::Status error;
    for (const std::string& path : paths) {
      if (!SendFile(result->summary.server_path(), path, writer, &error)) return error;
    }
  }
  ExportEvent done;
  *done.mutable_done() = result->summary;
  writer->Write(done);
  return grpc::Status::OK;
}

grpc::Status ExportServiceImpl::ListExports(grpc::ServerContext* context, const ListExportsRequest*,
                                            ListExportsResponse* response) {
  std::string actor;
  if (grpc::Status s = Allow(context, ROLE_ADMIN, &actor); !s.ok()) return s;
  absl::StatusOr<std::vector<ExportSummary>> list = exporter_.List();
  if (!list.ok()) return ToGrpcStatus(list.status());
  for (ExportSummary& s : *list) *response->add_exports() = std::move(s);
  return grpc::Status::OK;
}

grpc::Status ExportServiceImpl::GetSigningKey(grpc::ServerContext* context,
                                              const GetSigningKeyRequest*,
                                              GetSigningKeyResponse* response) {
  std::string actor;
  if (grpc::Status s = Allow(context, ROLE_VIEWER, &actor); !s.ok()) return s;
  const std::string hex = absl::BytesToHexString(exporter_.key().public_key);
  response->set_public_key(hex);
  response->set_key_file_line(absl::StrCat("ed25519-public ", hex));
  return grpc::Status::OK;
}

}  // namespace prov::server
