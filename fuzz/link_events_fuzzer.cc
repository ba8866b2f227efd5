// Fuzz target for what a gateway sends the session service: bytes parsed as a
// gss.link.v1.EventBatch and applied to a ServerNetworkHost on a manual clock,
// with the host's commands and sessions checked after every step.
//
// Input: a serialized EventBatch, read with two conventions so that one input
// can tell a story over time:
//  - an event with no kind (which the host drops) also ends a step: the
//    events before it are applied as one batch, then the clock moves on by
//    its connection_id in milliseconds (modulo two minutes) and the host's
//    deadlines fire;
//  - in a Resume, a resume_token "@n", and in a ShootInput, a
//    target_session_id "@n", stand for the n-th token or session id a Welcome
//    gave out in an earlier step (random secrets cannot be guessed);
//  - the batch's liveness report (heartbeats a gateway answered) goes with
//    the last step.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/session_types.h"
#include "fuzz/fuzz_check.h"
#include "google/protobuf/stubs/logging.h"
#include "gss/game/v1/game.pb.h"
#include "gss/link/v1/link.pb.h"
#include "session_service/authenticator.h"
#include "session_service/metrics.h"
#include "session_service/server_network_host.h"

namespace {

using gss::link::v1::EventBatch;
using gss::link::v1::PeerCommand;
using gss::link::v1::PeerEvent;

constexpr uint32_t kGateway = 7;
constexpr uint64_t kHelloPeers[] = {1, 2};
constexpr int64_t kMaxSessions = 4;
// Connections that have not logged in may exceed max_sessions by this much.
constexpr int64_t kPendingHeadroom = 16;
constexpr uint64_t kMaxStepMs = 120'000;

class RecordingSink final : public gss::CommandSink {
 public:
  void Push(PeerCommand command) override {
    absl::MutexLock lock(&mu_);
    commands_.push_back(std::move(command));
  }
  std::vector<PeerCommand> Take() {
    absl::MutexLock lock(&mu_);
    return std::exchange(commands_, {});
  }

