// provctl's RPC side (the binary only; parsing and formatting are in prov::provctl_lib).
//
//   return RunIdentity(inv, channel);   // accounts import, account, screening import, policy ...
//
// Each Run* prints the result (table, or proto3 JSON with -o json) and returns the exit status:
// 0 success, 1 the call failed or a file could not be read (the message says which).
#pragma once

#include <memory>
#include <string>

#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "tools/provctl/cli.h"

namespace prov::provctl {

int RunAudit(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel);
int RunIdentity(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel);
int RunAnalysis(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel);
int RunCompliance(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel);
int RunNodeAdmin(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel);
int RunExport(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel);
// inventory import FILE, inventory list, inventory show SERIAL.
int RunInventory(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel);
// export verify: offline (no channel, no credentials).
int RunExportVerify(const Invocation& inv);
// location show NODE, location list, location landmarks (LocationService).
int RunLocation(const Invocation& inv, const std::shared_ptr<grpc::Channel>& channel);
// location verify DIR: offline (no channel, no credentials); exit 0 only when all verifies.
int RunLocationVerify(const Invocation& inv);

// Prints why the call failed to stderr; returns 1.
int Fail(const Invocation& inv, const grpc::Status& status);
// The call's deadline (--timeout) and credentials (AddCredentials).
void SetDeadline(grpc::ClientContext* ctx, const Invocation& inv);
// `authorization: Bearer <token>` when provctl has a token (calls without a deadline use this).
void AddCredentials(grpc::ClientContext* ctx, const Invocation& inv);
// Prints `table`, or `message` as JSON with -o json; returns 0.
int Emit(const Invocation& inv, const google::protobuf::Message& message, const std::string& table);

}  // namespace prov::provctl
