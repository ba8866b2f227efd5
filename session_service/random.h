// Unpredictable values from OpenSSL's CSPRNG: resume secrets (which alone let
// a client take a session back) and the per-start instance id.
#ifndef SESSION_SERVICE_RANDOM_H_
#define SESSION_SERVICE_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/session_types.h"

namespace gss {

// Fills `out` with `size` bytes from RAND_bytes; Internal if OpenSSL could not
// seed its generator (never silently weaker randomness).
absl::Status RandomBytes(uint8_t* out, size_t size);

absl::StatusOr<ResumeSecret> NewResumeSecret();

// 128 random bits as 32 lower-case hex digits.
absl::StatusOr<std::string> NewInstanceId();

}  // namespace gss

#endif  // SESSION_SERVICE_RANDOM_H_
