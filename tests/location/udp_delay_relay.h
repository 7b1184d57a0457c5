// UdpDelayRelay: simulated distance for location tests. A UDP relay on loopback between one client
// (a landmark's prober) and a fixed upstream (a responder); every datagram, both ways, is held for
// `delay` plus a uniform jitter in [0, jitter) before it is forwarded. So a landmark "1,000 km
// away" is one behind a relay adding 5 ms each way (10 ms of round trip). Test code only.
//
//   auto relay = UdpDelayRelay::Start(responder_address, {.delay = absl::Milliseconds(5)});
//   std::string target = (*relay)->address().ToString();   // probe this instead of the upstream
//   (*relay)->Stop();
//
// The client is whoever sent the last datagram to the relay's address; answers from upstream go
// to it. One thread ("udp-relay") polls both sockets and a stop pipe, and sends held datagrams
// when due (steady clock, ppoll with a nanosecond timeout). Thread-safe: forwarded() and Stop()
// from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/location/udp_socket.h"

namespace prov::testing {

struct RelayOptions {
  absl::Duration delay = absl::ZeroDuration();   // each way
  absl::Duration jitter = absl::ZeroDuration();  // uniform extra in [0, jitter), each way
  uint64_t seed = 1;
};

class UdpDelayRelay {
 public:
  static absl::StatusOr<std::unique_ptr<UdpDelayRelay>> Start(const location::UdpAddress& upstream,
                                                              RelayOptions options);
  ~UdpDelayRelay();
  UdpDelayRelay(const UdpDelayRelay&) = delete;
  UdpDelayRelay& operator=(const UdpDelayRelay&) = delete;

  const location::UdpAddress& address() const { return front_.local_address(); }
  uint64_t forwarded() const { return forwarded_.load(); }
  void Stop();

 private:
  UdpDelayRelay(location::UdpSocket front, location::UdpSocket back, location::UdpAddress upstream,
                RelayOptions options, int stop_read, int stop_write);
  void Run();

  location::UdpSocket front_;  // the client talks to this one
  location::UdpSocket back_;   // talks to the upstream
  location::UdpAddress upstream_;
  RelayOptions options_;
  int stop_read_, stop_write_;
  std::atomic<uint64_t> forwarded_{0};
  std::thread thread_;
};

}  // namespace prov::testing
