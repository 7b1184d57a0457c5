// ApplySinkServerOptions: the gRPC server settings prov-noop-sink shares with provd, so the
// benchmark compares like with like: HTTP/2 BDP probing off (otherwise the transport buffers far
// ahead of the application: 475 MB vs 17 MB measured here), a 4 MiB receive limit, keepalive
// pings from agents permitted every 10 s.
//
//   grpc::ServerBuilder builder;
//   prov::bench::ApplySinkServerOptions(builder);
//
// Keep in step with provd's server setup (server/); the benchmark README says which provd
// version the settings were last compared against.
#pragma once

#include "grpcpp/server_builder.h"

namespace prov::bench {

inline void ApplySinkServerOptions(grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.SetMaxReceiveMessageSize(4 << 20);
}

}  // namespace prov::bench
