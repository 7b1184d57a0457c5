// The JSON edge of the dashboard's gateway: gRPC status -> HTTP status and error body, response
// protos -> proto3 JSON, query parameters and request bodies -> request protos.
//
//   HttpReply r = ErrorReply(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "needs analyst"));
//   // r.status 403, r.body {"error":{"code":"PERMISSION_DENIED","message":"needs analyst"}}
//   absl::Status s = QueryToMessage(call.query, &list_flags_request);   //
//   "?status=FLAG_STATUS_OPEN" std::string json = MessageJson(response);                       //
//   one line, every field
//
// Query parameters name request fields by their proto names; enums by name ("SEVERITY_HIGH") or
// number, bools as true/false/1/0, timestamps as RFC 3339 ("2026-12-01T00:00:00Z"). Unknown
// parameters and bad values are INVALID_ARGUMENT naming the parameter. Pure functions.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/status.h"
#include "server/web/http_types.h"

namespace prov::server::web {

int HttpStatusFor(grpc::StatusCode code);
HttpReply ErrorReply(const grpc::Status& status);
HttpReply ErrorReply(int http_status, const std::string& code, const std::string& message);

// Proto3 JSON on one line with proto field names; fields at their default values are included
// (the browser need not know proto defaults). 64-bit integers are strings, as proto3 JSON says.
std::string MessageJson(const google::protobuf::Message& message);

absl::Status QueryToMessage(const std::multimap<std::string, std::string>& query,
                            google::protobuf::Message* message);
// A JSON object body; unknown fields are INVALID_ARGUMENT.
absl::Status BodyToMessage(const std::string& body, google::protobuf::Message* message);
// Sets a string field (a path parameter such as flag_id).
absl::Status SetStringField(const std::string& field, const std::string& value,
                            google::protobuf::Message* message);

}  // namespace prov::server::web
