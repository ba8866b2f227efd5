#include "clients/sessionctl/cli.h"

#include <map>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace gss::sessionctl {
namespace {

using ops::v1::SessionState;

// Flags that take no value (`--flag`, or `--flag=true|false`).
const std::set<std::string>& BooleanFlags() {
  static const auto* const flags =
      new std::set<std::string>{"json", "all", "snapshot", "help"};
  return *flags;
}

const std::set<std::string>& GlobalFlags() {
  static const auto* const flags = new std::set<std::string>{
      "target",       "deadline",       "json",        "help",
      "token",        "token_file",     "tls_ca_file", "tls_cert_file",
      "tls_key_file", "tls_server_name"};
  return *flags;
}

// The flags each subcommand takes besides the global ones.
const std::map<std::string, std::pair<Subcommand, std::set<std::string>>>&
Subcommands() {
  static const auto* const subcommands =
      new std::map<std::string, std::pair<Subcommand, std::set<std::string>>>{
          {"help", {Subcommand::kHelp, {}}},
          {"list",
           {Subcommand::kList,
            {"state", "gateway", "page_size", "page_token", "all"}}},
          {"get",
           {Subcommand::kGet, {"session", "player", "gateway", "connection"}}},
          {"watch", {Subcommand::kWatch, {"session", "snapshot", "count"}}},
          {"evict", {Subcommand::kEvict, {"reason"}}},
          {"info", {Subcommand::kInfo, {}}},
          {"health", {Subcommand::kHealth, {"service"}}},
          {"mint-token",
           {Subcommand::kMintToken,
            {"key_file", "player", "name", "role", "permissions", "ttl"}}},
      };
  return *subcommands;
}

absl::Status Usage(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

struct Flag {
  std::string name;  // Without dashes, '-' turned into '_'.
  std::string value;
};

absl::StatusOr<bool> ParseBool(const Flag& flag) {
  if (flag.value.empty() || flag.value == "true") return true;
  if (flag.value == "false") return false;
  return Usage(absl::StrCat("--", flag.name,
                            " takes no value or true/false, "
                            "got \"",
                            flag.value, "\""));
}

template <typename Int>
absl::StatusOr<Int> ParseInt(const Flag& flag) {
  Int value = 0;
  if (!absl::SimpleAtoi(flag.value, &value)) {
    return Usage(absl::StrCat("--", flag.name, ": \"", flag.value,
                              "\" is not a valid number"));
  }
  return value;
}

absl::StatusOr<absl::Duration> ParsePositiveDuration(const Flag& flag) {
  absl::Duration duration;
  if (!absl::ParseDuration(flag.value, &duration) ||
      duration <= absl::ZeroDuration() ||
      duration == absl::InfiniteDuration()) {
    return Usage(absl::StrCat("--", flag.name, ": \"", flag.value,
                              "\" is not a positive duration (e.g. 5s, "
                              "500ms, 1h)"));
  }
  return duration;
}

// A comma list, possibly repeated; empty entries are refused.
absl::Status AppendList(const Flag& flag, std::vector<std::string>* out) {
  for (absl::string_view item : absl::StrSplit(flag.value, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) {
      return Usage(absl::StrCat("--", flag.name, ": empty entry in \"",
                                flag.value, "\""));
    }
    out->emplace_back(item);
  }
  return absl::OkStatus();
}

absl::Status ApplyFlag(const Flag& flag, Command& command,
                       std::set<std::string>& seen_get_keys) {
  const std::string& name = flag.name;
  // Global flags.
  if (name == "target") {
    if (flag.value.empty()) return Usage("--target must not be empty");
    command.target = flag.value;
    return absl::OkStatus();
  }
  if (name == "deadline") {
    absl::StatusOr<absl::Duration> deadline = ParsePositiveDuration(flag);
    if (!deadline.ok()) return deadline.status();
    command.deadline = *deadline;
    return absl::OkStatus();
  }
  if (name == "json") {
    absl::StatusOr<bool> json = ParseBool(flag);
    if (!json.ok()) return json.status();
    command.json = *json;
    return absl::OkStatus();
  }
  CredentialArgs& credentials = command.credentials;
  const std::pair<const char*, std::string*> credential_flags[] = {
      {"token", &credentials.token},
      {"token_file", &credentials.token_file},
      {"tls_ca_file", &credentials.tls_ca_file},
      {"tls_cert_file", &credentials.tls_cert_file},
      {"tls_key_file", &credentials.tls_key_file},
      {"tls_server_name", &credentials.tls_server_name},
  };
  for (const auto& [flag_name, value] : credential_flags) {
    if (name != flag_name) continue;
    if (flag.value.empty()) {
      return Usage(absl::StrCat("--", name, " must not be empty"));
    }
    *value = flag.value;
    return absl::OkStatus();
  }

  switch (command.subcommand) {
    case Subcommand::kList: {
      ListArgs& list = command.list;
      if (name == "state") {
        std::vector<std::string> names;
        if (absl::Status status = AppendList(flag, &names); !status.ok()) {
          return status;
        }
        for (const std::string& state_name : names) {
          std::optional<SessionState> state = ParseState(state_name);
          if (!state) {
            return Usage(
                absl::StrCat("--state: unknown state \"", state_name,
                             "\" (connecting, authenticating, active, suspect, "
                             "reconnecting, closed)"));
          }
          list.states.push_back(*state);
        }
      } else if (name == "gateway") {
        absl::StatusOr<uint32_t> id = ParseInt<uint32_t>(flag);
        if (!id.ok()) return id.status();
        list.gateway_id = *id;
      } else if (name == "page_size") {
        absl::StatusOr<int32_t> size = ParseInt<int32_t>(flag);
        if (!size.ok()) return size.status();
        list.page_size = *size;
      } else if (name == "page_token") {
        list.page_token = flag.value;
      } else if (name == "all") {
        absl::StatusOr<bool> all = ParseBool(flag);
        if (!all.ok()) return all.status();
        list.all = *all;
      }
      return absl::OkStatus();
    }
    case Subcommand::kGet: {
      seen_get_keys.insert(name);
      ops::v1::GetSessionRequest& get = command.get;
      if (name == "session") {
        get.set_session_id(flag.value);
      } else if (name == "player") {
        get.set_player_id(flag.value);
      } else if (name == "gateway") {
        absl::StatusOr<uint32_t> id = ParseInt<uint32_t>(flag);
        if (!id.ok()) return id.status();
        get.mutable_remote()->set_gateway_id(*id);
      } else if (name == "connection") {
        absl::StatusOr<uint64_t> id = ParseInt<uint64_t>(flag);
        if (!id.ok()) return id.status();
        get.mutable_remote()->set_connection_id(*id);
      }
      return absl::OkStatus();
    }
    case Subcommand::kWatch: {
      WatchArgs& watch = command.watch;
      if (name == "session") {
        watch.session_id = flag.value;
      } else if (name == "snapshot") {
        absl::StatusOr<bool> snapshot = ParseBool(flag);
        if (!snapshot.ok()) return snapshot.status();
        watch.snapshot = *snapshot;
      } else if (name == "count") {
        absl::StatusOr<int64_t> count = ParseInt<int64_t>(flag);
        if (!count.ok()) return count.status();
        if (*count < 1) return Usage("--count must be at least 1");
        watch.count = *count;
      }
      return absl::OkStatus();
    }
    case Subcommand::kEvict:
      if (name == "reason") command.evict.reason = flag.value;
      return absl::OkStatus();
    case Subcommand::kHealth:
      if (name == "service") command.health.service = flag.value;
      return absl::OkStatus();
    case Subcommand::kMintToken: {
      MintTokenArgs& mint = command.mint_token;
      if (name == "key_file") {
        mint.key_file = flag.value;
      } else if (name == "player") {
        mint.player = flag.value;
      } else if (name == "name") {
        mint.name = flag.value;
      } else if (name == "role") {
        mint.role = flag.value;
      } else if (name == "permissions") {
        return AppendList(flag, &mint.permissions);
      } else if (name == "ttl") {
        absl::StatusOr<absl::Duration> ttl = ParsePositiveDuration(flag);
        if (!ttl.ok()) return ttl.status();
        mint.ttl = *ttl;
      }
      return absl::OkStatus();
    }
    case Subcommand::kHelp:
    case Subcommand::kInfo:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

// Checks that need every flag: required flags and exclusive keys.
absl::Status Validate(Command& command, std::vector<std::string>& positional,
                      const std::set<std::string>& get_keys) {
  const CredentialArgs& credentials = command.credentials;
  if (!credentials.token.empty() && !credentials.token_file.empty()) {
    return Usage("give --token or --token_file, not both");
  }
  if (credentials.tls_cert_file.empty() != credentials.tls_key_file.empty()) {
    return Usage("--tls_cert_file and --tls_key_file go together");
  }
  const auto no_positional = [&]() -> absl::Status {
    if (!positional.empty()) {
      return Usage(
          absl::StrCat("unexpected argument \"", positional.front(), "\""));
    }
    return absl::OkStatus();
  };
  switch (command.subcommand) {
    case Subcommand::kGet: {
      const bool by_session = get_keys.count("session") > 0;
      const bool by_player = get_keys.count("player") > 0;
      const bool by_gateway = get_keys.count("gateway") > 0;
      const bool by_connection = get_keys.count("connection") > 0;
      if (by_gateway != by_connection) {
        return Usage("get: --gateway and --connection go together");
      }
      if (by_session + by_player + by_gateway != 1) {
        return Usage(
            "get: give exactly one of --session, --player, or --gateway "
            "with --connection");
      }
      return no_positional();
    }
    case Subcommand::kEvict:
      if (positional.empty()) return Usage("evict: SESSION_ID is missing");
      command.evict.session_id = positional.front();
      positional.erase(positional.begin());
      if (command.evict.reason.empty()) {
        return Usage("evict: --reason is required");
      }
      return no_positional();
    case Subcommand::kMintToken:
      if (command.mint_token.key_file.empty()) {
        return Usage("mint-token: --key_file is required");
      }
      if (command.mint_token.player.empty()) {
        return Usage("mint-token: --player is required");
      }
      return no_positional();
    case Subcommand::kList:
      if (command.list.all && !command.list.page_token.empty()) {
        return Usage("list: --all walks from the start; drop --page_token");
      }
      return no_positional();
    case Subcommand::kHelp:
    case Subcommand::kWatch:
    case Subcommand::kInfo:
    case Subcommand::kHealth:
      return no_positional();
  }
  return absl::OkStatus();
}

}  // namespace

int ExitCodeFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return kExitOk;
    case grpc::StatusCode::NOT_FOUND:
      return kExitNotFound;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return kExitInvalidArgument;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kExitUnavailable;
    case grpc::StatusCode::PERMISSION_DENIED:
      return kExitPermission;
    case grpc::StatusCode::UNAUTHENTICATED:
      return kExitUnauthenticated;
    default:
      return kExitError;
  }
}

std::string StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return absl::StrCat("CODE_", static_cast<int>(code));
  }
}

