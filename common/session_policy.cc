#include "common/session_policy.h"

#include "absl/strings/str_cat.h"

namespace gss {
namespace {

absl::Status RequirePositive(absl::Duration value, const char* name) {
  if (value <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " must be positive, got ", absl::FormatDuration(value)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ServerSessionPolicy::Validate() const {
  for (auto [value, name] : {std::pair{login_timeout, "login_timeout"},
                             std::pair{suspect_after, "suspect_after"},
                             std::pair{liveness_timeout, "liveness_timeout"}}) {
    if (absl::Status s = RequirePositive(value, name); !s.ok()) return s;
  }
  if (liveness_timeout <= suspect_after) {
    return absl::InvalidArgumentError(absl::StrCat(
        "liveness_timeout (", absl::FormatDuration(liveness_timeout),
        ") must be longer than suspect_after (",
        absl::FormatDuration(suspect_after), ")"));
  }
  if (reconnect_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("reconnect_grace must not be negative");
  }
  if (max_resume_attempts < 1 || max_resume_attempts > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_resume_attempts must be in [1, 100], got ", max_resume_attempts));
  }
  return absl::OkStatus();
}

absl::Status ClientSessionPolicy::Validate() const {
  for (auto [value, name] :
       {std::pair{heartbeat_interval, "heartbeat_interval"},
        std::pair{pong_timeout, "pong_timeout"},
        std::pair{attempt_timeout, "attempt_timeout"}}) {
    if (absl::Status s = RequirePositive(value, name); !s.ok()) return s;
  }
  if (reconnect_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("reconnect_delay must not be negative");
  }
  if (max_reconnect_attempts < 1 || max_reconnect_attempts > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_reconnect_attempts must be in [1, 100], got ",
                     max_reconnect_attempts));
  }
  return absl::OkStatus();
}

}  // namespace gss
