// How the ops tools (sessionctl, loadgen, the tests) reach a session
// service's ops API: the channel, plaintext or TLS with an optional client
// certificate (mTLS), and the bearer token every call carries.
#ifndef CLIENTS_OPS_CHANNEL_OPS_CHANNEL_H_
#define CLIENTS_OPS_CHANNEL_OPS_CHANNEL_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gss {

// The environment variable the tools read a token from when no flag gives
// one.
inline constexpr char kOpsTokenEnv[] = "GSS_OPS_TOKEN";

struct OpsClientOptions {
  // Sent as "authorization: Bearer <token>" with every call; empty: none.
  std::string token;
  // Any TLS setting turns TLS on. tls_ca_file: the roots that sign the
  // server's certificate (empty: the system's). tls_cert_file with
  // tls_key_file: this client's certificate, for a server that asks (mTLS).
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // The name the server's certificate must carry, when not the target's host.
  std::string tls_server_name;

  bool tls() const {
    return !tls_ca_file.empty() || !tls_cert_file.empty() ||
           !tls_key_file.empty() || !tls_server_name.empty();
  }
};

// A token file's contents without surrounding whitespace; an empty file, or
// one with more than one line, is refused.
absl::StatusOr<std::string> ReadOpsTokenFile(const std::string& path);

// Reads the TLS files of `options` (none without TLS).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> OpsChannelCredentials(
    const OpsClientOptions& options);

// A channel to `target` with `options`' credentials; `arguments` are kept
// (the server-name override is added to them).
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateOpsChannel(
    const std::string& target, const OpsClientOptions& options,
    grpc::ChannelArguments arguments = grpc::ChannelArguments());

// Adds the bearer token to one call (nothing when `token` is empty).
void AddOpsToken(grpc::ClientContext& context, absl::string_view token);

}  // namespace gss

#endif  // CLIENTS_OPS_CHANNEL_OPS_CHANNEL_H_
