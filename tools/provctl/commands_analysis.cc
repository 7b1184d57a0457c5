// provctl: AnalysisService commands (flags list/show/watch, bundles list, bundle).
#include <iostream>

#include "common/proto_json.h"
#include "provenance/v1/analysis.grpc.pb.h"
#include "tools/provctl/commands.h"
#include "tools/provctl/format_analysis.h"
#include "tools/provctl/requests.h"

namespace prov::provctl {
namespace {

using namespace provenance::v1;

// Server stream: one line (or one JSON object per line) per new or changed flag, flushed at
// once, until the stream ends, the process is interrupted, or --count flags were printed.
int WatchFlags(const Invocation& inv, AnalysisService::Stub& stub) {
  grpc::ClientContext ctx;  // no deadline: a watch runs until stopped
  AddCredentials(&ctx, inv);
  std::unique_ptr<grpc::ClientReader<Flag>> reader =
      stub.WatchFlags(&ctx, WatchFlagsRequestFor(inv));
  Flag flag;
  uint32_t printed = 0;
  while (reader->Read(&flag)) {
    std::cout << (inv.json ? ToJson(flag, /*pretty=*/false) : FlagLine(flag)) << std::endl;
    if (inv.count > 0 && ++printed >= inv.count) {
      ctx.TryCancel();
      while (reader->Read(&flag)) {
      }
      (void)reader->Finish();
      return 0;
    }
  }
  grpc::Status s = reader->Finish();
  return s.ok() ? 0 : Fail(inv, s);
}

}  // namespace

int RunAnalysis(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = AnalysisService::NewStub(channel);
  if (inv.command == "flags watch") return WatchFlags(inv, *stub);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, inv);
  if (inv.command == "flags list") {
    ListFlagsResponse resp;
    grpc::Status s = stub->ListFlags(&ctx, ListFlagsRequestFor(inv), &resp);
    return s.ok() ? Emit(inv, resp, FlagsTable(resp)) : Fail(inv, s);
  }
  if (inv.command == "flags show") {
    GetFlagRequest req;
    req.set_flag_id(inv.flag_id);
    GetFlagResponse resp;
    grpc::Status s = stub->GetFlag(&ctx, req, &resp);
    return s.ok() ? Emit(inv, resp, FlagDetail(resp)) : Fail(inv, s);
  }
  if (inv.command == "bundles list") {
    ListBundlesResponse resp;
    grpc::Status s = stub->ListBundles(&ctx, ListBundlesRequestFor(inv), &resp);
    return s.ok() ? Emit(inv, resp, BundlesTable(resp)) : Fail(inv, s);
  }
  GetBundleRequest req;
  req.set_bundle_id(inv.bundle_id);
  GetBundleResponse resp;
  grpc::Status s = stub->GetBundle(&ctx, req, &resp);
  return s.ok() ? Emit(inv, resp, BundleDetail(resp)) : Fail(inv, s);
}

}  // namespace prov::provctl
