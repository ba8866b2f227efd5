// sessionctl's command line: the parsed form of every subcommand, the parser,
// the help text, and the mapping of gRPC status codes to exit codes.
#ifndef CLIENTS_SESSIONCTL_CLI_H_
#define CLIENTS_SESSIONCTL_CLI_H_

#include <grpcpp/support/status.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gss/ops/v1/ops.pb.h"

namespace gss::sessionctl {

// Exit codes; documented in the help text and README.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotFound = 3;
inline constexpr int kExitInvalidArgument = 4;
inline constexpr int kExitUnavailable = 5;
inline constexpr int kExitPermission = 6;
inline constexpr int kExitUnauthenticated = 7;

// The exit code for a call that ended with `code`.
int ExitCodeFor(grpc::StatusCode code);
// "NOT_FOUND", "UNAVAILABLE", ...
std::string StatusCodeName(grpc::StatusCode code);

enum class Subcommand {
  kHelp,
  kList,
  kGet,
  kWatch,
  kEvict,
  kInfo,
  kHealth,
  kMintToken,
};

struct ListArgs {
  std::vector<ops::v1::SessionState> states;  // Empty: every state.
  std::optional<uint32_t> gateway_id;
  int32_t page_size = 0;  // 0: the server's default.
  std::string page_token;
  bool all = false;  // Follow next_page_token to the end.
};

struct WatchArgs {
  std::string session_id;        // Empty: every session.
  bool snapshot = false;         // Start with the matching sessions.
  std::optional<int64_t> count;  // Stop after this many transitions.
};

struct EvictArgs {
  std::string session_id;
  std::string reason;
};

struct HealthArgs {
  std::string service;  // "" is the whole server.
};

struct MintTokenArgs {
  std::string key_file;
  std::string player;
  std::string name;  // Empty: omitted (the service uses the player id).
  std::string role;  // Empty: omitted (the service uses "player").
  std::vector<std::string> permissions;
  absl::Duration ttl = absl::Hours(1);
};

// How sessionctl proves who it is to the ops API.
struct CredentialArgs {
  // At most one of token and token_file; neither: $GSS_OPS_TOKEN.
  std::string token;
  std::string token_file;
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_server_name;
};

struct Command {
  Subcommand subcommand = Subcommand::kHelp;
  // Global flags.
  std::string target = "localhost:7781";
  CredentialArgs credentials;
  absl::Duration deadline = absl::Seconds(5);
  bool json = false;
  // The arguments of `subcommand`; only its own member is meaningful.
  ListArgs list;
  ops::v1::GetSessionRequest get;
  WatchArgs watch;
  EvictArgs evict;
  HealthArgs health;
  MintTokenArgs mint_token;
};

// Parses the arguments after argv[0]. Flags take `--flag=value` or
// `--flag value`; global flags may come before or after the subcommand.
// InvalidArgument (a usage error) says what is wrong in one line.
absl::StatusOr<Command> ParseCommandLine(const std::vector<std::string>& args);

// "active", "ACTIVE" or "SESSION_STATE_ACTIVE".
std::optional<ops::v1::SessionState> ParseState(absl::string_view text);

// The text `sessionctl --help` prints.
std::string HelpText();

}  // namespace gss::sessionctl

#endif  // CLIENTS_SESSIONCTL_CLI_H_
