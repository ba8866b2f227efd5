// The UDP side of the gateway: the stateless challenge handshake, per-peer
// replay window, rate limit and idle timeout, and Data in both directions.
#ifndef GATEWAY_UDP_ENDPOINT_H_
#define GATEWAY_UDP_ENDPOINT_H_

#include <utility>
// clang-format off
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
// clang-format on

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/wire_format.h"
#include "gateway/address.h"
#include "gateway/cookie.h"
#include "gateway/endpoint_context.h"
#include "gateway/rate_limiter.h"

namespace gss::gateway {

class UdpPeer;

// One socket whose receive loop, sends, timers and every UDP peer's state
// live on one strand: no locks on the packet path, and a peer's datagrams
// are handled in arrival order. Until a ChallengeResponse verifies, an
// address gets nothing but a reply no larger than its request.
//
// Datagrams are read in batches (recvmmsg) once the socket is readable, and
// what a handler sends goes out in one sendmmsg when it ends. Commands from
// the service (deliver, close) pass through one ordered queue that costs one
// strand post per burst, not one per command: at thousands of commands per
// second the posts and thread wake-ups, not the sends, were the cost.
class UdpEndpoint {
 public:
  using Clock = std::chrono::steady_clock;

  UdpEndpoint(boost::asio::io_context& io, EndpointContext context,
              const CookieAuthority& cookies, absl::Duration idle_timeout);
  ~UdpEndpoint();

  // Binds (no SO_REUSEADDR, so a taken port is an error).
  absl::Status Open(const boost::asio::ip::udp::endpoint& local);
  void Start();
  // Stops receiving and closes the socket (asynchronously, on the strand).
  void Close();
  uint16_t port() const { return port_; }

 private:
  friend class UdpPeer;
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  // A command for one peer from another thread, applied on the strand in
  // the order queued.
  struct Command {
    enum class Kind : uint8_t { kDeliver, kCloseByService, kCloseByGateway };
    std::shared_ptr<UdpPeer> peer;
    Kind kind = Kind::kDeliver;
    wire::DisconnectCode code = wire::DisconnectCode::kGoodbye;
    std::string text;  // Message, final message, or reason.
  };
  void Enqueue(Command command);
  void RunCommands();

  void WaitReadable();
  void OnReadable(const boost::system::error_code& error);
  // One datagram from sender_.
  void HandleDatagram(absl::string_view bytes, Clock::time_point now);
  void HandleConnectRequest(const wire::ConnectRequest& request);
  void HandleChallengeResponse(const wire::ChallengeResponse& response,
                               Clock::time_point now);
  void HandleData(const wire::Data& data, Clock::time_point now);
  // Answers `payload` here when it is a Ping the link takes as a heartbeat
  // (edge_heartbeat.h); false: it goes to the service.
  bool AnswerAtEdge(UdpPeer& peer, absl::string_view payload);
  void HandleDisconnect(const wire::Disconnect& disconnect);
  void ArmSweep();
  void Sweep();

  // On the UDP thread. `peer` stops being reachable by its address; true
  // when this call detached it. The caller then tells the link and only
  // then removes the peer from the table: Gateway::Stop flushes the link
  // once the table is empty, so the close must be queued by then.
  bool Detach(UdpPeer& peer);
  // Gateway-initiated close: tell the client `code` (if any) and the service
  // `reason`.
  void DropPeer(UdpPeer& peer, std::optional<wire::DisconnectCode> code,
                const std::string& reason);
  void SendData(UdpPeer& peer, absl::string_view payload);
  // Sends `final_message` (if any), then Disconnect{code}.
  void CloseByService(UdpPeer& peer, wire::DisconnectCode code,
                      const std::string& final_message);
  // Queues a datagram; FlushSends() sends the queue. Every handler that may
  // send ends with FlushSends().
  void Send(std::string datagram, const boost::asio::ip::udp::endpoint& to);
  void FlushSends();
  static uint64_t NowMs(Clock::time_point now);

  EndpointContext context_;
  const CookieAuthority& cookies_;
  const absl::Duration idle_timeout_;
  Strand strand_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::steady_timer sweep_timer_;
  uint16_t port_ = 0;
  // Strand-confined: the live peers by source address.
  absl::flat_hash_map<UdpAddressKey, std::shared_ptr<UdpPeer>> by_address_;
  boost::asio::ip::udp::endpoint sender_;

  // Receive batch, strand-confined. Each buffer is one byte over the limit
  // so that an oversized datagram shows as such instead of being cut.
  static constexpr int kReceiveBatch = 32;
  using Buffer = std::array<char, wire::kMaxDatagramSize + 1>;
  std::unique_ptr<Buffer[]> buffers_;
  std::array<iovec, kReceiveBatch> receive_iov_{};
  std::array<sockaddr_storage, kReceiveBatch> receive_addr_{};
  std::array<mmsghdr, kReceiveBatch> receive_msgs_{};

  // Datagrams waiting for FlushSends(), strand-confined.
  struct Outgoing {
    std::string datagram;
    boost::asio::ip::udp::endpoint to;
  };
  std::vector<Outgoing> outgoing_;

  absl::Mutex commands_mu_;
  std::vector<Command> commands_ ABSL_GUARDED_BY(commands_mu_);
};

}  // namespace gss::gateway

#endif  // GATEWAY_UDP_ENDPOINT_H_
