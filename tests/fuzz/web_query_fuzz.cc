// The dashboard's query strings (server/web): the raw text after '?' split the way the HTTP
// server does (cpp-httplib's parse_query_text, which also percent-decodes), then QueryToMessage
// (server/web/grpc_json.h) into each request message a GET route fills from its query.
#include <cstdint>
#include <map>
#include <string>

#include "httplib.h"
#include "provenance/v1/analysis.pb.h"
#include "provenance/v1/audit.pb.h"
#include "provenance/v1/compliance.pb.h"
#include "provenance/v1/inventory.pb.h"
#include "provenance/v1/location.pb.h"
#include "server/web/grpc_json.h"

namespace {

template <typename Request>
void Fill(const httplib::Params& query) {
  Request request;
  if (prov::server::web::QueryToMessage(query, &request).ok()) {
    (void)prov::server::web::MessageJson(request);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  httplib::Params query;
  httplib::detail::parse_query_text(text, query);
  Fill<provenance::v1::ListFlagsRequest>(query);
  Fill<provenance::v1::ListBundlesRequest>(query);
  Fill<provenance::v1::ListNodesRequest>(query);
  Fill<provenance::v1::ListWorkloadsRequest>(query);
  Fill<provenance::v1::GetAccountUsageRequest>(query);
  Fill<provenance::v1::GetAccountUsageSeriesRequest>(query);
  Fill<provenance::v1::ListAcceleratorsRequest>(query);
  Fill<provenance::v1::ListCasesRequest>(query);
  Fill<provenance::v1::ListInventoryRequest>(query);
  Fill<provenance::v1::ListNodeLocationsRequest>(query);
  return 0;
}
