// GatedHttpServer: cpp-httplib's Server with its connection handling replaced by a
// ConnectionGate (connection_gate.h). cpp-httplib 0.11 reads a request on the worker that got the
// connection, with a per-read timeout only, so a client sending a header byte every few seconds
// holds a worker for ever; here httplib's accept thread hands each socket to the gate at once,
// and httplib only parses, routes and answers requests that have fully arrived.
//
//   GatedHttpServer http(gate_options);
//   http.Get("/x", handler);                 // routes, as for httplib::Server
//   http.bind_to_any_port("127.0.0.1"); std::thread t([&] { http.listen_after_bind(); });
//   ...
//   http.stop(); t.join(); http.StopGate();  // StopGate: waiting connections closed, pools joined
//
// Routes see req.remote_addr as the client's address (IPv4-mapped IPv6 as IPv4).
#pragma once

#include <memory>

#include "httplib.h"
#include "server/web/connection_gate.h"

namespace prov::server::web {

class GatedHttpServer : public httplib::Server {
 public:
  explicit GatedHttpServer(ConnectionGateOptions options);
  ~GatedHttpServer() override;
  void StopGate() { gate_->Stop(); }
  GateCounters gate_counters() const { return gate_->counters(); }

 private:
  bool process_and_close_socket(socket_t sock) override;
  bool Serve(ConnectionGate::Connection& conn);

  std::unique_ptr<ConnectionGate> gate_;
};

}  // namespace prov::server::web
