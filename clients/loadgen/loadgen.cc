// Load generator: many simulated game players (UDP or TCP) driving a gateway
// with a mix of behaviours, plus optional load on the ops inspection API.
// Reports throughput, rejections, resumes and send-to-result latency.

#include <errno.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>
// Boost 1.74 with C++20 needs <utility> before Asio.
#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clients/loadgen/latency_histogram.h"
#include "clients/ops_channel/ops_channel.h"
#include "common/udp_client_handshake.h"
#include "common/wire_format.h"
#include "grpcpp/grpcpp.h"
#include "gss/game/v1/game.pb.h"
#include "gss/game/v1/login_padding.h"
#include "gss/ops/v1/ops.grpc.pb.h"
#include "process/process_setup.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7777",
          "gateway game address host:port (numeric host)");
ABSL_FLAG(std::string, transport, "udp", "udp or tcp");
ABSL_FLAG(int, players, 100, "simulated players");
ABSL_FLAG(double, rate, 10.0,
          "inputs per second per active player (movers, shooters, "
          "malformed)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10),
          "measured window, after every player has logged in");
ABSL_FLAG(double, ramp, 1000.0, "logins started per second");
ABSL_FLAG(std::string, mix,
          "movers=70,shooters=10,idlers=10,vanish=3,resume=5,malformed=2",
          "behaviour shares in percent; must sum to 100");
ABSL_FLAG(bool, json, false, "print the final report as JSON on stdout");
ABSL_FLAG(std::string, ops_target, "",
          "session service ops address host:port; empty: no ops load");
ABSL_FLAG(std::string, ops_token, "",
          "bearer token (reader role) for the ops load; default: "
          "--ops_token_file, then $GSS_OPS_TOKEN");
ABSL_FLAG(std::string, ops_token_file, "",
          "file holding the ops token (one line)");
ABSL_FLAG(std::string, ops_tls_ca_file, "",
          "CA certificates (PEM) of an ops listener that serves TLS");
ABSL_FLAG(double, ops_rate, 10.0,
          "ops calls per second (List and Get alternating), plus one Watch");
ABSL_FLAG(absl::Duration, heartbeat, absl::Seconds(10),
          "ping period of every logged-in player");
ABSL_FLAG(int, threads, 1, "I/O threads; players are split between them");
ABSL_FLAG(absl::Duration, send_tick, absl::Microseconds(500),
          "players' sends are grouped on this grid (0: each at its own time); "
          "latency is measured from the actual send");
ABSL_FLAG(std::string, name_prefix, "",
          "player name prefix (default lg<pid>); unique per process");
ABSL_FLAG(bool, goodbye, true,
          "say goodbye (TCP Goodbye, UDP Disconnect 0) at the end");
ABSL_FLAG(absl::Duration, login_timeout, absl::Seconds(30),
          "give up waiting for logins after this long past the ramp");
ABSL_FLAG(bool, progress, true, "print a progress line every second");

namespace gss::loadgen {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using game::v1::ClientMessage;
using game::v1::ServerMessage;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

enum class Behaviour : uint8_t {
  kMover,
  kShooter,
  kIdler,
  kVanish,
  kResume,
  kMalformed
};
constexpr int kBehaviourCount = 6;
constexpr std::array<const char*, kBehaviourCount> kBehaviourNames = {
    "movers", "shooters", "idlers", "vanish", "resume", "malformed"};

enum class Phase : uint8_t {
  kIdle,         // Not started yet.
  kConnecting,   // TCP connect in flight.
  kHandshaking,  // UDP challenge handshake.
  kLoggingIn,    // Login or Resume sent.
  kActive,
  kVanished,  // Stopped sending on purpose; waits to be timed out.
  kClosed,
};

// Input rejection reasons from docs/protocol.md, counted lock-free.
constexpr std::array<const char*, 14> kReasons = {
    "stale_tick",        "tick_too_far_ahead",
    "too_many_steps",    "outside_lag_window",
    "fire_cooldown",     "unknown_target",
    "self_target",       "target_not_active",
    "target_eliminated", "target_out_of_range",
    "not_permitted",     "malformed",
    "not_logged_in",     "other"};

int ReasonIndex(absl::string_view reason) {
  for (size_t i = 0; i + 1 < kReasons.size(); ++i) {
    if (reason == kReasons[i]) return static_cast<int>(i);
  }
  return static_cast<int>(kReasons.size()) - 1;
}

struct Config {
  asio::ip::address address;
  uint16_t port = 0;
  bool udp = true;
  int players = 0;
  double rate = 0;
  double ramp = 0;
  absl::Duration duration;
  absl::Duration heartbeat;
  std::array<int, kBehaviourCount> mix{};
  std::string name_prefix;
  int threads = 1;
  int64_t send_tick_ns = 0;
  bool goodbye = true;
};

// Counters shared with the progress thread (relaxed atomics).
struct Counters {
  std::atomic<uint64_t> login_attempts{0};
  std::atomic<uint64_t> logins_ok{0};
  std::atomic<uint64_t> logins_failed{0};
  std::atomic<uint64_t> inputs_sent{0};
  std::atomic<uint64_t> inputs_acked{0};
  std::atomic<uint64_t> pings_sent{0};
  std::atomic<uint64_t> pongs{0};
  std::atomic<uint64_t> resumes_ok{0};
  std::atomic<uint64_t> resumes_failed{0};
  std::atomic<uint64_t> vanished{0};
  std::atomic<uint64_t> timed_out{0};
  std::atomic<uint64_t> hits_received{0};
  std::atomic<uint64_t> transport_errors{0};
  std::atomic<uint64_t> send_drops{0};
  std::array<std::atomic<uint64_t>, kReasons.size()> rejections{};

  struct Snapshot {
    uint64_t inputs_sent, inputs_acked, pings_sent, pongs;
  };
  Snapshot Take() const {
    return {inputs_sent.load(std::memory_order_relaxed),
            inputs_acked.load(std::memory_order_relaxed),
            pings_sent.load(std::memory_order_relaxed),
            pongs.load(std::memory_order_relaxed)};
  }
};

// Latency is recorded only inside the measured window, so the login ramp
// does not colour the percentiles.
std::atomic<bool> g_measuring{false};

void Inc(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.fetch_add(n, std::memory_order_relaxed);
}

// An input (or ping) waiting for its authoritative result.
struct Pending {
  uint8_t kind = 0;  // 1 move, 2 shoot, 3 ping, 4 malformed.
  int64_t key = 0;   // Tick, or the ping's client_time_us.
  int64_t sent_ns = 0;
};

class Worker;

// One simulated player. Sockets are read into the worker's shared buffers
// when ready, so an idle player holds no receive buffer.
struct Player {
  explicit Player(Worker* w) : worker(w) {}
  ~Player() {
    if (udp_fd >= 0) ::close(udp_fd);
  }
  Player(const Player&) = delete;
  Player& operator=(const Player&) = delete;

  Worker* worker;
  uint32_t index = 0;
  uint32_t slot = 0;  // Position in the worker's players_.
  Behaviour behaviour = Behaviour::kMover;
  Phase phase = Phase::kIdle;
  // Bumped whenever the transport is replaced, so completions of the old
  // socket are ignored.
  uint32_t generation = 0;
  // Owned; watched by the worker's epoll set, not by Asio (see udp_ready_).
  int udp_fd = -1;
  std::unique_ptr<tcp::socket> tcp_socket;
  std::unique_ptr<wire::TcpFrameDecoder> decoder;
  std::string tcp_out;  // Bytes the kernel did not take yet.
  bool tcp_write_waiting = false;
  // When the worker's due queue next runs OnTimer for this player; 0: not
  // scheduled. Queue entries for any other time are stale.
  int64_t timer_due_ns = 0;