std::optional<SessionState> ParseState(absl::string_view text) {
  std::string upper = absl::AsciiStrToUpper(text);
  if (!absl::StartsWith(upper, "SESSION_STATE_")) {
    upper = absl::StrCat("SESSION_STATE_", upper);
  }
  SessionState state;
  if (!ops::v1::SessionState_Parse(upper, &state) ||
      state == ops::v1::SESSION_STATE_UNSPECIFIED) {
    return std::nullopt;
  }
  return state;
}

absl::StatusOr<Command> ParseCommandLine(const std::vector<std::string>& args) {
  // Split into flags and positional arguments first: which flags take a
  // value is known without knowing the subcommand.
  std::vector<Flag> flags;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h") {
      flags.push_back({"help", ""});
      continue;
    }
    if (!absl::StartsWith(arg, "-") || arg == "-") {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    absl::string_view body = arg;
    body.remove_prefix(absl::StartsWith(body, "--") ? 2 : 1);
    Flag flag;
    const size_t equals = body.find('=');
    flag.name = std::string(body.substr(0, equals));
    for (char& c : flag.name) {
      if (c == '-') c = '_';
    }
    if (flag.name.empty()) {
      return Usage(absl::StrCat("malformed flag \"", arg, "\""));
    }
    if (equals != absl::string_view::npos) {
      flag.value = std::string(body.substr(equals + 1));
    } else if (BooleanFlags().count(flag.name) == 0) {
      if (i + 1 >= args.size()) {
        return Usage(absl::StrCat("--", flag.name, " needs a value"));
      }
      flag.value = args[++i];
    }
    flags.push_back(std::move(flag));
  }

  Command command;
  for (const Flag& flag : flags) {
    if (flag.name == "help") {
      command.subcommand = Subcommand::kHelp;
      return command;
    }
  }
  if (positional.empty()) {
    return Usage("no subcommand given (see sessionctl --help)");
  }
  const auto found = Subcommands().find(positional.front());
  if (found == Subcommands().end()) {
    return Usage(absl::StrCat("unknown subcommand \"", positional.front(),
                              "\" (see sessionctl --help)"));
  }
  const std::string subcommand_name = positional.front();
  positional.erase(positional.begin());
  command.subcommand = found->second.first;
  if (command.subcommand == Subcommand::kHelp) return command;

  std::set<std::string> get_keys;
  for (const Flag& flag : flags) {
    if (GlobalFlags().count(flag.name) == 0 &&
        found->second.second.count(flag.name) == 0) {
      return Usage(absl::StrCat(subcommand_name, ": unknown flag --", flag.name,
                                " (see sessionctl --help)"));
    }
    if (absl::Status status = ApplyFlag(flag, command, get_keys);
        !status.ok()) {
      return status;
    }
  }
  if (absl::Status status = Validate(command, positional, get_keys);
      !status.ok()) {
    return status;
  }
  return command;
}

