#include "gateway/fake_link_server.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace gss::gateway::testing {

namespace lv1 = ::gss::link::v1;

FakeLinkServer::FakeLinkServer(uint16_t port) {
  grpc::ServerBuilder builder;
  int selected = 0;
  builder.AddListeningPort(absl::StrCat("127.0.0.1:", port),
                           grpc::InsecureServerCredentials(), &selected);
  // Accept the gateway's keepalive pings on an idle stream (the real
  // service must do the same).
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 100);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  port_ = server_ != nullptr ? static_cast<uint16_t>(selected) : 0;
}

FakeLinkServer::~FakeLinkServer() { Kill(); }

std::string FakeLinkServer::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void FakeLinkServer::Kill() {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  server_.reset();
}

bool FakeLinkServer::WaitUntil(
    const std::function<bool(const State&)>& predicate,
    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto holds = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return predicate(state_);
  };
  return mu_.AwaitWithTimeout(absl::Condition(&holds), timeout);
}

FakeLinkServer::State FakeLinkServer::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

std::vector<std::string> FakeLinkServer::MessagesOf(
    uint64_t connection_id) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& event : state_.events) {
    if (event.connection_id() == connection_id && event.has_message()) {
      out.push_back(event.message());
    }
  }
  return out;
}

std::optional<lv1::PeerEvent> FakeLinkServer::ClosedEventOf(
    uint64_t connection_id) const {
  absl::MutexLock lock(&mu_);
  for (const auto& event : state_.events) {
    if (event.connection_id() == connection_id && event.has_closed()) {
      return event;
    }
  }
  return std::nullopt;
}

bool FakeLinkServer::Send(const lv1::ServiceMessage& message) {
  absl::MutexLock lock(&write_mu_);
  return stream_ != nullptr && stream_->Write(message);
}

bool FakeLinkServer::Deliver(uint64_t connection_id, const std::string& bytes) {
  lv1::ServiceMessage message;
  lv1::PeerCommand* command = message.mutable_commands()->add_commands();
  command->set_connection_id(connection_id);
  command->set_deliver(bytes);
  return Send(message);
}

bool FakeLinkServer::Close(uint64_t connection_id,
                           const std::string& final_message,
                           const std::string& reason) {
  lv1::ServiceMessage message;
  lv1::PeerCommand* command = message.mutable_commands()->add_commands();
  command->set_connection_id(connection_id);
  command->mutable_close()->set_reason(reason);
  command->mutable_close()->set_final_message(final_message);
  return Send(message);
}

void FakeLinkServer::AcknowledgeReports(bool acknowledge) {
  absl::MutexLock lock(&mu_);
  acknowledge_reports_ = acknowledge;
}

grpc::Status FakeLinkServer::Attach(
    grpc::ServerContext*,
    grpc::ServerReaderWriter<lv1::ServiceMessage, lv1::GatewayMessage>*
        stream) {
  lv1::GatewayMessage message;
  while (stream->Read(&message)) {
    if (message.has_hello()) {
      {
        absl::MutexLock lock(&write_mu_);
        stream_ = stream;
        lv1::ServiceMessage ack;
        ack.mutable_hello_ack()->set_instance_id("fake");
        stream->Write(ack);
      }
      absl::MutexLock lock(&mu_);
      state_.hellos.push_back(message.hello());
    } else if (message.has_events()) {
      bool acknowledge = false;
      {
        absl::MutexLock lock(&mu_);
        for (const auto& event : message.events().events()) {
          state_.events.push_back(event);
        }
        if (message.events().has_liveness()) {
          state_.reports.push_back(message.events().liveness());
          acknowledge = acknowledge_reports_;
        }
      }
      if (acknowledge) {
        lv1::ServiceMessage ack;
        ack.mutable_commands()->set_liveness_applied(
            message.events().liveness().report_id());
        absl::MutexLock lock(&write_mu_);
        stream->Write(ack);
      }
    }
  }
  {
    absl::MutexLock lock(&write_mu_);
    if (stream_ == stream) stream_ = nullptr;
  }
  absl::MutexLock lock(&mu_);
  ++state_.streams_ended;
  return grpc::Status::OK;
}

}  // namespace gss::gateway::testing
