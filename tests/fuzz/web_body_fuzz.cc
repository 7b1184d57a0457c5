// The dashboard's request bytes (server/web): the connection gate's framing decision on the raw
// buffered request (CheckRequest, IsEventStreamRequest in connection_gate.h), then the same bytes
// as a POST body through BodyToMessage (grpc_json.h) into UpdateCaseRequest, the one POST route.
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "provenance/v1/compliance.pb.h"
#include "server/web/connection_gate.h"
#include "server/web/grpc_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)prov::server::web::CheckRequest(text, /*max_header_bytes=*/16 << 10,
                                        /*max_body_bytes=*/1 << 20);
  (void)prov::server::web::IsEventStreamRequest(text);
  provenance::v1::UpdateCaseRequest request;
  if (prov::server::web::BodyToMessage(text, &request).ok()) {
    (void)prov::server::web::MessageJson(request);
  }
  return 0;
}
