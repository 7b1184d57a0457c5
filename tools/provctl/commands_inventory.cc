// provctl: InventoryService commands (inventory import, inventory list, inventory show).
#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/grpc/streamed_parts.h"
#include "provenance/v1/inventory.grpc.pb.h"
#include "tools/provctl/commands.h"
#include "tools/provctl/format_identity.h"
#include "tools/provctl/format_inventory.h"
#include "tools/provctl/requests.h"

namespace prov::provctl {

int RunInventory(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = provenance::v1::InventoryService::NewStub(channel);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, inv);
  if (inv.command == "inventory import") {
    absl::StatusOr<std::string> content = ReadFileToString(inv.file, kMaxImportFileBytes + 1);
    if (!content.ok()) {
      std::fprintf(stderr, "provctl: cannot read %s: %s\n", inv.file.c_str(),
                   std::string(content.status().message()).c_str());
      return 1;
    }
    if (content->size() > kMaxImportFileBytes) {
      std::fprintf(stderr, "provctl: %s is larger than provd accepts (%zu MiB)\n", inv.file.c_str(),
                   kMaxImportFileBytes >> 20);
      return 1;
    }
    provenance::v1::ImportInventoryRequest req;
    req.set_source_name(inv.file.substr(inv.file.find_last_of('/') + 1));
    req.set_format(inv.format);
    req.set_content(*std::move(content));
    provenance::v1::ImportInventoryResponse resp;
    grpc::Status s = SendInParts(stub->ImportInventoryStream(&ctx, &resp), req);
    if (!s.ok()) return Fail(inv, s);
    int emitted = Emit(inv, resp, InventoryImported(resp, inv.file));
    if (resp.errors().empty()) return emitted;
    // Like accounts import: an import that refused rows failed, though its good rows went in.
    std::cerr << RowErrorLines(resp.errors(), inv.file);
    std::fprintf(stderr, "provctl: %s: %d row error%s; the other rows were imported\n",
                 inv.file.c_str(), resp.errors_size(), resp.errors_size() == 1 ? "" : "s");
    return emitted != 0 ? emitted : 1;
  }
  if (inv.command == "inventory list") {
    provenance::v1::ListInventoryRequest req;
    req.set_datacenter(inv.datacenter);
    req.set_node_id(inv.node_id);
    req.set_limit(inv.limit);
    provenance::v1::ListInventoryResponse resp;
    grpc::Status s = stub->ListInventory(&ctx, req, &resp);
    return s.ok() ? Emit(inv, resp, InventoryTable(resp)) : Fail(inv, s);
  }
  provenance::v1::GetInventoryRequest req;
  req.set_serial(inv.name);
  provenance::v1::GetInventoryResponse resp;
  grpc::Status s = stub->GetInventory(&ctx, req, &resp);
  return s.ok() ? Emit(inv, resp, InventoryDetail(resp)) : Fail(inv, s);
}

}  // namespace prov::provctl
