#include "tests/location/udp_delay_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <queue>
#include <random>
#include <string>
#include <vector>

namespace prov::testing {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

struct Held {
  SteadyTime due;
  uint64_t order;  // FIFO among equal due times
  bool to_upstream;
  std::string bytes;
  bool operator>(const Held& o) const { return due != o.due ? due > o.due : order > o.order; }
};

}  // namespace

absl::StatusOr<std::unique_ptr<UdpDelayRelay>> UdpDelayRelay::Start(
    const location::UdpAddress& upstream, RelayOptions options) {
  auto loopback = location::ResolveUdpAddress(
      upstream.storage.ss_family == AF_INET6 ? "[::1]:0" : "127.0.0.1:0");
  if (!loopback.ok()) return loopback.status();
  auto front = location::UdpSocket::Bind(*loopback);
  if (!front.ok()) return front.status();
  auto back = location::UdpSocket::Bind(*loopback);
  if (!back.ok()) return back.status();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return absl::InternalError("pipe failed");
  return std::unique_ptr<UdpDelayRelay>(
      new UdpDelayRelay(std::move(*front), std::move(*back), upstream, options, fds[0], fds[1]));
}

UdpDelayRelay::UdpDelayRelay(location::UdpSocket front, location::UdpSocket back,
                             location::UdpAddress upstream, RelayOptions options, int stop_read,
                             int stop_write)
    : front_(std::move(front)),
      back_(std::move(back)),
      upstream_(upstream),
      options_(options),
      stop_read_(stop_read),
      stop_write_(stop_write),
      thread_([this] { Run(); }) {}

UdpDelayRelay::~UdpDelayRelay() {
  Stop();
  ::close(stop_read_);
  ::close(stop_write_);
}

void UdpDelayRelay::Stop() {
  if (!thread_.joinable()) return;
  const char byte = 1;
  (void)!::write(stop_write_, &byte, 1);
  thread_.join();
}

void UdpDelayRelay::Run() {
  pthread_setname_np(pthread_self(), "udp-relay");
  std::mt19937_64 rng(options_.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::priority_queue<Held, std::vector<Held>, std::greater<>> held;
  std::optional<location::UdpAddress> client;
  uint64_t order = 0;
  auto hold_for = [&] {
    const double jitter_us = absl::ToDoubleMicroseconds(options_.jitter) * unit(rng);
    return std::chrono::microseconds(
        static_cast<int64_t>(absl::ToDoubleMicroseconds(options_.delay) + jitter_us));
  };
  while (true) {
    const SteadyTime now = std::chrono::steady_clock::now();
    while (!held.empty() && held.top().due <= now) {
      const Held& h = held.top();
      forwarded_.fetch_add(1);  // before sending, so a reader that saw the datagram sees the count
      if (h.to_upstream) {
        (void)back_.SendTo(h.bytes, upstream_);
      } else if (client.has_value()) {
        (void)front_.SendTo(h.bytes, *client);
      }
      held.pop();
    }
    // ppoll's nanosecond timeout (hrtimer, ~50 us slack): no spinning, which on a shared 2-core
    // machine would take the core the prober and the responder need.
    timespec wait_for{};
    timespec* timeout = nullptr;
    if (!held.empty()) {
      const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(held.top().due - now);
      wait_for.tv_sec = static_cast<time_t>(wait.count() / 1'000'000'000);
      wait_for.tv_nsec = static_cast<long>(wait.count() % 1'000'000'000);  // NOLINT(runtime/int)
      timeout = &wait_for;
    }
    pollfd fds[3] = {{front_.fd(), POLLIN, 0}, {back_.fd(), POLLIN, 0}, {stop_read_, POLLIN, 0}};
    const int rc = ::ppoll(fds, 3, timeout, nullptr);
    if (rc < 0 && errno != EINTR) return;
    if (fds[2].revents != 0) return;
    if ((fds[0].revents & POLLIN) != 0) {
      if (auto got = front_.Receive(absl::ZeroDuration()); got.ok() && got->has_value()) {
        client = (*got)->from;
        held.push({std::chrono::steady_clock::now() + hold_for(), order++, true,
                   std::move((*got)->bytes)});
      }
    }
    if ((fds[1].revents & POLLIN) != 0) {
      if (auto got = back_.Receive(absl::ZeroDuration()); got.ok() && got->has_value()) {
        held.push({std::chrono::steady_clock::now() + hold_for(), order++, false,
                   std::move((*got)->bytes)});
      }
    }
  }
}

}  // namespace prov::testing
