// HttpCall / HttpReply: one dashboard request and its answer, without any HTTP library in sight,
// so the API gateway (api_gateway.h) is tested by calling it directly.
//
//   HttpCall call{.method = "GET", .path = "/api/flags", .query = {{"status", "FLAG_STATUS_OPEN"}},
//                 .authorization = "Bearer prov_..."};
//   HttpReply reply = gateway.Handle(call);   // reply.status 200, reply.body proto3 JSON
#pragma once

#include <map>
#include <string>

namespace prov::server::web {

struct HttpCall {
  std::string method = {};  // "GET", "POST"
  std::string path = {};    // "/api/flags/F-000001" (no query string)
  std::multimap<std::string, std::string> query = {};
  std::string body = {};           // POST: a JSON object
  std::string authorization = {};  // the Authorization header, as sent
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  bool unauthenticated() const { return status == 401; }
};

}  // namespace prov::server::web
