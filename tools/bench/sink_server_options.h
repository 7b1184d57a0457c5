// ApplySinkServerOptions: the gRPC server settings prov-noop-sink shares with provd, so the
// benchmark compares like with like: HTTP/2 BDP probing off (otherwise the transport buffers far
// ahead of the application: 475 MB vs 17 MB measured here), 4 MiB receive / 64 MiB send limits,
// keepalive pings from agents permitted every 10 s, server keepalive 60 s / 20 s timeout.
//
//   grpc::ServerBuilder builder;
//   prov::bench::ApplySinkServerOptions(builder);
//
// Keep in step with provd's server setup (server/provd_server.cc, ProvdServer::Init); last
// compared with provd at commit 18f6f0c. provd also registers health and reflection services,
// which cost nothing per report.
#pragma once

#include "grpcpp/server_builder.h"

namespace prov::bench {

inline void ApplySinkServerOptions(grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.SetMaxReceiveMessageSize(4 << 20);
  builder.SetMaxSendMessageSize(64 << 20);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
}

}  // namespace prov::bench
