// Responder: the UDP location responder of prov-agent (and of prov-landmark, for other
// landmarks' calibration probes). One socket, one thread ("location-responder") that waits in
// poll() on the socket and a stop pipe, hands each datagram to a ProbeHandler and sends the
// answer back to the datagram's source at once.
//
//   auto responder = Responder::Start("0.0.0.0:7701",
//       {.self_id = node_id, .landmark_keys = keys}, std::move(signer), SteadyClock::Get());
//   uint16_t port = (*responder)->local_address().port();
//   ResponderCounters c = (*responder)->Counters();     // for AgentHealth
//   (*responder)->SetSigner(std::move(new_signer));     // after a certificate renewal
//   (*responder)->Stop();                               // prompt: wakes poll() through the pipe
//
// Errors: Start() fails (UNAVAILABLE / INVALID_ARGUMENT naming the address) when the address does
// not parse or cannot be bound (addresses are numeric, udp_socket.h). Send failures are counted,
// never fatal. Thread-safe: Counters(), SetLandmarkKeys(), SetSigner() and Stop() from any thread;
// the destructor stops the thread.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "agent/location/probe_handler.h"
#include "common/location/udp_socket.h"

namespace prov::agent {

class Responder {
 public:
  static absl::StatusOr<std::unique_ptr<Responder>> Start(const std::string& listen_address,
                                                          ProbeHandlerOptions options,
                                                          std::unique_ptr<AnswerSigner> signer,
                                                          const Clock& clock);
  ~Responder();
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  const location::UdpAddress& local_address() const { return socket_.local_address(); }
  ResponderCounters Counters() const;
  void SetLandmarkKeys(LandmarkKeys keys) { handler_.SetLandmarkKeys(std::move(keys)); }
  void SetSigner(std::unique_ptr<AnswerSigner> signer) { handler_.SetSigner(std::move(signer)); }
  void Stop();

 private:
  Responder(location::UdpSocket socket, int stop_read, int stop_write, ProbeHandlerOptions options,
            std::unique_ptr<AnswerSigner> signer, const Clock& clock);
  void Run();

  location::UdpSocket socket_;
  int stop_read_, stop_write_;
  ProbeHandler handler_;
  std::atomic<uint64_t> send_errors_{0};
  std::thread thread_;
};

}  // namespace prov::agent