  std::optional<UdpClientHandshake> handshake;  // UDP, per connect.
  uint64_t connection_id = 0;
  uint64_t send_sequence = 0;
  bool resuming = false;
  bool resumed_once = false;

  std::string session_id;
  std::string resume_token;
  int64_t welcome_tick = 0;
  int64_t welcome_at_ns = 0;
  int32_t tick_ms = 50;
  int64_t last_move_tick = 0;
  int32_t direction = 1;
  int64_t last_pong_server_us = 0;
  int64_t last_pong_at_ns = 0;

  int64_t next_input_ns = 0;
  int64_t next_ping_ns = 0;
  int64_t event_ns = 0;       // Vanish or resume, 0 when none.
  int64_t retransmit_ns = 0;  // UDP handshake and login repeats.
  int64_t attempt_deadline_ns = 0;
  std::string pending_request;  // The UDP Login or Resume being repeated.

  std::array<Pending, 8> ring;
  uint8_t ring_head = 0;
  uint8_t ring_size = 0;
};

class Worker {
 public:
  Worker(const Config& config, int id,
         const std::vector<uint32_t>& global_indices, int64_t start_ns)
      : config_(config), id_(id), start_ns_(start_ns), rng_(0x5eed + id) {
    players_.reserve(global_indices.size());
    for (uint32_t global : global_indices) {
      auto player = std::make_unique<Player>(this);
      player->index = global;
      player->slot = static_cast<uint32_t>(players_.size());
      player->behaviour = BehaviourOf(global);
      players_.push_back(std::move(player));
    }
  }

  Counters& counters() { return counters_; }
  const LatencyHistogram& histogram() const { return histogram_; }
  const std::map<std::string, uint64_t>& events() const { return events_; }
  int64_t first_login_ns() const { return first_login_ns_; }
  int64_t last_welcome_ns() const { return last_welcome_ns_; }

  void Run() {
    auto guard = asio::make_work_guard(io_);
    ramp_timer_ = std::make_unique<asio::steady_timer>(io_);
    wake_timer_ = std::make_unique<asio::steady_timer>(io_);
    if (config_.udp) {
      const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
      if (epoll_fd < 0) {
        std::perror("loadgen: epoll_create1");
        std::exit(1);
      }
      udp_ready_ =
          std::make_unique<asio::posix::stream_descriptor>(io_, epoll_fd);
      WaitUdpReady();
    }
    Ramp();
    io_.run();
  }

  // From another thread: say goodbye, close everything, stop the loop.
  void Finish() {
    asio::post(io_, [this] {
      if (ramp_timer_) ramp_timer_->cancel();
      if (wake_timer_) wake_timer_->cancel();
      if (udp_ready_) udp_ready_->cancel();
      for (auto& player : players_) {
        if (config_.goodbye && (player->phase == Phase::kActive)) {
          SayGoodbye(*player);
        }
        CloseTransport(*player);
        player->phase = Phase::kClosed;
        player->timer_due_ns = 0;
      }
      io_.stop();
    });
  }

 private:
  Behaviour BehaviourOf(uint32_t global) const {
    // Deterministic spread: behaviour by position in a cycle of 100, so even
    // small runs get every share that is not 0.
    int slot = static_cast<int>((global * 37) % 100);
    for (int b = 0; b < kBehaviourCount; ++b) {
      if (slot < config_.mix[b]) return static_cast<Behaviour>(b);
      slot -= config_.mix[b];
    }
    return Behaviour::kMover;
  }

  // Starts players whose ramp time has come: player i at i / ramp seconds.
  void Ramp() {
    const int64_t now = NowNs();
    while (next_to_start_ < players_.size()) {
      Player& player = *players_[next_to_start_];
      const int64_t due =
          start_ns_ + static_cast<int64_t>(player.index / config_.ramp * 1e9);
      if (due > now) break;
      ++next_to_start_;
      StartPlayer(player);
    }
    if (next_to_start_ < players_.size()) {
      ramp_timer_->expires_after(std::chrono::milliseconds(5));
      ramp_timer_->async_wait([this](const boost::system::error_code& ec) {
        if (!ec) Ramp();
      });
    }
  }

  void StartPlayer(Player& player) {
    Inc(counters_.login_attempts);
    if (first_login_ns_ == 0) first_login_ns_ = NowNs();
    Connect(player);
  }

  // --- transport -----------------------------------------------------------

  void Connect(Player& player) {
    ++player.generation;
    player.connection_id = 0;
    player.send_sequence = 0;
    player.ring_size = 0;
    player.attempt_deadline_ns = NowNs() + 10'000'000'000;
    boost::system::error_code ec;
    if (config_.udp) {
      udp::socket socket(io_);
      socket.open(config_.address.is_v6() ? udp::v6() : udp::v4(), ec);
      if (!ec && config_.address.is_loopback() && config_.address.is_v4()) {
        // One source address has about 28k ephemeral ports: spread players
        // over 127.0.x.1 (all of 127/8 is local) so 100k fit.
        // The pid picks the first block, so concurrent loadgens differ.
        const uint32_t block = (getpid() + player.index / 16384) % 256;
        const uint32_t source = (127u << 24) | (block << 8) | 1;
        socket.bind(udp::endpoint(asio::ip::address_v4(source), 0), ec);
      }
      if (!ec) socket.connect(udp::endpoint(config_.address, config_.port), ec);
      if (!ec) socket.non_blocking(true, ec);
      if (!ec) player.udp_fd = socket.release(ec);
      if (!ec) {
        epoll_event interest{};
        interest.events = EPOLLIN | EPOLLET;
        interest.data.u32 = player.slot;
        if (::epoll_ctl(udp_ready_->native_handle(), EPOLL_CTL_ADD,
                        player.udp_fd, &interest) != 0) {
          ec.assign(errno, boost::system::system_category());
        }
      }
      if (ec) return TransportFailed(player, "udp_socket");
      player.phase = Phase::kHandshaking;
      player.handshake.emplace(rng_() | 1);
      SendHandshake(player, NowNs());
      Schedule(player);
    } else {
      player.tcp_socket = std::make_unique<tcp::socket>(io_);
      player.decoder = std::make_unique<wire::TcpFrameDecoder>(1 << 20);
      player.tcp_out.clear();
      player.tcp_write_waiting = false;
      player.phase = Phase::kConnecting;
      const uint32_t generation = player.generation;
      Player* p = &player;
      player.tcp_socket->async_connect(
          tcp::endpoint(config_.address, config_.port),
          [this, p, generation](const boost::system::error_code& error) {
            if (p->generation != generation) return;
            if (error) return TransportFailed(*p, "tcp_connect");
            boost::system::error_code ignored;
            p->tcp_socket->set_option(tcp::no_delay(true), ignored);
            p->tcp_socket->non_blocking(true, ignored);
            WaitReadable(*p);
            SendLoginOrResume(*p);
          });
      Schedule(player);
    }
  }

  void CloseTransport(Player& player) {
    ++player.generation;
    boost::system::error_code ignored;
    if (player.udp_fd >= 0) {
      // Closing also takes it out of the epoll set.
      ::close(player.udp_fd);
      player.udp_fd = -1;
    }
    if (player.tcp_socket) {
      player.tcp_socket->close(ignored);
      player.tcp_socket.reset();
    }
    player.tcp_out.clear();
    player.tcp_write_waiting = false;
  }

