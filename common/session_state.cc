#include "common/session_state.h"

#include <array>

namespace gss {
namespace {

constexpr std::array<absl::string_view, kSessionStateCount> kStateNames = {
    "connecting", "authenticating", "active",
    "suspect",    "reconnecting",   "closed"};

constexpr std::array<absl::string_view, kCloseReasonCount> kReasonNames = {
    "none",          "transport_closed", "login_failed",    "timed_out",
    "grace_expired", "evicted",          "server_shutdown", "replaced",
    "resume_failed", "resumed"};

constexpr std::array<absl::string_view, kSessionEventCount> kEventNames = {
    "transport_connected",
    "transport_closed",
    "transport_lost",
    "login_succeeded",
    "login_failed",
    "heartbeat",
    "inbound_message",
    "resume_succeeded",
    "resume_failed",
    "evict",
    "replace",
    "shutdown",
    "absorbed_by_resume",
    "liveness_overdue",
    "liveness_lost",
    "deadline_passed",
    "grace_expired"};

template <typename Enum, size_t N>
std::optional<Enum> ParseName(const std::array<absl::string_view, N>& names,
                              absl::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

}  // namespace

absl::string_view SessionStateName(SessionState state) {
  return kStateNames[static_cast<size_t>(state)];
}
absl::string_view CloseReasonName(CloseReason reason) {
  return kReasonNames[static_cast<size_t>(reason)];
}
absl::string_view SessionEventName(SessionEvent event) {
  return kEventNames[static_cast<size_t>(event)];
}
std::optional<SessionState> ParseSessionState(absl::string_view name) {
  return ParseName<SessionState>(kStateNames, name);
}
std::optional<CloseReason> ParseCloseReason(absl::string_view name) {
  return ParseName<CloseReason>(kReasonNames, name);
}

}  // namespace gss
