#include "agent/location/responder.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace prov::agent {

absl::StatusOr<std::unique_ptr<Responder>> Responder::Start(const std::string& listen_address,
                                                            ProbeHandlerOptions options,
                                                            std::unique_ptr<AnswerSigner> signer,
                                                            const Clock& clock) {
  auto address = location::ResolveUdpAddress(listen_address);
  if (!address.ok()) return address.status();
  auto socket = location::UdpSocket::Bind(*address);
  if (!socket.ok()) return socket.status();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  return std::unique_ptr<Responder>(new Responder(std::move(*socket), fds[0], fds[1],
                                                  std::move(options), std::move(signer), clock));
}

Responder::Responder(location::UdpSocket socket, int stop_read, int stop_write,
                     ProbeHandlerOptions options, std::unique_ptr<AnswerSigner> signer,
                     const Clock& clock)
    : socket_(std::move(socket)),
      stop_read_(stop_read),
      stop_write_(stop_write),
      handler_(std::move(options), std::move(signer), clock),
      thread_([this] { Run(); }) {}

Responder::~Responder() {
  Stop();
  ::close(stop_read_);
  ::close(stop_write_);
}

void Responder::Stop() {
  if (!thread_.joinable()) return;
  const char byte = 1;
  (void)!::write(stop_write_, &byte, 1);
  thread_.join();
}

ResponderCounters Responder::Counters() const {
  ResponderCounters c = handler_.Counters();
  c.send_errors = send_errors_.load(std::memory_order_relaxed);
  return c;
}

void Responder::Run() {
  pthread_setname_np(pthread_self(), "location-resp");
  while (true) {
    pollfd fds[2] = {{socket_.fd(), POLLIN, 0}, {stop_read_, POLLIN, 0}};
    const int rc = ::poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    auto got = socket_.Receive(absl::ZeroDuration());
    if (!got.ok() || !got->has_value()) continue;
    const location::Datagram& d = **got;
    std::optional<std::string> answer = handler_.Handle(d.bytes, d.from.HostString());
    if (answer.has_value() && !socket_.SendTo(*answer, d.from).ok()) {
      send_errors_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace prov::agent
