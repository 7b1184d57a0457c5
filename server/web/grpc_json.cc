#include "server/web/grpc_json.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace prov::server::web {
namespace {

using google::protobuf::FieldDescriptor;

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "INTERNAL";
  }
}

}  // namespace

int HttpStatusFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;
  }
}

HttpReply ErrorReply(int http_status, const std::string& code, const std::string& message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  HttpReply reply;
  reply.status = http_status;
  reply.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return reply;
}

HttpReply ErrorReply(const grpc::Status& status) {
  return ErrorReply(HttpStatusFor(status.error_code()), CodeName(status.error_code()),
                    status.error_message());
}

std::string MessageJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  // Printing a valid in-memory message cannot fail short of a bug.
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}";
  return out;
}

absl::Status QueryToMessage(const std::multimap<std::string, std::string>& query,
                            google::protobuf::Message* message) {
  const google::protobuf::Descriptor* d = message->GetDescriptor();
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [name, value] : query) {
    const FieldDescriptor* f = d->FindFieldByName(name);
    if (f == nullptr || f->is_repeated() ||
        (f->type() == FieldDescriptor::TYPE_MESSAGE &&
         f->message_type()->full_name() != "google.protobuf.Timestamp")) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": not a query parameter here"));
    }
    if (object.contains(name)) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": given more than once"));
    }
    // Percent-decoding yields any bytes; JSON (and proto3 strings) take only UTF-8. Found by
    // tests/fuzz/web_query_fuzz.cc: the JSON dump below threw, the route answered 500.
    if (!IsValidUtf8(value)) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": value is not valid UTF-8"));
    }
    if (f->type() == FieldDescriptor::TYPE_BOOL) {
      const std::string v = absl::AsciiStrToLower(value);
      if (v == "true" || v == "1") {
        object[name] = true;
      } else if (v == "false" || v == "0") {
        object[name] = false;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(name, ": \"", value, "\" is not a bool"));
      }
    } else if (f->type() == FieldDescriptor::TYPE_ENUM && !value.empty() &&
               value.find_first_not_of("0123456789") == std::string::npos && value.size() < 10) {
      object[name] = std::stoi(value);
    } else {
      object[name] = value;  // numbers as strings are valid proto3 JSON
    }
  }
  if (object.empty()) return absl::OkStatus();
  return BodyToMessage(object.dump(), message);
}

absl::Status BodyToMessage(const std::string& body, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(body, message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(std::string(status.message()));
  }
  return absl::OkStatus();
}

absl::Status SetStringField(const std::string& field, const std::string& value,
                            google::protobuf::Message* message) {
  const FieldDescriptor* f = message->GetDescriptor()->FindFieldByName(field);
  if (f == nullptr || f->is_repeated() || f->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
    return absl::InternalError(
        absl::StrCat(field, ": not a string field of ", message->GetDescriptor()->full_name()));
  }
  message->GetReflection()->SetString(message, f, value);
  return absl::OkStatus();
}

}  // namespace prov::server::web