  void TransportFailed(Player& player, absl::string_view what) {
    Inc(counters_.transport_errors);
    ++events_[absl::StrCat("transport_error:", what)];
    if (player.phase == Phase::kIdle || player.phase == Phase::kConnecting ||
        player.phase == Phase::kHandshaking ||
        player.phase == Phase::kLoggingIn) {
      if (player.resuming) {
        Inc(counters_.resumes_failed);
      } else {
        Inc(counters_.logins_failed);
      }
    }
    CloseTransport(player);
    player.phase = Phase::kClosed;
    player.timer_due_ns = 0;
  }

  void WaitReadable(Player& player) {
    const uint32_t generation = player.generation;
    Player* p = &player;
    player.tcp_socket->async_wait(
        tcp::socket::wait_read,
        [this, p, generation](const boost::system::error_code& ec) {
          if (p->generation != generation || ec) return;
          if (OnReadable(*p) && p->generation == generation) WaitReadable(*p);
        });
  }

  // UDP players' sockets sit in one epoll set, and Asio watches that set's
  // descriptor: an Asio wait per player socket cost an epoll_ctl and an
  // operation allocation per datagram received.
  void WaitUdpReady() {
    udp_ready_->async_wait(asio::posix::stream_descriptor::wait_read,
                           [this](const boost::system::error_code& ec) {
                             if (!ec) OnUdpReady();
                           });
  }

  void OnUdpReady() {
    // A few rounds per wake-up, then the timers get a turn; what is left
    // keeps the set readable, so the next wait completes at once.
    constexpr int kRounds = 4;
    for (int round = 0; round < kRounds; ++round) {
      const int ready =
          ::epoll_wait(udp_ready_->native_handle(), ready_events_.data(),
                       static_cast<int>(ready_events_.size()), 0);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;
      for (int i = 0; i < ready; ++i) {
        Player& player = *players_[ready_events_[i].data.u32];
        // A stale event (the socket was replaced meanwhile) reads nothing.
        if (player.udp_fd >= 0) OnReadable(player);
      }
      if (ready < static_cast<int>(ready_events_.size())) break;
    }
    WaitUdpReady();
  }

  // Drains what the socket holds; false when the transport ended.
  bool OnReadable(Player& player) {
    boost::system::error_code ec;
    if (player.udp_fd >= 0) {
      // One recvmmsg per wake-up in the usual case of one waiting datagram;
      // a short batch means the socket is drained, and readiness is
      // edge-triggered, so a later datagram wakes the player again.
      const uint32_t generation = player.generation;
      for (;;) {
        for (int i = 0; i < kReceiveBatch; ++i) {
          receive_iov_[i] =
              iovec{receive_buffers_[i].data(), receive_buffers_[i].size()};
          receive_msgs_[i] = mmsghdr{};
          receive_msgs_[i].msg_hdr.msg_iov = &receive_iov_[i];
          receive_msgs_[i].msg_hdr.msg_iovlen = 1;
        }
        const int received = ::recvmmsg(player.udp_fd, receive_msgs_.data(),
                                        kReceiveBatch, MSG_DONTWAIT, nullptr);
        if (received < 0) {
          if (errno == EINTR) continue;
          // ICMP port unreachable and the like: the gateway is not there.
          if (errno != EAGAIN && errno != EWOULDBLOCK) {
            Inc(counters_.transport_errors);
          }
          return true;
        }
        for (int i = 0; i < received; ++i) {
          OnDatagram(player, absl::string_view(receive_buffers_[i].data(),
                                               receive_msgs_[i].msg_len));
          if (player.generation != generation) return false;
        }
        if (received < kReceiveBatch) return true;
      }
    }
    for (int i = 0; i < 16; ++i) {
      const size_t n = player.tcp_socket->read_some(asio::buffer(buffer_), ec);
      if (ec == asio::error::would_block) return true;
      if (ec) {
        OnTransportClosed(player,
                          ec == asio::error::eof ? "tcp_eof" : "tcp_error");
        return false;
      }
      if (!player.decoder->Feed(absl::string_view(buffer_.data(), n)).ok()) {
        OnTransportClosed(player, "tcp_bad_frame");
        return false;
      }
      std::string payload;
      const uint32_t generation = player.generation;
      while (player.generation == generation && player.decoder->Next(payload)) {
        OnPayload(player, payload);
      }
      if (player.generation != generation) return false;
    }
    return true;
  }

  // The server side ended the transport.
  void OnTransportClosed(Player& player, absl::string_view why) {
    ++events_[absl::StrCat("closed_by_server:", why)];
    const Phase phase = player.phase;
    CloseTransport(player);
    if (phase == Phase::kLoggingIn || phase == Phase::kHandshaking ||
        phase == Phase::kConnecting) {
      Inc(player.resuming ? counters_.resumes_failed : counters_.logins_failed);
    }
    player.phase = Phase::kClosed;
    player.timer_due_ns = 0;
  }

  // Sends the handshake step that is due at `now` and sets when the next
  // one is.
  void SendHandshake(Player& player, int64_t now) {
    if (std::optional<std::string> packet =
            player.handshake->DatagramToSend(absl::FromUnixNanos(now))) {
      SendRaw(player, *packet);
    }
    player.retransmit_ns = absl::ToUnixNanos(player.handshake->next_send_at());
  }

  void OnDatagram(Player& player, absl::string_view bytes) {
    auto datagram = wire::ParseDatagram(bytes);
    if (!datagram.ok()) {
      ++events_["bad_datagram"];
      return;
    }
    switch (datagram->type) {
      case wire::PacketType::kChallenge:
      case wire::PacketType::kAccepted:
        if (player.phase != Phase::kHandshaking ||
            !player.handshake->Receive(*datagram)) {
          return;
        }
        if (player.handshake->state() == UdpClientHandshake::State::kAccepted) {
          player.connection_id = player.handshake->connection_id();
          SendLoginOrResume(player);
        } else {
          SendHandshake(player, NowNs());  // The ChallengeResponse, at once.
        }
        return;
      case wire::PacketType::kData:
        if (datagram->data.connection_id != player.connection_id) return;
        OnPayload(player, datagram->data.payload);
        return;
      case wire::PacketType::kDisconnect: {
        if (datagram->disconnect.connection_id != player.connection_id) return;
        ++events_[absl::StrCat("udp_disconnect_code:",
                               int(datagram->disconnect.code))];
        OnTransportClosed(player, "udp_disconnect");
        return;
      }
      default:
        return;
    }
  }

  void SendRaw(Player& player, absl::string_view bytes) {
    boost::system::error_code ec;
    if (player.udp_fd >= 0) {
      if (::send(player.udp_fd, bytes.data(), bytes.size(), MSG_DONTWAIT) < 0) {
        Inc(counters_.send_drops);
      }
      return;
    }
    if (!player.tcp_socket) return;
    if (!player.tcp_out.empty()) {
      player.tcp_out.append(bytes.data(), bytes.size());
      return;
    }
    const size_t n = player.tcp_socket->write_some(
        asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec && ec != asio::error::would_block) {
      Inc(counters_.send_drops);
      return;
    }
    if (n < bytes.size()) {
      player.tcp_out.assign(bytes.data() + n, bytes.size() - n);
      FlushLater(player);
    }
  }