std::string HelpText() {
  return R"(sessionctl: inspect and manage the sessions of a game session service
over its ops gRPC API (gss.ops.v1.SessionInspection).

Usage: sessionctl [global flags] SUBCOMMAND [flags]

Subcommands:
  list      List sessions, one page (or every page with --all).
              --state S       only sessions in state S; repeat the flag or give
                              a comma list (connecting, authenticating, active,
                              suspect, reconnecting, closed)
              --gateway ID    only sessions bound to gateway ID
              --page_size N   sessions per page (1..1000; default 100)
              --page_token T  continue after a previous page
              --all           follow the page tokens to the last page
  get       Show one session; give exactly one key:
              --session ID | --player ID | --gateway ID --connection ID
  watch     Print lifecycle transitions as they happen until interrupted
            (Ctrl-C, exit 0), the watched session closes, or --count.
              --session ID    only this session
              --snapshot      first print the matching sessions as they are
              --count N       stop after N transitions
  evict SESSION_ID --reason TEXT
            Close a session and its connection (reason: audit log and peer).
  info      Show the server's instance id, version, sessions by state.
  health    grpc.health.v1 Check; exit 0 when SERVING, 1 otherwise.
              --service NAME  the service to ask about ("" = whole server)
  mint-token
            Print a signed HS256 login token for the jwt authenticator.
            Makes no network call.
              --key_file PATH     the service's --jwt_key_file (>= 32 bytes;
                                  trailing whitespace is not part of the key)
              --player ID         the sub claim (required)
              --name NAME         display name (default: the player id)
              --role ROLE         role (default: player)
              --permissions P,..  e.g. move,shoot (default: none)
              --ttl DURATION      lifetime (default 1h)

