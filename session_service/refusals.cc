#include "session_service/refusals.h"

namespace gss {

absl::string_view DisconnectReasonName(DisconnectReason reason) {
  switch (reason) {
    case DisconnectReason::kEvicted:
      return "evicted";
    case DisconnectReason::kReplaced:
      return "replaced";
    case DisconnectReason::kTimedOut:
      return "timed_out";
    case DisconnectReason::kServerShutdown:
      return "server_shutdown";
    case DisconnectReason::kDraining:
      return "draining";
    case DisconnectReason::kServerFull:
      return "server_full";
    case DisconnectReason::kServerError:
      return "server_error";
    case DisconnectReason::kSessionUnknown:
      return "session_unknown";
  }
  return "unknown";
}

absl::string_view LoginRefusalName(LoginRefusal refusal) {
  switch (refusal) {
    case LoginRefusal::kBadCredential:
      return "bad_credential";
    case LoginRefusal::kTokenExpired:
      return "token_expired";
    case LoginRefusal::kBadSignature:
      return "bad_signature";
    case LoginRefusal::kBadAlgorithm:
      return "bad_algorithm";
    case LoginRefusal::kAlreadyLoggedIn:
      return "already_logged_in";
    case LoginRefusal::kServerFull:
      return "server_full";
    case LoginRefusal::kDraining:
      return "draining";
    case LoginRefusal::kServerError:
      return "server_error";
  }
  return "unknown";
}

absl::string_view ResumeRefusalName(ResumeRefusal refusal) {
  switch (refusal) {
    case ResumeRefusal::kUnknownToken:
      return "unknown_token";
    case ResumeRefusal::kAlreadyLoggedIn:
      return "already_logged_in";
    case ResumeRefusal::kDraining:
      return "draining";
    case ResumeRefusal::kServerError:
      return "server_error";
  }
  return "unknown";
}

}  // namespace gss