  void FlushLater(Player& player) {
    if (player.tcp_write_waiting) return;
    player.tcp_write_waiting = true;
    const uint32_t generation = player.generation;
    Player* p = &player;
    player.tcp_socket->async_wait(
        tcp::socket::wait_write,
        [this, p, generation](const boost::system::error_code& ec) {
          if (p->generation != generation || ec) return;
          p->tcp_write_waiting = false;
          boost::system::error_code error;
          const size_t n =
              p->tcp_socket->write_some(asio::buffer(p->tcp_out), error);
          if (error && error != asio::error::would_block) {
            Inc(counters_.send_drops);
            p->tcp_out.clear();
            return;
          }
          p->tcp_out.erase(0, n);
          if (!p->tcp_out.empty()) FlushLater(*p);
        });
  }

  void SendMessage(Player& player, const ClientMessage& message) {
    message.SerializeToString(&scratch_);
    SendPayload(player, scratch_);
  }

  void SendPayload(Player& player, absl::string_view payload) {
    if (config_.udp) {
      SendRaw(player, wire::EncodeData(player.connection_id,
                                       ++player.send_sequence, payload));
    } else {
      frame_.clear();
      wire::AppendTcpFrame(payload, frame_);
      SendRaw(player, frame_);
    }
  }

  // --- game ----------------------------------------------------------------

  void SendLoginOrResume(Player& player) {
    player.phase = Phase::kLoggingIn;
    ClientMessage message;
    if (player.resuming) {
      message.mutable_resume()->set_resume_token(player.resume_token);
    } else {
      auto* login = message.mutable_login();
      login->set_credential(
          absl::StrCat(config_.name_prefix, "-", player.index));
      login->set_client_version("loadgen");
      game::v1::PadLogin(message);
    }
    message.SerializeToString(&player.pending_request);
    SendPayload(player, player.pending_request);
    player.retransmit_ns = NowNs() + 1'000'000'000;
    Schedule(player);
  }

  int64_t EstimatedTick(const Player& player, int64_t now) const {
    return player.welcome_tick +
           (now - player.welcome_at_ns) / (int64_t{player.tick_ms} * 1'000'000);
  }

  void OnPayload(Player& player, absl::string_view payload) {
    ServerMessage message;
    if (!message.ParseFromArray(payload.data(),
                                static_cast<int>(payload.size()))) {
      ++events_["unparsable_server_message"];
      return;
    }
    const int64_t now = NowNs();
    switch (message.body_case()) {
      case ServerMessage::kWelcome:
        OnWelcome(player, message.welcome(), now);
        break;
      case ServerMessage::kLoginRejected:
        if (player.phase == Phase::kLoggingIn) Inc(counters_.logins_failed);
        ++events_[absl::StrCat("login_rejected:",
                               message.login_rejected().reason())];
        player.phase = Phase::kClosed;
        break;
      case ServerMessage::kResumeRejected:
        Inc(counters_.resumes_failed);
        ++events_[absl::StrCat("resume_rejected:",
                               message.resume_rejected().reason())];
        // The connection stays open: log in afresh on it.
        player.resuming = false;
        SendLoginOrResume(player);
        break;
      case ServerMessage::kPong:
        Inc(counters_.pongs);
        player.last_pong_server_us = message.pong().server_time_us();
        player.last_pong_at_ns = now;
        Complete(player, 3, message.pong().client_time_us(), now);
        break;
      case ServerMessage::kMoveResult: {
        const auto& result = message.move_result();
        Inc(counters_.inputs_acked);
        if (!result.accepted()) {
          Inc(counters_.rejections[ReasonIndex(result.rejection())]);
        }
        Complete(player, 1, result.tick(), now);
        break;
      }
      case ServerMessage::kShootResult: {
        const auto& result = message.shoot_result();
        Inc(counters_.inputs_acked);
        if (!result.accepted()) {
          Inc(counters_.rejections[ReasonIndex(result.rejection())]);
        }
        Complete(player, 2, result.tick(), now);
        break;
      }
      case ServerMessage::kInputRejected:
        Inc(counters_.inputs_acked);
        Inc(counters_
                .rejections[ReasonIndex(message.input_rejected().reason())]);
        Complete(player, 4, 0, now);
        break;
      case ServerMessage::kHitReceived:
        Inc(counters_.hits_received);
        break;
      case ServerMessage::kDisconnect: {
        const std::string& reason = message.disconnect().reason();
        ++events_[absl::StrCat("disconnect:", reason)];
        if (reason == "timed_out") Inc(counters_.timed_out);
        break;
      }
      default:
        break;
    }
  }

  void OnWelcome(Player& player, const game::v1::Welcome& welcome,
                 int64_t now) {
    player.session_id = welcome.session_id();
    player.resume_token = welcome.resume_token();
    if (player.phase != Phase::kLoggingIn) return;  // A repeated Welcome.
    player.welcome_tick = welcome.server_tick();
    player.welcome_at_ns = now;
    player.tick_ms = std::max(1, welcome.world_config().movement_tick_ms());
    player.last_move_tick = welcome.last_move_tick();
    player.phase = Phase::kActive;
    if (player.resuming) {
      player.resuming = false;
      player.resumed_once = true;
      if (welcome.resumed()) {
        Inc(counters_.resumes_ok);
      } else {
        Inc(counters_.resumes_failed);
      }
    } else {
      Inc(counters_.logins_ok);
      last_welcome_ns_ = now;
      const int64_t duration_ns = absl::ToInt64Nanoseconds(config_.duration);
      std::uniform_real_distribution<double> when(0.2, 0.5);
      if (player.behaviour == Behaviour::kVanish ||
          player.behaviour == Behaviour::kResume) {
        player.event_ns = now + static_cast<int64_t>(when(rng_) * duration_ns);
      }
    }
    const bool sends_inputs = player.behaviour != Behaviour::kIdler;
    if (sends_inputs && config_.rate > 0) {
      std::uniform_real_distribution<double> jitter(0, 1e9 / config_.rate);
      player.next_input_ns = now + static_cast<int64_t>(jitter(rng_));
    } else {
      player.next_input_ns = 0;
    }
    std::uniform_real_distribution<double> ping_jitter(
        0, static_cast<double>(absl::ToInt64Nanoseconds(config_.heartbeat)));
    player.next_ping_ns = now + static_cast<int64_t>(ping_jitter(rng_));
    Schedule(player);
  }

  void Track(Player& player, uint8_t kind, int64_t key, int64_t now) {
    if (player.ring_size == player.ring.size()) {
      // The oldest never got an answer in time: forget it.
      player.ring_head = (player.ring_head + 1) % player.ring.size();
      --player.ring_size;
    }
    const size_t slot =
        (player.ring_head + player.ring_size) % player.ring.size();
    player.ring[slot] = {kind, key, now};
    ++player.ring_size;
  }

  // Matches a result to the oldest pending request of the same kind and key;
  // older requests before it were lost (UDP) and are dropped.
  void Complete(Player& player, uint8_t kind, int64_t key, int64_t now) {
    for (uint8_t i = 0; i < player.ring_size; ++i) {
      const Pending& pending =
          player.ring[(player.ring_head + i) % player.ring.size()];
      if (pending.kind == kind && (kind == 4 || pending.key == key)) {
        if (g_measuring.load(std::memory_order_relaxed)) {
          histogram_.Record(static_cast<uint64_t>(now - pending.sent_ns));
        }
        player.ring_head = (player.ring_head + i + 1) % player.ring.size();
        player.ring_size -= i + 1;
        return;
      }
    }
  }

