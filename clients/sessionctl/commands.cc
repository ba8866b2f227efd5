#include "clients/sessionctl/commands.h"

#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/ops_channel/ops_channel.h"
#include "clients/sessionctl/format.h"
#include "clients/sessionctl/token.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gss/ops/v1/ops.grpc.pb.h"

namespace gss::sessionctl {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

class Runner {
 public:
  Runner(const Command& command, std::ostream& out, std::ostream& err)
      : command_(command), out_(out), err_(err) {}

  int Run(CancelHook* cancel) {
    if (command_.subcommand != Subcommand::kHelp &&
        command_.subcommand != Subcommand::kMintToken) {
      if (absl::Status status = Connect(); !status.ok()) {
        return FailLocal(status.message());
      }
    }
    switch (command_.subcommand) {
      case Subcommand::kHelp:
        out_ << HelpText();
        return kExitOk;
      case Subcommand::kList:
        return List();
      case Subcommand::kGet:
        return Get();
      case Subcommand::kWatch:
        return Watch(cancel);
      case Subcommand::kEvict:
        return Evict();
      case Subcommand::kInfo:
        return Info();
      case Subcommand::kHealth:
        return Health();
      case Subcommand::kMintToken:
        return MintTokenCommand();
    }
    return kExitError;
  }

 private:
  // The token (flag, file or environment) and the channel (TLS files read).
  absl::Status Connect() {
    const CredentialArgs& args = command_.credentials;
    OpsClientOptions options{.token = args.token,
                             .tls_ca_file = args.tls_ca_file,
                             .tls_cert_file = args.tls_cert_file,
                             .tls_key_file = args.tls_key_file,
                             .tls_server_name = args.tls_server_name};
    if (options.token.empty() && !args.token_file.empty()) {
      absl::StatusOr<std::string> token = ReadOpsTokenFile(args.token_file);
      if (!token.ok()) return token.status();
      options.token = *std::move(token);
    }
    if (options.token.empty()) {
      if (const char* token = std::getenv(kOpsTokenEnv); token != nullptr) {
        options.token = token;
      }
    }
    token_ = options.token;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        CreateOpsChannel(command_.target, options);
    if (!channel.ok()) return channel.status();
    channel_ = *std::move(channel);
    return absl::OkStatus();
  }
  std::shared_ptr<grpc::Channel> Channel() { return channel_; }
  std::unique_ptr<ops::v1::SessionInspection::Stub> Ops() {
    return ops::v1::SessionInspection::NewStub(Channel());
  }
  // The deadline and the token of one call.
  void SetDeadline(grpc::ClientContext& context) const {
    context.set_deadline(absl::ToChronoTime(absl::Now() + command_.deadline));
    AddOpsToken(context, token_);
  }

  int Fail(const grpc::Status& status, absl::string_view subject = "") {
    err_ << FormatCallError(status, subject, command_.target, command_.deadline)
         << "\n";
    return ExitCodeFor(status.error_code());
  }
  int FailLocal(absl::string_view message, int code = kExitError) {
    err_ << "sessionctl: " << message << "\n";
    return code;
  }

  // Prints `message` as JSON (pretty), or `text` for people.
  int Print(const google::protobuf::Message& message, const std::string& text) {
    if (command_.json) {
      absl::StatusOr<std::string> json = ToJson(message, /*pretty=*/true);
      if (!json.ok()) return FailLocal(json.status().message());
      out_ << *json << "\n";
    } else {
      out_ << text;
    }
    out_.flush();
    return kExitOk;
  }