Global flags:
  --target HOST:PORT  the service's ops address (default localhost:7781)
  --token_file PATH   file holding the ops bearer token (one line)
  --token TOKEN       the token itself (visible to other local users in the
                      process list; prefer --token_file or GSS_OPS_TOKEN)
                      Without either, the token comes from $GSS_OPS_TOKEN.
                      Readers may list, get, watch and info; evict needs an
                      admin token. health needs none.
  --tls_ca_file PATH  speak TLS, trusting these CA certificates (PEM)
  --tls_cert_file PATH, --tls_key_file PATH
                      this client's certificate and key, for a service that
                      requires client certificates (mTLS); implies TLS
  --tls_server_name NAME
                      the name the service's certificate must carry, when not
                      the target's host (e.g. through kubectl port-forward)
  --deadline D        deadline of every call (default 5s); watch uses it
                      only to connect
  --json              print JSON for scripts (proto field names): one
                      document for list/get/evict/info/health; watch prints
                      one document per line
  -h, --help          this text

Flags take --flag=value or --flag value.

Exit codes:
  0  ok
  1  any other error (including health not SERVING)
  2  usage error
  3  not found (NOT_FOUND)
  4  invalid argument (INVALID_ARGUMENT), e.g. a malformed session id
  5  service unreachable or too slow (UNAVAILABLE, DEADLINE_EXCEEDED)
  6  not allowed: the token's role may not do this (PERMISSION_DENIED)
  7  not authenticated: no token, or one the service does not know
     (UNAUTHENTICATED)
)";
}

}  // namespace gss::sessionctl