  void SendInput(Player& player, int64_t now) {
    ClientMessage message;
    switch (player.behaviour) {
      case Behaviour::kShooter: {
        const int64_t tick = EstimatedTick(player, now);
        auto* shoot = message.mutable_shoot();
        shoot->set_tick(tick);
        std::uniform_int_distribution<size_t> pick(0, players_.size() - 1);
        const Player& target = *players_[pick(rng_)];
        shoot->set_target_session_id(
            target.session_id.empty() ? player.session_id : target.session_id);
        SendMessage(player, message);
        Track(player, 2, tick, now);
        break;
      }
      case Behaviour::kMalformed: {
        // Field 1 with wire type 7 (there is none): unparsable.
        static constexpr char kGarbage[] = {'\x0f', '\x00', '\x01'};
        SendPayload(player, absl::string_view(kGarbage, sizeof(kGarbage)));
        Track(player, 4, 0, now);
        break;
      }
      default: {
        // Ticks must rise per move and may run at most a few ahead of the
        // server: past that, send the current tick and let it be rejected.
        const int64_t estimated = EstimatedTick(player, now);
        int64_t tick = std::max(estimated, player.last_move_tick + 1);
        if (tick > estimated + 3) tick = estimated;
        player.last_move_tick = std::max(player.last_move_tick, tick);
        auto* move = message.mutable_move();
        move->set_tick(tick);
        move->set_dx(player.direction);
        player.direction = -player.direction;
        SendMessage(player, message);
        Track(player, 1, tick, now);
        break;
      }
    }
    Inc(counters_.inputs_sent);
  }

  void SendPing(Player& player, int64_t now) {
    ClientMessage message;
    auto* ping = message.mutable_ping();
    const int64_t now_us = now / 1000;
    ping->set_client_time_us(now_us);
    if (player.last_pong_server_us != 0) {
      ping->set_echo_server_time_us(player.last_pong_server_us);
      ping->set_echo_hold_us((now - player.last_pong_at_ns) / 1000);
    }
    SendMessage(player, message);
    Track(player, 3, now_us, now);
    Inc(counters_.pings_sent);
  }

  void SayGoodbye(Player& player) {
    if (config_.udp) {
      SendRaw(player,
              wire::EncodeDisconnect({.connection_id = player.connection_id,
                                      .code = wire::DisconnectCode::kGoodbye}));
    } else {
      ClientMessage message;
      message.mutable_goodbye();
      SendMessage(player, message);
    }
  }

  // Runs whatever is due for the player and re-arms its one timer.
  void OnTimer(Player& player) {
    const int64_t now = NowNs();
    switch (player.phase) {
      case Phase::kConnecting:
      case Phase::kHandshaking:
      case Phase::kLoggingIn:
        if (now >= player.attempt_deadline_ns) {
          ++events_[player.resuming ? "resume_timeout" : "login_timeout"];
          return TransportFailed(player, "attempt_timeout");
        }
        if (config_.udp && player.retransmit_ns != 0 &&
            now >= player.retransmit_ns) {
          // UDP does not retransmit: repeat the request until answered.
          if (player.phase == Phase::kLoggingIn) {
            SendPayload(player, player.pending_request);
            player.retransmit_ns = now + 1'000'000'000;
          } else {
            SendHandshake(player, now);
          }
        }
        break;
      case Phase::kActive: {
        if (player.event_ns != 0 && now >= player.event_ns) {
          player.event_ns = 0;
          if (player.behaviour == Behaviour::kVanish) {
            // Stop sending without a word; the server should time it out.
            Inc(counters_.vanished);
            player.phase = Phase::kVanished;
            return;
          }
          if (player.behaviour == Behaviour::kResume && !player.resumed_once) {
            // Lose the transport (no goodbye), then resume on a new one.
            CloseTransport(player);
            player.resuming = true;
            Connect(player);
            return;
          }
        }
        const int64_t interval_ns =
            config_.rate > 0 ? static_cast<int64_t>(1e9 / config_.rate) : 0;
        if (player.next_input_ns != 0 && now >= player.next_input_ns) {
          SendInput(player, now);
          player.next_input_ns += interval_ns;
          // Fell far behind (overloaded loadgen): skip rather than burst.
          if (player.next_input_ns < now - 100'000'000) {
            player.next_input_ns = now + interval_ns;
          }
        }
        if (now >= player.next_ping_ns) {
          SendPing(player, now);
          player.next_ping_ns =
              now + absl::ToInt64Nanoseconds(config_.heartbeat);
        }
        break;
      }
      default:
        return;
    }
    Schedule(player);
  }

  void Schedule(Player& player) {
    int64_t due = 0;
    auto consider = [&due](int64_t t) {
      if (t != 0 && (due == 0 || t < due)) due = t;
    };
    switch (player.phase) {
      case Phase::kConnecting:
      case Phase::kHandshaking:
      case Phase::kLoggingIn:
        consider(player.attempt_deadline_ns);
        if (config_.udp) consider(player.retransmit_ns);
        break;
      case Phase::kActive:
        consider(player.next_input_ns);
        consider(player.next_ping_ns);
        consider(player.event_ns);
        break;
      default:
        return;
    }
    if (due == 0) return;
    // An earlier entry still pending covers this one: OnTimer re-plans then.
    if (player.timer_due_ns != 0 && player.timer_due_ns <= due &&
        player.timer_due_ns > NowNs()) {
      return;
    }
    player.timer_due_ns = due;
    due_.push(DueEntry{due, &player});
    ArmWake(due);
  }

  // One Asio timer serves every player of the worker, woken on a grid of
  // --send_tick: a per-player timer cost a timerfd update, an epoll wake-up
  // and a heap operation per input, which made the load generator, not the
  // servers, the largest CPU user at high rates.
  void ArmWake(int64_t due) {
    const int64_t tick = config_.send_tick_ns;
    const int64_t wake = tick > 0 ? (due + tick - 1) / tick * tick : due;
    if (wake_armed_ns_ != 0 && wake_armed_ns_ <= wake) return;
    wake_armed_ns_ = wake;
    wake_timer_->expires_at(
        std::chrono::steady_clock::time_point(std::chrono::nanoseconds(wake)));
    wake_timer_->async_wait([this, wake](const boost::system::error_code& ec) {
      if (ec || wake_armed_ns_ != wake) return;
      wake_armed_ns_ = 0;
      RunDue();
    });
  }

  void RunDue() {
    const int64_t now = NowNs();
    while (!due_.empty() && due_.top().ns <= now) {
      const DueEntry entry = due_.top();
      due_.pop();
      if (entry.player->timer_due_ns != entry.ns) continue;  // Stale.
      entry.player->timer_due_ns = 0;
      OnTimer(*entry.player);
    }
    if (!due_.empty()) ArmWake(due_.top().ns);
  }

  struct DueEntry {
    int64_t ns;
    Player* player;
    bool operator>(const DueEntry& other) const { return ns > other.ns; }
  };

