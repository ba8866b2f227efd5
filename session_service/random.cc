#include "session_service/random.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <array>
#include <climits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace gss {

absl::Status RandomBytes(uint8_t* out, size_t size) {
  if (size > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("too many random bytes requested");
  }
  if (RAND_bytes(out, static_cast<int>(size)) != 1) {
    return absl::InternalError(absl::StrCat(
        "RAND_bytes failed: error ", static_cast<uint64_t>(ERR_get_error())));
  }
  return absl::OkStatus();
}

absl::StatusOr<ResumeSecret> NewResumeSecret() {
  ResumeSecret secret;
  if (absl::Status status = RandomBytes(secret.data(), secret.size());
      !status.ok()) {
    return status;
  }
  return secret;
}

absl::StatusOr<std::string> NewInstanceId() {
  std::array<uint8_t, 16> bytes;
  if (absl::Status status = RandomBytes(bytes.data(), bytes.size());
      !status.ok()) {
    return status;
  }
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace gss
