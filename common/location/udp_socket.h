// A small UDP socket for location probes (prov-agent's responder, prov-landmark's prober, the
// test delay relay): bind, send one datagram, wait for one with a timeout. No threads of its own.
//
//   PROV_ASSIGN_OR_RETURN(UdpAddress local, ResolveUdpAddress("127.0.0.1:0"));
//   PROV_ASSIGN_OR_RETURN(UdpSocket socket, UdpSocket::Bind(local));
//   PROV_RETURN_IF_ERROR(socket.SendTo(bytes, peer));
//   auto got = socket.Receive(absl::Milliseconds(100));   // nullopt on timeout
//
// Addresses are numeric "ip:port": an IPv4 literal ("10.0.0.5:7701") or "[v6]:port"
// ("[2001:db8::5]:7701"); ":port" is the wildcard (listen only). Host names are refused, never
// looked up (getaddrinfo with AI_NUMERICHOST | AI_NUMERICSERV): no DNS stall, no DNS-chosen peer.
// Thread-safety: one thread receives; SendTo may be called from any thread.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace prov::location {

struct UdpAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  std::string ToString() const;    // "127.0.0.1:7701", "[::1]:7701"
  std::string HostString() const;  // "127.0.0.1", "::1": the address without the port
  uint16_t port() const;
  bool operator==(const UdpAddress& other) const;
};

// INVALID_ARGUMENT naming the text when it is not ip:port with a port 0..65535, or the host is
// not a numeric IPv4/IPv6 address (a host name: the error names it).
absl::StatusOr<UdpAddress> ResolveUdpAddress(absl::string_view host_port);
// True for "0.0.0.0:P", "[::]:P", ":P" (a listen address nobody can probe as such).
bool IsWildcardAddress(absl::string_view host_port);

struct Datagram {
  std::string bytes;
  UdpAddress from;
};

class UdpSocket {
 public:
  // Binds `local` (port 0: the kernel picks one).
  static absl::StatusOr<UdpSocket> Bind(const UdpAddress& local);
  UdpSocket(UdpSocket&& other) noexcept;
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  ~UdpSocket();

  int fd() const { return fd_; }
  const UdpAddress& local_address() const { return local_; }
  absl::Status SendTo(absl::string_view bytes, const UdpAddress& to) const;
  // One datagram (up to 2048 bytes; longer ones are cut, which the strict parsers refuse), or
  // nullopt when none arrived within `timeout` (zero: do not wait).
  absl::StatusOr<std::optional<Datagram>> Receive(absl::Duration timeout) const;

 private:
  UdpSocket(int fd, UdpAddress local) : fd_(fd), local_(local) {}
  int fd_ = -1;
  UdpAddress local_;
};

}  // namespace prov::location