  const Config& config_;
  const int id_;
  const int64_t start_ns_;
  asio::io_context io_{1};
  std::unique_ptr<asio::steady_timer> ramp_timer_;
  std::unique_ptr<asio::steady_timer> wake_timer_;
  // The epoll set of the UDP players' sockets (UDP runs only).
  std::unique_ptr<asio::posix::stream_descriptor> udp_ready_;
  std::array<epoll_event, 256> ready_events_;
  int64_t wake_armed_ns_ = 0;  // 0: the wake timer is not armed.
  // Players' next due times, earliest first; stale entries are skipped.
  std::priority_queue<DueEntry, std::vector<DueEntry>, std::greater<>> due_;
  std::vector<std::unique_ptr<Player>> players_;
  size_t next_to_start_ = 0;
  std::mt19937_64 rng_;
  std::array<char, 65536> buffer_;  // TCP reads.
  // UDP reads, one datagram each; a byte over the limit shows oversize.
  static constexpr int kReceiveBatch = 8;
  std::array<std::array<char, wire::kMaxDatagramSize + 1>, kReceiveBatch>
      receive_buffers_;
  std::array<iovec, kReceiveBatch> receive_iov_{};
  std::array<mmsghdr, kReceiveBatch> receive_msgs_{};
  std::string scratch_;
  std::string frame_;
  Counters counters_;
  LatencyHistogram histogram_;
  std::map<std::string, uint64_t> events_;  // Worker thread only.
  int64_t first_login_ns_ = 0;
  int64_t last_welcome_ns_ = 0;
};

// --- ops load ----------------------------------------------------------------

struct OpsStats {
  std::atomic<uint64_t> list_ok{0};
  std::atomic<uint64_t> get_ok{0};
  std::atomic<uint64_t> get_not_found{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> watch_events{0};
  LatencyHistogram latency;
};

class OpsLoad {
 public:
  OpsLoad(std::shared_ptr<grpc::Channel> channel, std::string token,
          double rate)
      : rate_(rate),
        token_(std::move(token)),
        channel_(std::move(channel)),
        stub_(ops::v1::SessionInspection::NewStub(channel_)) {}

  void Start() {
    calls_ = std::thread([this] { CallLoop(); });
    watch_ = std::thread([this] { WatchLoop(); });
  }

  void Stop() {
    stop_.store(true);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (watch_context_) watch_context_->TryCancel();
    }
    calls_.join();
    watch_.join();
  }

  const OpsStats& stats() const { return stats_; }

 private:
  void CallLoop() {
    const auto interval_ns = static_cast<int64_t>(1e9 / rate_);
    int64_t next = NowNs();
    std::string page_token;
    std::vector<std::string> known_ids;
    std::mt19937_64 rng(7);
    uint64_t n = 0;
    while (!stop_.load()) {
      const int64_t now = NowNs();
      if (now < next) {
        std::this_thread::sleep_for(std::chrono::nanoseconds(
            std::min<int64_t>(next - now, 50'000'000)));
        continue;
      }
      next += interval_ns;
      if (next < now - 1'000'000'000) next = now;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(5));
      AddOpsToken(context, token_);
      const int64_t started = NowNs();
      if (n++ % 2 == 0 || known_ids.empty()) {
        ops::v1::ListSessionsRequest request;
        request.set_page_size(100);
        request.set_page_token(page_token);
        ops::v1::ListSessionsResponse response;
        const grpc::Status status =
            stub_->ListSessions(&context, request, &response);
        if (!status.ok()) {
          Inc(stats_.errors);
          page_token.clear();
          continue;
        }
        Inc(stats_.list_ok);
        page_token = response.next_page_token();
        known_ids.clear();
        for (const auto& session : response.sessions()) {
          known_ids.push_back(session.session_id());
        }
      } else {
        ops::v1::GetSessionRequest request;
        std::uniform_int_distribution<size_t> pick(0, known_ids.size() - 1);
        request.set_session_id(known_ids[pick(rng)]);
        ops::v1::Session response;
        const grpc::Status status =
            stub_->GetSession(&context, request, &response);
        if (status.ok()) {
          Inc(stats_.get_ok);
        } else if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
          Inc(stats_.get_not_found);  // Closed meanwhile: fine.
        } else {
          Inc(stats_.errors);
          continue;
        }
      }
      if (g_measuring.load(std::memory_order_relaxed)) {
        stats_.latency.Record(static_cast<uint64_t>(NowNs() - started));
      }
    }
  }

  void WatchLoop() {
    while (!stop_.load()) {
      auto context = std::make_unique<grpc::ClientContext>();
      AddOpsToken(*context, token_);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        watch_context_ = context.get();
      }
      ops::v1::WatchSessionsRequest request;
      auto reader = stub_->WatchSessions(context.get(), request);
      ops::v1::WatchSessionsResponse response;
      while (reader->Read(&response)) Inc(stats_.watch_events);
      const grpc::Status status = reader->Finish();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        watch_context_ = nullptr;
      }
      if (!stop_.load()) {
        Inc(stats_.errors);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
  }

  const double rate_;
  const std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ops::v1::SessionInspection::Stub> stub_;
  std::atomic<bool> stop_{false};
  std::thread calls_;
  std::thread watch_;
  std::mutex mutex_;
  grpc::ClientContext* watch_context_ = nullptr;
  OpsStats stats_;
};

// --- setup and report --------------------------------------------------------

bool ParseMix(absl::string_view text, std::array<int, kBehaviourCount>& mix,
              std::string& error) {
  mix.fill(0);
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    int value = 0;
    if (!absl::SimpleAtoi(kv.second, &value) || value < 0 || value > 100) {
      error = absl::StrCat("--mix: bad share '", item, "'");
      return false;
    }
    bool found = false;
    for (int b = 0; b < kBehaviourCount; ++b) {
      if (kv.first == kBehaviourNames[b]) {
        mix[b] = value;
        found = true;
      }
    }
    if (!found) {
      error = absl::StrCat("--mix: unknown behaviour '", kv.first,
                           "' (movers, shooters, idlers, vanish, resume, "
                           "malformed)");
      return false;
    }
  }
  int sum = 0;
  for (int share : mix) sum += share;
  if (sum != 100) {
    error = absl::StrCat("--mix: shares sum to ", sum, ", not 100");
    return false;
  }
  return true;
}

bool ParseTarget(const std::string& text, Config& config, std::string& error) {
  const size_t colon = text.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(text.substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    error = absl::StrCat("--target: expected host:port, got '", text, "'");
    return false;
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  config.address = asio::ip::make_address(host, ec);
  if (ec) {
    error = absl::StrCat("--target: numeric host expected, got '", host, "'");
    return false;
  }
  config.port = static_cast<uint16_t>(port);
  return true;
}

// One socket per player: raise the descriptor limit (soft and, as root,
// hard) to fit them.
void RaiseFileLimit(uint64_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur >= wanted) return;
  rlimit raised = limit;
  raised.rlim_cur = wanted;
  if (raised.rlim_max < wanted) raised.rlim_max = wanted;
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    raised.rlim_max = limit.rlim_max;
    raised.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &raised);
  }
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted) {
    std::fprintf(stderr,
                 "loadgen: warning: RLIMIT_NOFILE is %llu, %llu wanted; "
                 "some players will fail to open sockets\n",
                 static_cast<unsigned long long>(limit.rlim_cur),
                 static_cast<unsigned long long>(wanted));
  }
}

double Us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

