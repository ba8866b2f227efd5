// The ops listener's credentials: plaintext or TLS (optionally requiring
// client certificates), with an OpsAuthorizer run by gRPC on every call
// before any handler, and what a handler can learn about its caller.
#ifndef SESSION_SERVICE_OPS_CREDENTIALS_H_
#define SESSION_SERVICE_OPS_CREDENTIALS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "session_service/ops_auth.h"

namespace grpc {
class ServerContext;
class ServerCredentials;
}  // namespace grpc

namespace gss {

struct OpsTlsOptions {
  // PEM files. cert_file (the chain, leaf first) and key_file together turn
  // TLS on; client_ca_file additionally requires every client to present a
  // certificate that it signed (mTLS).
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

// Writes one audit line (without a newline).
using AuditLog = std::function<void(absl::string_view line)>;
// Audit lines to stderr.
AuditLog StderrAuditLog();

// Checks the TLS files (they parse; the key belongs to the certificate) and
// builds the ops listener's credentials. gRPC 1.51 cannot attach an auth
// metadata processor to grpc::InsecureServerCredentials(), so plaintext and
// TLS credentials are both made through its C core, which runs the
// processor on every call.
// PERMISSION_DENIED calls (a known principal asking too much) are written
// to `audit`.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
MakeOpsServerCredentials(std::shared_ptr<const OpsAuthorizer> authorizer,
                         const OpsTlsOptions& tls, AuditLog audit);

struct OpsCaller {
  // The token's principal, or without tokens the client certificate's
  // subject or "anonymous"; "unidentified" when the token was rotated out
  // between the check and the handler.
  std::string principal;
  std::string role;          // "reader" or "admin"; empty without tokens.
  std::string cert_subject;  // The verified client certificate's; or empty.
  // Where the call came from, written as session addresses are
  // ("127.0.0.1:PORT", "[::1]:PORT"), not in gRPC's "ipv4:..." form.
  std::string address;
};

// gRPC's peer string ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000",
// "unix:/path") as an address ("127.0.0.1:5000", "[::1]:5000", "unix:/path").
std::string PeerAddressFromGrpc(absl::string_view grpc_peer);

// Who made this call. The check itself happens before any handler runs;
// this names the caller for the audit log. gRPC 1.51 hands the processor the
// connection's auth context, shared by every call on it, so per-call facts
// cannot be stored there: the call's own metadata is read again instead.
OpsCaller IdentifyOpsCaller(const grpc::ServerContext& context,
                            const OpsAuthorizer& authorizer);

}  // namespace gss

#endif  // SESSION_SERVICE_OPS_CREDENTIALS_H_