 private:
  absl::Mutex mu_;
  std::vector<PeerCommand> commands_ ABSL_GUARDED_BY(mu_);
};

// Counters only: sharing one set across inputs changes no decision.
std::shared_ptr<gss::ServiceMetrics> Metrics() {
  static auto* metrics = new std::shared_ptr<gss::ServiceMetrics>(
      std::make_shared<gss::ServiceMetrics>());
  return *metrics;
}

struct Story {
  gss::ManualClock clock{absl::FromUnixSeconds(1'700'000'000)};
  std::shared_ptr<RecordingSink> sink = std::make_shared<RecordingSink>();
  std::unique_ptr<gss::ServerNetworkHost> host;
  // Connections the gateway has told the service of, one way or another.
  absl::flat_hash_set<uint64_t> known_connections;
  std::vector<std::string> tokens;
  std::vector<std::string> session_ids;
};

// "@n" -> the n-th (modulo) of `issued`; anything else stays.
bool Substitute(const std::vector<std::string>& issued, std::string& text) {
  if (issued.empty() || text.size() < 2 || text.size() > 4 || text[0] != '@') {
    return false;
  }
  uint32_t n = 0;
  if (!absl::SimpleAtoi(absl::string_view(text).substr(1), &n)) return false;
  text = issued[n % issued.size()];
  return true;
}

void ResolveReferences(const Story& story, PeerEvent& event) {
  if (event.kind_case() != PeerEvent::kMessage) return;
  gss::game::v1::ClientMessage message;
  if (!message.ParseFromString(event.message())) return;
  bool changed = false;
  if (message.has_resume()) {
    changed = Substitute(story.tokens,
                         *message.mutable_resume()->mutable_resume_token());
  } else if (message.has_shoot()) {
    changed = Substitute(story.session_ids,
                         *message.mutable_shoot()->mutable_target_session_id());
  }
  if (changed) event.set_message(message.SerializeAsString());
}

void CheckServerMessage(Story& story, const std::string& bytes) {
  gss::game::v1::ServerMessage message;
  FUZZ_CHECK(message.ParseFromString(bytes));
  FUZZ_CHECK(message.body_case() != gss::game::v1::ServerMessage::BODY_NOT_SET);
  if (!message.has_welcome()) return;
  const gss::game::v1::Welcome& welcome = message.welcome();
  const absl::StatusOr<gss::SessionId> id =
      gss::SessionId::Parse(welcome.session_id());
  FUZZ_CHECK(id.ok());
  FUZZ_CHECK(id->instance_tag() ==
             story.host->sessions().options().instance_tag);
  const absl::StatusOr<gss::ResumeToken> token =
      gss::ResumeToken::Parse(welcome.resume_token());
  FUZZ_CHECK(token.ok());
  FUZZ_CHECK(token->session == *id);
  FUZZ_CHECK(welcome.server_info().instance_id() == story.host->instance_id());
  story.tokens.push_back(welcome.resume_token());
  story.session_ids.push_back(welcome.session_id());
}

// Every command goes to a connection the gateway named and carries a
// well-formed game message.
void CheckCommands(Story& story) {
  for (const PeerCommand& command : story.sink->Take()) {
    FUZZ_CHECK(story.known_connections.contains(command.connection_id()));
    switch (command.kind_case()) {
      case PeerCommand::kDeliver:
        CheckServerMessage(story, command.deliver());
        break;
      case PeerCommand::kClose:
        FUZZ_CHECK(!command.close().reason().empty());
        if (!command.close().final_message().empty()) {
          CheckServerMessage(story, command.close().final_message());
        }
        break;
      case PeerCommand::KIND_NOT_SET:
        FUZZ_CHECK(false);
    }
  }
}

void CheckSessions(const Story& story) {
  const gss::MultiSessionManager& sessions = story.host->sessions();
  const gss::StateCounts counts = sessions.Counts();
  auto count = [&counts](gss::SessionState state) {
    return counts.by_state[static_cast<int>(state)];
  };
  FUZZ_CHECK(counts.total() == static_cast<int64_t>(sessions.size()));
  FUZZ_CHECK(counts.total() <= kMaxSessions + kPendingHeadroom);
  FUZZ_CHECK(count(gss::SessionState::kActive) +
                 count(gss::SessionState::kSuspect) +
                 count(gss::SessionState::kReconnecting) <=
             kMaxSessions);
  FUZZ_CHECK(count(gss::SessionState::kClosed) == 0);

  gss::ListOptions list;
  list.page_size = 1000;
  const gss::SessionPage page = sessions.List(list);
  FUZZ_CHECK(static_cast<int64_t>(page.sessions.size()) == counts.total());
  const gss::GameplayRules& rules = sessions.options().rules;
  absl::flat_hash_set<std::string> players;
  for (const gss::SessionSnapshot& session : page.sessions) {
    FUZZ_CHECK(session.remote.has_value() ==
               (session.state != gss::SessionState::kReconnecting));
    if (session.remote) {
      FUZZ_CHECK(session.remote->gateway_id == kGateway);
      FUZZ_CHECK(
          story.known_connections.contains(session.remote->connection_id));
      const std::optional<gss::SessionSnapshot> bound =
          sessions.FindByRemote(*session.remote);
      FUZZ_CHECK(bound.has_value() && bound->id == session.id);
    }
    if (!session.player_id.empty()) {
      // One session per player: a second login replaces the first.
      FUZZ_CHECK(players.insert(session.player_id).second);
      FUZZ_CHECK(session.position.x >= 0 &&
                 session.position.x < rules.world.grid_size);
      FUZZ_CHECK(session.position.y >= 0 &&
                 session.position.y < rules.world.grid_size);
      FUZZ_CHECK(session.health >= 0 &&
                 session.health <= rules.combat.max_health);
    }
  }
}

void ApplyStep(Story& story, EventBatch& step) {
  for (PeerEvent& event : *step.mutable_events()) {
    ResolveReferences(story, event);
    story.known_connections.insert(event.connection_id());
    if (event.has_connected()) {
      story.known_connections.insert(event.connected().peer().connection_id());
    }
  }
  story.host->HandleEvents(kGateway, step);
  CheckCommands(story);
  CheckSessions(story);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs every string field that is not UTF-8; at fuzzing speed
  // that is most of the time spent.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  EventBatch batch;
  if (!batch.ParseFromArray(data, static_cast<int>(size))) return 0;
  // The batch survives a trip through its own encoding.
  EventBatch reparsed;
  FUZZ_CHECK(reparsed.ParseFromString(batch.SerializeAsString()));
  FUZZ_CHECK(reparsed.SerializeAsString() == batch.SerializeAsString());

  Story story;
  gss::HostOptions options;
  options.instance_id = "fuzz-instance";
  options.version = "0.0.0-fuzz";
  options.sessions.max_sessions = kMaxSessions;
  options.sessions.shard_count = 4;
  options.sessions.timer_slots = 64;
  auto host = gss::ServerNetworkHost::Create(
      std::move(options), story.clock,
      std::make_shared<gss::DevAuthenticator>(), Metrics());
  FUZZ_CHECK(host.ok());
  story.host = *std::move(host);

  gss::link::v1::Hello hello;
  hello.set_gateway_id(kGateway);
  hello.set_gateway_name("fuzz-gateway");
  for (uint64_t connection : kHelloPeers) {
    gss::link::v1::Peer* peer = hello.add_peers();
    peer->set_connection_id(connection);
    peer->set_address("192.0.2.1:4000");
    peer->set_transport(gss::link::v1::TRANSPORT_UDP);
    story.known_connections.insert(connection);
  }
  const auto attached = story.host->AttachGateway(hello, story.sink);
  FUZZ_CHECK(attached.ok());
  FUZZ_CHECK(attached->ack.unknown_connection_ids_size() ==
             static_cast<int>(std::size(kHelloPeers)));
  CheckCommands(story);
  CheckSessions(story);

  EventBatch step;
  for (const PeerEvent& event : batch.events()) {
    *step.add_events() = event;
    if (event.kind_case() != PeerEvent::KIND_NOT_SET) continue;
    ApplyStep(story, step);
    step.Clear();
    story.clock.Advance(
        absl::Milliseconds(event.connection_id() % (kMaxStepMs + 1)));
    story.host->AdvanceTime();
    CheckCommands(story);
    CheckSessions(story);
  }
  if (batch.has_liveness()) *step.mutable_liveness() = batch.liveness();
  if (step.events_size() > 0 || step.has_liveness()) ApplyStep(story, step);

  // Stopping leaves nothing behind, and every connected peer is told.
  story.host->BeginDrain();
  CheckCommands(story);
  story.host->Quiesce();
  story.host->Clear();
  CheckCommands(story);
  FUZZ_CHECK(story.host->sessions().size() == 0);
  return 0;
}
