// A minimal HTTP/1.0 GET for tests that read /metrics or Prometheus' query
// API on loopback.
#ifndef TESTS_SUPPORT_HTTP_GET_H_
#define TESTS_SUPPORT_HTTP_GET_H_

#include <string>

#include "absl/status/statusor.h"

namespace gss::testing {

// GET `target` from 127.0.0.1:`port`; the whole response (status line,
// headers and body). Waits at most 10 s for the server to finish.
absl::StatusOr<std::string> HttpGet(int port, const std::string& target);

// The body of a 200 response to GET `target`; any other status is an error
// carrying the start of the response.
absl::StatusOr<std::string> HttpGetBody(int port, const std::string& target);

}  // namespace gss::testing

#endif  // TESTS_SUPPORT_HTTP_GET_H_