// The ops token: --ops_token, else --ops_token_file, else $GSS_OPS_TOKEN
// (empty when none is given: a service with --ops_auth=none).
absl::StatusOr<std::string> OpsLoadToken() {
  if (!absl::GetFlag(FLAGS_ops_token).empty()) {
    return absl::GetFlag(FLAGS_ops_token);
  }
  if (!absl::GetFlag(FLAGS_ops_token_file).empty()) {
    return ReadOpsTokenFile(absl::GetFlag(FLAGS_ops_token_file));
  }
  const char* from_environment = std::getenv(kOpsTokenEnv);
  return std::string(from_environment != nullptr ? from_environment : "");
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpsLoadChannel() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return CreateOpsChannel(
      absl::GetFlag(FLAGS_ops_target),
      OpsClientOptions{.tls_ca_file = absl::GetFlag(FLAGS_ops_tls_ca_file)},
      args);
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Simulated game players against a gateway: loadgen --target=HOST:PORT "
      "--players=N --rate=R --duration=10s [--transport=tcp] [--json]");
  gss::process::ParseFlagsOrExit(argc, argv, "loadgen");

  Config config;
  std::string error;
  if (!ParseTarget(absl::GetFlag(FLAGS_target), config, error) ||
      !ParseMix(absl::GetFlag(FLAGS_mix), config.mix, error)) {
    std::fprintf(stderr, "loadgen: %s\n", error.c_str());
    return 2;
  }
  const std::string transport = absl::GetFlag(FLAGS_transport);
  if (transport != "udp" && transport != "tcp") {
    std::fprintf(stderr, "loadgen: --transport must be udp or tcp\n");
    return 2;
  }
  config.udp = transport == "udp";
  config.players = absl::GetFlag(FLAGS_players);
  config.rate = absl::GetFlag(FLAGS_rate);
  config.ramp = absl::GetFlag(FLAGS_ramp);
  config.duration = absl::GetFlag(FLAGS_duration);
  config.heartbeat = absl::GetFlag(FLAGS_heartbeat);
  config.threads = absl::GetFlag(FLAGS_threads);
  config.send_tick_ns =
      absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_send_tick));
  config.goodbye = absl::GetFlag(FLAGS_goodbye);
  config.name_prefix = absl::GetFlag(FLAGS_name_prefix);
  if (config.name_prefix.empty()) {
    config.name_prefix = absl::StrCat("lg", getpid());
  }
  if (config.players < 1 || config.rate < 0 || config.ramp <= 0 ||
      config.duration <= absl::ZeroDuration() ||
      config.heartbeat <= absl::ZeroDuration() || config.threads < 1 ||
      config.threads > 64 || config.send_tick_ns < 0 ||
      config.send_tick_ns > 100'000'000) {
    std::fprintf(stderr,
                 "loadgen: need --players >= 1, --rate >= 0, --ramp > 0, "
                 "--duration > 0, --heartbeat > 0, 1 <= --threads <= 64, "
                 "0 <= --send_tick <= 100ms\n");
    return 2;
  }
  RaiseFileLimit(static_cast<uint64_t>(config.players) + 1024);

  const int64_t start_ns = NowNs();
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < config.threads; ++t) {
    std::vector<uint32_t> indices;
    for (int i = t; i < config.players; i += config.threads) {
      indices.push_back(static_cast<uint32_t>(i));
    }
    workers.push_back(
        std::make_unique<Worker>(config, t, std::move(indices), start_ns));
  }
  std::unique_ptr<OpsLoad> ops;
  if (!absl::GetFlag(FLAGS_ops_target).empty()) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = OpsLoadChannel();
    absl::StatusOr<std::string> token = OpsLoadToken();
    if (!channel.ok() || !token.ok()) {
      std::fprintf(stderr, "loadgen: %s\n",
                   std::string(channel.ok() ? token.status().message()
                                            : channel.status().message())
                       .c_str());
      return 2;
    }
    ops =
        std::make_unique<OpsLoad>(*std::move(channel), *std::move(token),
                                  std::max(0.1, absl::GetFlag(FLAGS_ops_rate)));
  }
  std::vector<std::thread> threads;
  threads.reserve(workers.size());
  for (auto& worker : workers) {
    threads.emplace_back([w = worker.get()] { w->Run(); });
  }

  auto sum = [&workers](auto member) {
    uint64_t total = 0;
    for (auto& worker : workers) {
      total += (worker->counters().*member).load(std::memory_order_relaxed);
    }
    return total;
  };
  const bool progress = absl::GetFlag(FLAGS_progress);
  int64_t last_print = NowNs();
  Counters::Snapshot last{};
  auto print_progress = [&](absl::string_view stage) {
    const int64_t now = NowNs();
    if (!progress || now - last_print < 1'000'000'000) return;
    const double dt = (now - last_print) / 1e9;
    Counters::Snapshot current{
        sum(&Counters::inputs_sent), sum(&Counters::inputs_acked),
        sum(&Counters::pings_sent), sum(&Counters::pongs)};
    LatencyHistogram merged;
    for (auto& worker : workers) merged.Merge(worker->histogram());
    uint64_t rejected = 0;
    for (auto& worker : workers) {
      for (auto& r : worker->counters().rejections) rejected += r.load();
    }
    std::fprintf(
        stderr,
        "[loadgen %s t=%.1fs] logins=%llu/%d failed=%llu sent=%.0f/s "
        "acked=%.0f/s pongs=%.0f/s rejected=%llu resumes=%llu/%llu "
        "timed_out=%llu p99=%.0fus\n",
        std::string(stage).c_str(), (now - start_ns) / 1e9,
        static_cast<unsigned long long>(sum(&Counters::logins_ok)),
        config.players,
        static_cast<unsigned long long>(sum(&Counters::logins_failed)),
        (current.inputs_sent - last.inputs_sent) / dt,
        (current.inputs_acked - last.inputs_acked) / dt,
        (current.pongs - last.pongs) / dt,
        static_cast<unsigned long long>(rejected),
        static_cast<unsigned long long>(sum(&Counters::resumes_ok)),
        static_cast<unsigned long long>(sum(&Counters::resumes_failed)),
        static_cast<unsigned long long>(sum(&Counters::timed_out)),
        Us(merged.Percentile(0.99)));
    last = current;
    last_print = now;
  };

  // Ramp: wait until every player has logged in or failed.
  const int64_t ramp_deadline =
      start_ns + static_cast<int64_t>(config.players / config.ramp * 1e9) +
      absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_login_timeout));
  while (sum(&Counters::logins_ok) + sum(&Counters::logins_failed) <
             static_cast<uint64_t>(config.players) &&
         NowNs() < ramp_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    print_progress("ramp");
  }
  const int64_t window_start = NowNs();
  if (ops) ops->Start();
  g_measuring.store(true);
  const Counters::Snapshot at_start{
      sum(&Counters::inputs_sent), sum(&Counters::inputs_acked),
      sum(&Counters::pings_sent), sum(&Counters::pongs)};
  const int64_t window_end =
      window_start + absl::ToInt64Nanoseconds(config.duration);
  while (NowNs() < window_end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::min<int64_t>(100, (window_end - NowNs()) / 1'000'000 + 1)));
    print_progress("run");
  }
  const Counters::Snapshot at_end{
      sum(&Counters::inputs_sent), sum(&Counters::inputs_acked),
      sum(&Counters::pings_sent), sum(&Counters::pongs)};
  const double window_s = (NowNs() - window_start) / 1e9;
  g_measuring.store(false);
  if (ops) ops->Stop();
  for (auto& worker : workers) worker->Finish();
  for (auto& thread : threads) thread.join();

  // --- report ---------------------------------------------------------------
  LatencyHistogram latency;
  std::map<std::string, uint64_t> events;
  std::array<uint64_t, kReasons.size()> rejections{};
  int64_t first_login = 0;
  int64_t last_welcome = 0;
  for (auto& worker : workers) {
    latency.Merge(worker->histogram());
    for (const auto& [name, count] : worker->events()) events[name] += count;
    for (size_t i = 0; i < kReasons.size(); ++i) {
      rejections[i] += worker->counters().rejections[i].load();
    }
    if (worker->first_login_ns() != 0 &&
        (first_login == 0 || worker->first_login_ns() < first_login)) {
      first_login = worker->first_login_ns();
    }
    last_welcome = std::max(last_welcome, worker->last_welcome_ns());
  }
  const uint64_t logins_ok = sum(&Counters::logins_ok);
  const double login_span_s =
      last_welcome > first_login ? (last_welcome - first_login) / 1e9 : 0;
  const double logins_per_s = login_span_s > 0 ? logins_ok / login_span_s
                                               : static_cast<double>(logins_ok);
  const double sent_per_s =
      (at_end.inputs_sent - at_start.inputs_sent) / window_s;
  const double acked_per_s =
      (at_end.inputs_acked - at_start.inputs_acked) / window_s;
  const double pongs_per_s = (at_end.pongs - at_start.pongs) / window_s;
  const double results_per_s = acked_per_s + pongs_per_s;

  std::string rejections_json;
  std::string rejections_text;
  for (size_t i = 0; i < kReasons.size(); ++i) {
    if (rejections[i] == 0) continue;
    absl::StrAppend(&rejections_json, rejections_json.empty() ? "" : ",", "\"",
                    kReasons[i], "\":", rejections[i]);
    absl::StrAppend(&rejections_text, " ", kReasons[i], "=", rejections[i]);
  }
  std::string events_json;
  std::string events_text;
  for (const auto& [name, count] : events) {
    absl::StrAppend(&events_json, events_json.empty() ? "" : ",", "\"", name,
                    "\":", count);
    absl::StrAppend(&events_text, " ", name, "=", count);
  }
  std::string mix_json;
  for (int b = 0; b < kBehaviourCount; ++b) {
    absl::StrAppend(&mix_json, b == 0 ? "" : ",", "\"", kBehaviourNames[b],
                    "\":", config.mix[b]);
  }
  const std::string latency_json = absl::StrFormat(
      "{\"count\":%d,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
      "\"max\":%.1f}",
      latency.Count(), Us(latency.Percentile(0.5)), Us(latency.Percentile(0.9)),
      Us(latency.Percentile(0.99)), Us(latency.Percentile(0.999)),
      Us(latency.Max()));
  std::string ops_json = "null";
  std::string ops_text;
  if (ops) {
    const OpsStats& s = ops->stats();
    ops_json = absl::StrFormat(
        "{\"list_ok\":%d,\"get_ok\":%d,\"get_not_found\":%d,\"errors\":%d,"
        "\"watch_events\":%d,\"calls_per_second\":%.1f,\"latency_us\":{"
        "\"count\":%d,\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}}",
        s.list_ok.load(), s.get_ok.load(), s.get_not_found.load(),
        s.errors.load(), s.watch_events.load(),
        (s.list_ok.load() + s.get_ok.load() + s.get_not_found.load()) /
            window_s,
        s.latency.Count(), Us(s.latency.Percentile(0.5)),
        Us(s.latency.Percentile(0.99)), Us(s.latency.Max()));
    ops_text = absl::StrFormat(
        "ops: list_ok=%d get_ok=%d get_not_found=%d errors=%d "
        "watch_events=%d p50=%.0fus p99=%.0fus\n",
        s.list_ok.load(), s.get_ok.load(), s.get_not_found.load(),
        s.errors.load(), s.watch_events.load(), Us(s.latency.Percentile(0.5)),
        Us(s.latency.Percentile(0.99)));
  }

  std::fprintf(
      stderr,
      "loadgen report: transport=%s players=%d rate=%.1f/s window=%.2fs\n"
      "logins: ok=%llu failed=%llu (%.0f/s)\n"
      "inputs: sent=%.0f/s acknowledged=%.0f/s; pings=%.0f/s pongs=%.0f/s\n"
      "rejections:%s\n"
      "resumes: ok=%llu failed=%llu; vanished=%llu timed_out=%llu "
      "hits=%llu transport_errors=%llu send_drops=%llu\n"
      "latency (send to result, us): n=%llu p50=%.1f p90=%.1f p99=%.1f "
      "p99.9=%.1f max=%.1f\n"
      "events:%s\n%s",
      transport.c_str(), config.players, config.rate, window_s,
      static_cast<unsigned long long>(logins_ok),
      static_cast<unsigned long long>(sum(&Counters::logins_failed)),
      logins_per_s, sent_per_s, acked_per_s,
      (at_end.pings_sent - at_start.pings_sent) / window_s, pongs_per_s,
      rejections_text.c_str(),
      static_cast<unsigned long long>(sum(&Counters::resumes_ok)),
      static_cast<unsigned long long>(sum(&Counters::resumes_failed)),
      static_cast<unsigned long long>(sum(&Counters::vanished)),
      static_cast<unsigned long long>(sum(&Counters::timed_out)),
      static_cast<unsigned long long>(sum(&Counters::hits_received)),
      static_cast<unsigned long long>(sum(&Counters::transport_errors)),
      static_cast<unsigned long long>(sum(&Counters::send_drops)),
      static_cast<unsigned long long>(latency.Count()),
      Us(latency.Percentile(0.5)), Us(latency.Percentile(0.9)),
      Us(latency.Percentile(0.99)), Us(latency.Percentile(0.999)),
      Us(latency.Max()), events_text.c_str(), ops_text.c_str());

  if (absl::GetFlag(FLAGS_json)) {
    std::printf(
        "{\"transport\":\"%s\",\"players\":%d,\"rate\":%.3f,"
        "\"window_seconds\":%.3f,\"mix\":{%s},"
        "\"logins_ok\":%llu,\"logins_failed\":%llu,"
        "\"logins_per_second\":%.1f,"
        "\"inputs_sent\":%llu,\"inputs_acknowledged\":%llu,"
        "\"inputs_sent_per_second\":%.1f,"
        "\"inputs_acknowledged_per_second\":%.1f,"
        "\"pings_sent\":%llu,\"pongs\":%llu,\"pongs_per_second\":%.1f,"
        "\"results_per_second\":%.1f,"
        "\"rejections\":{%s},\"resumes_ok\":%llu,\"resumes_failed\":%llu,"
        "\"vanished\":%llu,\"timed_out\":%llu,\"hits_received\":%llu,"
        "\"transport_errors\":%llu,\"send_drops\":%llu,"
        "\"latency_us\":%s,\"events\":{%s},\"ops\":%s}\n",
        transport.c_str(), config.players, config.rate, window_s,
        mix_json.c_str(), static_cast<unsigned long long>(logins_ok),
        static_cast<unsigned long long>(sum(&Counters::logins_failed)),
        logins_per_s,
        static_cast<unsigned long long>(sum(&Counters::inputs_sent)),
        static_cast<unsigned long long>(sum(&Counters::inputs_acked)),
        sent_per_s, acked_per_s,
        static_cast<unsigned long long>(sum(&Counters::pings_sent)),
        static_cast<unsigned long long>(sum(&Counters::pongs)), pongs_per_s,
        results_per_s, rejections_json.c_str(),
        static_cast<unsigned long long>(sum(&Counters::resumes_ok)),
        static_cast<unsigned long long>(sum(&Counters::resumes_failed)),
        static_cast<unsigned long long>(sum(&Counters::vanished)),
        static_cast<unsigned long long>(sum(&Counters::timed_out)),
        static_cast<unsigned long long>(sum(&Counters::hits_received)),
        static_cast<unsigned long long>(sum(&Counters::transport_errors)),
        static_cast<unsigned long long>(sum(&Counters::send_drops)),
        latency_json.c_str(), events_json.c_str(), ops_json.c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace gss::loadgen

int main(int argc, char** argv) { return gss::loadgen::Main(argc, argv); }
