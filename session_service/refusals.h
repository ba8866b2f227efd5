// Why the service closes a connection or refuses a login or a resume: the
// reason strings of the game protocol (Disconnect.reason,
// LoginRejected.reason, ResumeRejected.reason, ClosePeer.reason) as enums
// with one name each, as InputRejection is for inputs. The metric labels are
// the same names, so the set is fixed.
#ifndef SESSION_SERVICE_REFUSALS_H_
#define SESSION_SERVICE_REFUSALS_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace gss {

// Disconnect.reason: what precedes a close the service decides (and
// session_unknown, which leaves the connection open). docs/protocol.md,
// "Server-initiated close".
enum class DisconnectReason : uint8_t {
  kEvicted,         // An operator's EvictSession; the detail is their reason.
  kReplaced,        // A newer login of the player, or a resume elsewhere.
  kTimedOut,        // No login in time, or silent past the liveness timeout.
  kServerShutdown,  // The service is stopping.
  kDraining,        // The service is draining (SIGTERM).
  kServerFull,      // No room even for a connection that has not logged in.
  kServerError,     // The service could not take the connection.
  kSessionUnknown,  // The service lost the session; the connection stays.
};
inline constexpr int kDisconnectReasonCount = 8;
absl::string_view DisconnectReasonName(DisconnectReason reason);

// The closes that carry no Disconnect (a refused login, the client's
// Goodbye) have reasons of the link's: gss/link/v1/close_reasons.h.

// LoginRejected.reason.
enum class LoginRefusal : uint8_t {
  kBadCredential,    // Malformed or unacceptable credential.
  kTokenExpired,     // A JWT whose exp has passed.
  kBadSignature,     // A JWT whose signature does not verify.
  kBadAlgorithm,     // A JWT signed with anything but HS256.
  kAlreadyLoggedIn,  // The connection or the player is logged in already.
  kServerFull,       // max_sessions reached.
  kDraining,         // The service is draining.
  kServerError,      // The service could not complete the login.
};
inline constexpr int kLoginRefusalCount = 8;
absl::string_view LoginRefusalName(LoginRefusal refusal);

// ResumeRejected.reason.
enum class ResumeRefusal : uint8_t {
  kUnknownToken,     // Malformed, spent, expired or another session's: alike.
  kAlreadyLoggedIn,  // The connection carries a logged-in session.
  kDraining,
  kServerError,
};
inline constexpr int kResumeRefusalCount = 4;
absl::string_view ResumeRefusalName(ResumeRefusal refusal);

}  // namespace gss

#endif  // SESSION_SERVICE_REFUSALS_H_
