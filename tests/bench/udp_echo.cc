// Raw UDP echo baseline for the end-to-end benchmark: a recvmmsg/sendmmsg
// echo server and a client keeping a fixed number of requests in flight.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "clients/loadgen/latency_histogram.h"
#include "process/process_setup.h"

ABSL_FLAG(int, inflight, 1000, "requests kept in flight by the client");
ABSL_FLAG(int, sockets, 64,
          "client sockets (many peers, as the gateway sees them)");
ABSL_FLAG(int, payload, 48, "datagram size in bytes (>= 16)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "measured time");
ABSL_FLAG(bool, json, false, "print the result as JSON");

namespace {

constexpr int kBatch = 64;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int MakeSocket(sockaddr_in& address) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  // A short timeout so both loops notice the end of the run.
  timeval timeout{0, 100'000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  int size = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  return fd;
}

// Batched receive into fixed buffers; the same message headers are reused
// for the batched send back to each sender.
struct Batch {
  char data[kBatch][2048];
  iovec iov[kBatch];
  sockaddr_in from[kBatch];
  mmsghdr headers[kBatch];
  void Reset() {
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {data[i], sizeof(data[i])};
      headers[i] = {};
      headers[i].msg_hdr.msg_iov = &iov[i];
      headers[i].msg_hdr.msg_iovlen = 1;
      headers[i].msg_hdr.msg_name = &from[i];
      headers[i].msg_hdr.msg_namelen = sizeof(from[i]);
    }
  }
};

void Serve(int fd, const std::atomic<bool>& stop) {
  auto batch = std::make_unique<Batch>();
  while (!stop.load(std::memory_order_relaxed)) {
    batch->Reset();
    const int n = recvmmsg(fd, batch->headers, kBatch, 0, nullptr);
    if (n <= 0) continue;
    for (int i = 0; i < n; ++i)
      batch->iov[i].iov_len = batch->headers[i].msg_len;
    int sent = 0;
    while (sent < n) {
      const int m = sendmmsg(fd, batch->headers + sent, n - sent, 0);
      if (m <= 0) break;
      sent += m;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Raw UDP echo baseline: a recvmmsg/sendmmsg echo server and a client "
      "keeping --inflight requests in flight.");
  gss::process::ParseFlagsOrExit(argc, argv, "udp_echo");
  const int inflight = absl::GetFlag(FLAGS_inflight);
  const int payload = std::max(16, absl::GetFlag(FLAGS_payload));
  const int socket_count = std::max(1, absl::GetFlag(FLAGS_sockets));

  sockaddr_in server_address;
  const int server_fd = MakeSocket(server_address);
  std::atomic<bool> stop{false};
  std::thread server([&] { Serve(server_fd, stop); });

  // The client: one thread, `socket_count` sockets, each with its share of
  // the in-flight requests. A reply immediately triggers the next request.
  std::vector<int> fds;
  for (int i = 0; i < socket_count; ++i) {
    sockaddr_in local;
    const int fd = MakeSocket(local);
    timeval no_wait{0, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &no_wait, sizeof(no_wait));
    connect(fd, reinterpret_cast<sockaddr*>(&server_address),
            sizeof(server_address));
    fds.push_back(fd);
  }
  std::vector<char> request(payload, 'x');
  auto send_one = [&](int fd) {
    const int64_t now = NowNs();
    std::memcpy(request.data(), &now, sizeof(now));
    send(fd, request.data(), request.size(), MSG_DONTWAIT);
  };
  for (int i = 0; i < inflight; ++i) send_one(fds[i % socket_count]);

  gss::loadgen::LatencyHistogram latency;
  auto batch = std::make_unique<Batch>();
  uint64_t round_trips = 0;
  const int64_t start = NowNs();
  const int64_t end =
      start + absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_duration));
  int64_t now = start;
  std::vector<pollfd> polled;
  for (int fd : fds) polled.push_back({fd, POLLIN, 0});
  while (now < end) {
    // Block rather than spin: the server shares the machine's cores.
    poll(polled.data(), polled.size(), 100);
    bool any = false;
    for (int fd : fds) {
      batch->Reset();
      const int n = recvmmsg(fd, batch->headers, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) continue;
      any = true;
      now = NowNs();
      for (int i = 0; i < n; ++i) {
        int64_t sent_at = 0;
        std::memcpy(&sent_at, batch->data[i], sizeof(sent_at));
        latency.Record(static_cast<uint64_t>(now - sent_at));
        // Reuse the received datagram as the next request.
        std::memcpy(batch->data[i], &now, sizeof(now));
        batch->iov[i].iov_len = batch->headers[i].msg_len;
        batch->headers[i].msg_hdr.msg_name = nullptr;
        batch->headers[i].msg_hdr.msg_namelen = 0;
      }
      round_trips += static_cast<uint64_t>(n);
      int sent = 0;
      while (sent < n) {
        const int m = sendmmsg(fd, batch->headers + sent, n - sent, 0);
        if (m <= 0) break;
        sent += m;
      }
    }
    if (!any) now = NowNs();
  }
  const double seconds = (NowNs() - start) / 1e9;
  stop.store(true);
  server.join();
  const double rate = round_trips / seconds;
  if (absl::GetFlag(FLAGS_json)) {
    std::printf(
        "{\"round_trips_per_second\":%.1f,\"inflight\":%d,\"sockets\":%d,"
        "\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f}}\n",
        rate, inflight, socket_count, latency.Percentile(0.5) / 1000.0,
        latency.Percentile(0.99) / 1000.0);
  } else {
    std::printf(
        "udp_echo: %.0f round trips/s (inflight=%d sockets=%d) "
        "p50=%.1fus p99=%.1fus\n",
        rate, inflight, socket_count, latency.Percentile(0.5) / 1000.0,
        latency.Percentile(0.99) / 1000.0);
  }
  return 0;
}