  int List() {
    const ListArgs& args = command_.list;
    ops::v1::ListSessionsRequest request;
    for (ops::v1::SessionState state : args.states) request.add_states(state);
    if (args.gateway_id) request.set_gateway_id(*args.gateway_id);
    request.set_page_size(args.page_size);
    request.set_page_token(args.page_token);
    auto stub = Ops();
    ops::v1::ListSessionsResponse all;
    while (true) {
      grpc::ClientContext context;
      SetDeadline(context);
      ops::v1::ListSessionsResponse page;
      const grpc::Status status = stub->ListSessions(&context, request, &page);
      if (!status.ok()) return Fail(status);
      for (ops::v1::Session& session : *page.mutable_sessions()) {
        *all.add_sessions() = std::move(session);
      }
      all.set_next_page_token(page.next_page_token());
      if (!args.all || page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    std::string text = FormatSessionTable(all.sessions(), absl::Now());
    if (!all.next_page_token().empty()) {
      absl::StrAppend(&text, "more: --page_token ", all.next_page_token(),
                      " (or --all)\n");
    }
    return Print(all, text);
  }

  int Get() {
    grpc::ClientContext context;
    SetDeadline(context);
    ops::v1::Session session;
    const grpc::Status status =
        Ops()->GetSession(&context, command_.get, &session);
    if (!status.ok()) return Fail(status, DescribeKey(command_.get));
    return Print(session, FormatSessionDetail(session, absl::Now()));
  }

  int Evict() {
    grpc::ClientContext context;
    SetDeadline(context);
    ops::v1::EvictSessionRequest request;
    request.set_session_id(command_.evict.session_id);
    request.set_reason(command_.evict.reason);
    ops::v1::EvictSessionResponse response;
    const grpc::Status status =
        Ops()->EvictSession(&context, request, &response);
    if (!status.ok()) {
      return Fail(status, absl::StrCat("session ", request.session_id()));
    }
    return Print(response,
                 absl::StrCat("evicted: ",
                              FormatTransition(response.transition()), "\n"));
  }

  int Info() {
    grpc::ClientContext context;
    SetDeadline(context);
    ops::v1::ServerInfo info;
    const grpc::Status status =
        Ops()->GetServerInfo(&context, ops::v1::GetServerInfoRequest(), &info);
    if (!status.ok()) return Fail(status);
    return Print(info, FormatServerInfo(info, absl::Now()));
  }

  int Health() {
    grpc::ClientContext context;
    SetDeadline(context);
    HealthCheckRequest request;
    request.set_service(command_.health.service);
    HealthCheckResponse response;
    const grpc::Status status =
        grpc::health::v1::Health::NewStub(Channel())->Check(&context, request,
                                                            &response);
    if (!status.ok()) {
      return Fail(status, absl::StrCat("health of service \"",
                                       command_.health.service, "\""));
    }
    const std::string name =
        HealthCheckResponse::ServingStatus_Name(response.status());
    const int printed = Print(response, absl::StrCat(name, "\n"));
    if (printed != kExitOk) return printed;
    return response.status() == HealthCheckResponse::SERVING ? kExitOk
                                                             : kExitError;
  }

  int Watch(CancelHook* cancel) {
    const WatchArgs& args = command_.watch;
    // The deadline bounds connecting only; the stream itself runs open-ended.
    if (!Channel()->WaitForConnected(
            absl::ToChronoTime(absl::Now() + command_.deadline))) {
      return Fail(
          grpc::Status(grpc::StatusCode::UNAVAILABLE,
                       absl::StrCat("no connection within ",
                                    absl::FormatDuration(command_.deadline))));
    }
    ops::v1::WatchSessionsRequest request;
    request.set_session_id(args.session_id);
    request.set_include_snapshot(args.snapshot);
    auto stub = Ops();
    grpc::ClientContext context;
    AddOpsToken(context, token_);
    bool stopped_by_us = false;
    if (cancel != nullptr) cancel->Set([&context] { context.TryCancel(); });
    std::unique_ptr<grpc::ClientReader<ops::v1::WatchSessionsResponse>> reader =
        stub->WatchSessions(&context, request);
    ops::v1::WatchSessionsResponse event;
    int64_t transitions = 0;
    int result = kExitOk;
    while (reader->Read(&event)) {
      if (command_.json) {
        absl::StatusOr<std::string> json = ToJson(event, /*pretty=*/false);
        if (!json.ok()) {
          result = FailLocal(json.status().message());
          break;
        }
        out_ << *json << "\n";
      } else {
        out_ << FormatWatchEvent(event) << "\n";
      }
      out_.flush();  // A watch is read as it happens.
      if (event.has_transition() && args.count &&
          ++transitions >= *args.count) {
        break;
      }
    }
    // Whatever ends the loop early (count reached, a print error) cancels the
    // call so that Finish returns at once.
    if (args.count && transitions >= *args.count) stopped_by_us = true;
    if (stopped_by_us || result != kExitOk) context.TryCancel();
    const grpc::Status status = reader->Finish();
    if (cancel != nullptr) {
      if (cancel->cancelled()) stopped_by_us = true;
      cancel->Set(nullptr);
    }
    if (result != kExitOk) return result;
    if (stopped_by_us) return kExitOk;
    if (!status.ok()) {
      return Fail(status, args.session_id.empty()
                              ? std::string()
                              : absl::StrCat("session ", args.session_id));
    }
    return kExitOk;
  }

  int MintTokenCommand() {
    const MintTokenArgs& args = command_.mint_token;
    absl::StatusOr<std::string> key = ReadKeyFile(args.key_file);
    if (!key.ok()) return FailLocal(key.status().message());
    TokenClaims claims;
    claims.player = args.player;
    claims.name = args.name;
    claims.role = args.role;
    claims.permissions = args.permissions;
    claims.issued = absl::Now();
    claims.expires = claims.issued + args.ttl;
    absl::StatusOr<std::string> token = MintToken(claims, *key);
    if (!token.ok()) return FailLocal(token.status().message());
    out_ << *token << "\n";
    return kExitOk;
  }

  const Command& command_;
  std::ostream& out_;
  std::ostream& err_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string token_;
};

}  // namespace

void CancelHook::Set(std::function<void()> cancel) {
  absl::MutexLock lock(&mutex_);
  cancel_ = std::move(cancel);
  if (cancelled_ && cancel_) cancel_();
}

void CancelHook::Cancel() {
  absl::MutexLock lock(&mutex_);
  cancelled_ = true;
  if (cancel_) cancel_();
}

bool CancelHook::cancelled() const {
  absl::MutexLock lock(&mutex_);
  return cancelled_;
}

int Run(const Command& command, std::ostream& out, std::ostream& err,
        CancelHook* cancel) {
  return Runner(command, out, err).Run(cancel);
}

}  // namespace gss::sessionctl
