// provctl: node location (LocationService) and the offline re-derivation of exported verdicts.
//   location show NODE | location list [--verdict V] [--limit N] | location landmarks
//   location verify DIR [--public-key FILE|HEX]   offline, no server
#include <cstdio>
#include <iostream>

#include "common/location/export_location_check.h"
#include "provenance/v1/location.grpc.pb.h"
#include "tools/provctl/commands.h"
#include "tools/provctl/format_export.h"
#include "tools/provctl/format_location.h"

namespace prov::provctl {

int RunLocationVerify(const Invocation& inv) {
  std::string key;
  if (!inv.public_key.empty()) {
    auto parsed = ParsePublicKeyArg(inv.public_key);
    if (!parsed.ok()) {
      std::fprintf(stderr, "provctl: %s\n", std::string(parsed.status().message()).c_str());
      return 1;
    }
    key = *parsed;
  }
  location::LocationExportCheck c = location::CheckLocationExport(inv.file, key);
  std::cout << (inv.json ? LocationCheckJson(c) : LocationCheckText(inv.file, c));
  return c.ok() ? 0 : 1;
}

int RunLocation(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = provenance::v1::LocationService::NewStub(channel);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, inv);
  if (inv.command == "location show") {
    provenance::v1::GetNodeLocationRequest req;
    req.set_node_id(inv.node_id);
    provenance::v1::NodeLocation resp;
    grpc::Status s = stub->GetNodeLocation(&ctx, req, &resp);
    return s.ok() ? Emit(inv, resp, NodeLocationText(resp)) : Fail(inv, s);
  }
  if (inv.command == "location list") {
    provenance::v1::ListNodeLocationsRequest req;
    req.set_verdict(inv.location_verdict);
    req.set_limit(inv.limit);
    provenance::v1::ListNodeLocationsResponse resp;
    grpc::Status s = stub->ListNodeLocations(&ctx, req, &resp);
    return s.ok() ? Emit(inv, resp, NodeLocationsTable(resp)) : Fail(inv, s);
  }
  provenance::v1::ListLandmarksResponse resp;
  grpc::Status s = stub->ListLandmarks(&ctx, provenance::v1::ListLandmarksRequest(), &resp);
  return s.ok() ? Emit(inv, resp, LandmarksText(resp)) : Fail(inv, s);
}

}  // namespace prov::provctl
