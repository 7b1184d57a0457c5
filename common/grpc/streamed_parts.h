// Streamed imports: a file larger than provd's per-message receive limit sent as parts of one
// client-streaming call (ImportAccountsStream, ImportScreeningListStream, ImportInventoryStream).
// The first message carries the request's fields and the first part of `content`; every later
// message carries only the next part of `content`.
//
//   // client (provctl):
//   grpc::Status s = SendInParts(stub->ImportAccountsStream(&ctx, &resp), request);
//   // server, after authorizing the caller:
//   ImportAccountsRequest request;
//   if (grpc::Status s = ReadParts(reader, max_bytes, &request); !s.ok()) return s;
//
// Request is any message with a `bytes content` field.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/sync_stream.h"

namespace prov {

inline constexpr size_t kImportPartBytes = 1u << 20;  // one message of a streamed import

// Writes `request` in kImportPartBytes parts, then finishes the call; a failed Write ends the
// sending and Finish() says why.
template <typename Request>
grpc::Status SendInParts(std::unique_ptr<grpc::ClientWriter<Request>> writer,
                         const Request& request) {
  const std::string& content = request.content();
  Request part = request;
  part.set_content(content.substr(0, std::min(content.size(), kImportPartBytes)));
  bool sent = writer->Write(part);
  for (size_t at = kImportPartBytes; sent && at < content.size(); at += kImportPartBytes) {
    part.Clear();
    part.set_content(content.substr(at, kImportPartBytes));
    sent = writer->Write(part);
  }
  writer->WritesDone();
  return writer->Finish();
}

// Joins a streamed import's parts into one request. Refuses (INVALID_ARGUMENT, "nothing
// imported"), without reading further, a stream whose content grows past `max_bytes`, a later part
// naming the file again, and a stream with no message.
template <typename Request>
grpc::Status ReadParts(grpc::ServerReaderInterface<Request>* reader, size_t max_bytes,
                       Request* out) {
  Request part;
  size_t parts = 0;
  while (reader->Read(&part)) {
    ++parts;
    if (parts == 1) {
      *out = std::move(part);
    } else {
      std::string content = std::move(*part.mutable_content());
      part.clear_content();
      if (part.ByteSizeLong() != 0) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat("message ", parts,
                                         ": only the first message of a streamed import names "
                                         "the file; later ones carry content only; nothing "
                                         "imported"));
      }
      out->mutable_content()->append(content);  // one part (a message) at most past the limit
    }
    if (out->content().size() > max_bytes) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("content: ", out->content().size(), " bytes; the limit is ",
                                       max_bytes, " bytes; nothing imported"));
    }
    part.Clear();
  }
  if (parts == 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "a streamed import with no message; nothing imported");
  }
  return grpc::Status::OK;
}

}  // namespace prov
