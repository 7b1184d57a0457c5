#include "common/location/udp_socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace prov::location {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

bool SplitHostPort(absl::string_view text, std::string* host, std::string* port) {
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    *host = std::string(text.substr(1, close - 1));
    *port = std::string(text.substr(close + 2));
    return true;
  }
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return false;
  *host = std::string(text.substr(0, colon));
  if (host->find(':') != std::string::npos) return false;  // bare IPv6 needs brackets
  *port = std::string(text.substr(colon + 1));
  return true;
}

}  // namespace

std::string UdpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
    return absl::StrCat(buf, ":", ntohs(in->sin_port));
  }
  if (storage.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    return absl::StrCat("[", buf, "]:", ntohs(in6->sin6_port));
  }
  return "(no address)";
}

std::string UdpAddress::HostString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof(buf));
  } else if (storage.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf,
              sizeof(buf));
  }
  return buf;
}

uint16_t UdpAddress::port() const {
  if (storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

bool UdpAddress::operator==(const UdpAddress& other) const {
  return length == other.length && std::memcmp(&storage, &other.storage, length) == 0;
}

absl::StatusOr<UdpAddress> ResolveUdpAddress(absl::string_view host_port) {
  std::string host, port;
  int port_number = 0;
  if (!SplitHostPort(host_port, &host, &port) || !absl::SimpleAtoi(port, &port_number) ||
      port_number < 0 || port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "address '", host_port, "' is not host:port (IPv6 as [addr]:port, port 0..65535)"));
  }
  // Numeric only: a host name would mean a DNS lookup, which can stall a landmark's whole round
  // (targets are resolved one after another) and lets whoever answers DNS pick the address.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (host.empty() ? AI_PASSIVE : 0);
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &result);
  if (rc == EAI_NONAME && !host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "address '", host_port, "': host '", host,
        "' is not a numeric IPv4 or IPv6 address (host names are not looked up; IPv6 as "
        "[addr]:port)"));
  }
  if (rc != 0 || result == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", host_port, "': ", gai_strerror(rc)));
  }
  UdpAddress out;
  std::memcpy(&out.storage, result->ai_addr, result->ai_addrlen);
  out.length = static_cast<socklen_t>(result->ai_addrlen);
  freeaddrinfo(result);
  return out;
}

bool IsWildcardAddress(absl::string_view host_port) {
  std::string host, port;
  if (!SplitHostPort(host_port, &host, &port)) return false;
  return host.empty() || host == "0.0.0.0" || host == "::";
}

absl::StatusOr<UdpSocket> UdpSocket::Bind(const UdpAddress& local) {
  const int fd = ::socket(local.storage.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local.storage), local.length) != 0) {
    absl::Status s = Errno(absl::StrCat("bind ", local.ToString()));
    ::close(fd);
    return s;
  }
  UdpAddress bound;
  bound.length = sizeof(bound.storage);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound.storage), &bound.length) != 0) {
    absl::Status s = Errno("getsockname");
    ::close(fd);
    return s;
  }
  return UdpSocket(fd, bound);
}

UdpSocket::UdpSocket(UdpSocket&& other) noexcept : fd_(other.fd_), local_(other.local_) {
  other.fd_ = -1;
}

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    local_ = other.local_;
    other.fd_ = -1;
  }
  return *this;
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status UdpSocket::SendTo(absl::string_view bytes, const UdpAddress& to) const {
  const ssize_t n = ::sendto(fd_, bytes.data(), bytes.size(), 0,
                             reinterpret_cast<const sockaddr*>(&to.storage), to.length);
  if (n < 0) return Errno(absl::StrCat("sendto ", to.ToString()));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Datagram>> UdpSocket::Receive(absl::Duration timeout) const {
  pollfd p{fd_, POLLIN, 0};
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(timeout, absl::Milliseconds(1)));
  const int rc = ::poll(&p, 1, timeout <= absl::ZeroDuration() ? 0 : static_cast<int>(ms));
  if (rc < 0) {
    if (errno == EINTR) return std::nullopt;
    return Errno("poll");
  }
  if (rc == 0) return std::nullopt;
  Datagram d;
  d.bytes.resize(2048);
  d.from.length = sizeof(d.from.storage);
  const ssize_t n = ::recvfrom(fd_, d.bytes.data(), d.bytes.size(), MSG_DONTWAIT,
                               reinterpret_cast<sockaddr*>(&d.from.storage), &d.from.length);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return std::nullopt;
    return Errno("recvfrom");
  }
  d.bytes.resize(static_cast<size_t>(n));
  return std::optional<Datagram>(std::move(d));
}

}  // namespace prov::location
