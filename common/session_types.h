// Identities of a managed session: the session id (which names its owning
// service instance and shard), the transport-level remote identity, the peer
// address it carries, and the resume token that alone can rebind a session.
#ifndef COMMON_SESSION_TYPES_H_
#define COMMON_SESSION_TYPES_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gss {

// 64 bits: [instance tag: 16][sequence: 40][shard: 8]. The instance tag tells
// which service instance owns the session, so a resume that reaches another
// instance can be routed to the owner; the sequence grows with creation, so
// ids order sessions by age and are never reused within an instance (the
// service starts each instance's sequence at a random point, so neither are
// they across restarts, in all likelihood).
struct SessionId {
  uint64_t value = 0;

  static constexpr int kShardBits = 8;
  static constexpr int kSequenceBits = 40;
  static SessionId Make(uint16_t instance_tag, uint64_t sequence,
                        uint32_t shard) {
    return {(uint64_t{instance_tag} << (kSequenceBits + kShardBits)) |
            ((sequence & ((uint64_t{1} << kSequenceBits) - 1)) << kShardBits) |
            (shard & ((1u << kShardBits) - 1))};
  }
  uint16_t instance_tag() const {
    return static_cast<uint16_t>(value >> (kSequenceBits + kShardBits));
  }
  uint32_t shard() const { return value & ((1u << kShardBits) - 1); }
  uint64_t sequence() const {
    return (value >> kShardBits) & ((uint64_t{1} << kSequenceBits) - 1);
  }
  bool valid() const { return value != 0; }

  // 16 lower-case hex digits.
  std::string ToString() const;
  static absl::StatusOr<SessionId> Parse(absl::string_view text);

  friend bool operator==(SessionId, SessionId) = default;
  // NOLINTNEXTLINE(modernize-use-nullptr): a false positive on <=>.
  friend auto operator<=>(SessionId, SessionId) = default;
  template <typename H>
  friend H AbslHashValue(H h, SessionId id) {
    return H::combine(std::move(h), id.value);
  }
};

// An IPv4 or IPv6 address and port, stored without allocation.
struct PeerAddress {
  std::array<uint8_t, 16> bytes{};  // IPv4 uses the first 4.
  uint16_t port = 0;
  uint8_t family = 0;  // 0 = unknown, 4 or 6.

  static PeerAddress V4(uint32_t host_order_ip, uint16_t port);
  // "1.2.3.4:5", "[::1]:5".
  static absl::StatusOr<PeerAddress> Parse(absl::string_view text);
  std::string ToString() const;

  friend bool operator==(const PeerAddress&, const PeerAddress&) = default;
};

// The transport-level identity of one connection: which gateway and which of
// its connections. The address is carried for inspection, not part of the key
// (a UDP peer's address may change under NAT rebinding).
struct RemoteIdentity {
  uint32_t gateway_id = 0;
  uint64_t connection_id = 0;
  PeerAddress address;

  std::string ToString() const;  // "gw-3/conn-17 (1.2.3.4:5)"

  friend bool operator==(const RemoteIdentity& a, const RemoteIdentity& b) {
    return a.gateway_id == b.gateway_id && a.connection_id == b.connection_id;
  }
  template <typename H>
  friend H AbslHashValue(H h, const RemoteIdentity& r) {
    return H::combine(std::move(h), r.gateway_id, r.connection_id);
  }
};

// The secret half of a resume token: 128 random bits chosen by the host (the
// core draws no randomness itself).
using ResumeSecret = std::array<uint8_t, 16>;

// What a client presents to resume: the session it names plus the secret that
// proves it holds the session. Knowing the session id alone is useless.
struct ResumeToken {
  SessionId session;
  ResumeSecret secret{};

  // 48 lower-case hex digits: session id, then secret.
  std::string Encode() const;
  static absl::StatusOr<ResumeToken> Parse(absl::string_view text);

  friend bool operator==(const ResumeToken&, const ResumeToken&) = default;
};

// Compares secrets in time independent of where they differ.
bool SecretsEqual(const ResumeSecret& a, const ResumeSecret& b);

}  // namespace gss

#endif  // COMMON_SESSION_TYPES_H_
