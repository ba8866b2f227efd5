// One test per scenario of the multi-session lifecycle specification
// (seeds/002): each asserts that scenario's WHEN and THEN on the server
// composition, MultiSessionManager, driven by a manual clock.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/gameplay_rules.h"
#include "common/multi_session_manager.h"
#include "common/session_state.h"
#include "common/session_types.h"
#include "common/test_printers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gss {

namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using R = CloseReason;
using S = SessionState;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

RemoteIdentity Remote(uint64_t connection, uint32_t gateway = 1) {
  RemoteIdentity remote;
  remote.gateway_id = gateway;
  remote.connection_id = connection;
  remote.address = PeerAddress::V4(
      0x0A000000u | static_cast<uint32_t>(connection & 0xFFFF), 40000);
  return remote;
}

ResumeSecret Secret(uint8_t seed) {
  ResumeSecret secret;
  secret.fill(seed);
  return secret;
}

PlayerGrant Grant(const std::string& player,
                  std::optional<GridPosition> at = std::nullopt) {
  PlayerGrant grant;
  grant.player_id = player;
  grant.display_name = "Player " + player;
  grant.role = "player";
  grant.start_position = at;
  return grant;
}

// The transitions in `fired` that belong to `session`.
std::vector<SessionTransition> Of(SessionId session,
                                  const std::vector<SessionTransition>& fired) {
  std::vector<SessionTransition> out;
  for (const SessionTransition& t : fired) {
    if (t.session == session) out.push_back(t);
  }
  return out;
}

class MultiSessionLifecycleScenarios : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<MultiSessionManager>> created =
        MultiSessionManager::Create(MultiSessionOptions{}, clock_);
    ASSERT_TRUE(created.ok()) << created.status();
    manager_ = *std::move(created);
  }

  const ServerSessionPolicy& policy() const {
    return manager_->options().policy;
  }
  absl::Duration resolution() const {
    return manager_->options().timer_resolution;
  }

  SessionId Connect(const RemoteIdentity& remote) {
    absl::StatusOr<ConnectOutcome> outcome =
        manager_->OnTransportConnected(remote);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    if (!outcome.ok()) return SessionId{};
    EXPECT_TRUE(outcome->created);
    return outcome->session;
  }

  LoginOutcome ConnectAndLogIn(const RemoteIdentity& remote,
                               const std::string& player,
                               std::optional<GridPosition> at = std::nullopt) {
    Connect(remote);
    absl::StatusOr<LoginOutcome> login =
        manager_->Login(remote, Grant(player, at), Secret(7));
    EXPECT_TRUE(login.ok()) << login.status();
    return login.ok() ? *login : LoginOutcome{};
  }

  std::optional<SessionState> StateOf(SessionId session) const {
    std::optional<SessionSnapshot> snapshot = manager_->FindBySession(session);
    if (!snapshot) return std::nullopt;
    return snapshot->state;
  }

  // Moves the clock to `since_start` and fires the deadlines due by then.
  std::vector<SessionTransition> AdvanceTo(absl::Duration since_start) {
    clock_.Set(kStart + since_start);
    return manager_->AdvanceTime();
  }

  ManualClock clock_{kStart};
  std::unique_ptr<MultiSessionManager> manager_;
};

TEST_F(MultiSessionLifecycleScenarios, ServerTracksTwoPeersIndependently) {
  const RemoteIdentity alice = Remote(1);
  const RemoteIdentity bob = Remote(2);

  // WHEN a server host accepts transport activity from two different remote
  // peers,
  absl::StatusOr<ConnectOutcome> a = manager_->OnTransportConnected(alice);
  absl::StatusOr<ConnectOutcome> b = manager_->OnTransportConnected(bob);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(manager_->OnInboundMessage(alice).ok());
  absl::StatusOr<ConnectOutcome> alice_again =
      manager_->OnTransportConnected(alice);
  ASSERT_TRUE(alice_again.ok());

  // THEN the coordinator creates or resolves two distinct managed sessions,
  EXPECT_TRUE(a->created);
  EXPECT_TRUE(b->created);
  EXPECT_NE(a->session, b->session);
  EXPECT_FALSE(alice_again->created);
  EXPECT_EQ(alice_again->session, a->session);
  EXPECT_EQ(manager_->size(), 2u);
  ASSERT_TRUE(manager_->FindByRemote(alice).has_value());
  ASSERT_TRUE(manager_->FindByRemote(bob).has_value());
  EXPECT_EQ(manager_->FindByRemote(alice)->id, a->session);
  EXPECT_EQ(manager_->FindByRemote(bob)->id, b->session);

  // THEN lifecycle changes for one peer do not overwrite or hide the state of
  // the other peer.
  ASSERT_TRUE(manager_->Login(alice, Grant("alice"), Secret(1)).ok());
  EXPECT_EQ(StateOf(a->session), S::kActive);
  std::optional<SessionSnapshot> bob_view = manager_->FindByRemote(bob);
  ASSERT_TRUE(bob_view.has_value());
  EXPECT_EQ(bob_view->state, S::kAuthenticating);
  EXPECT_EQ(bob_view->player_id, "");

  ASSERT_TRUE(manager_->Login(bob, Grant("bob"), Secret(2)).ok());
  absl::StatusOr<std::optional<SessionTransition>> lost =
      manager_->OnTransportClosed(alice, /*orderly=*/false);
  ASSERT_TRUE(lost.ok()) << lost.status();
  ASSERT_TRUE(lost->has_value());
  EXPECT_EQ((*lost)->session, a->session);
  EXPECT_EQ((*lost)->transition.to, S::kReconnecting);

  EXPECT_EQ(StateOf(a->session), S::kReconnecting);
  bob_view = manager_->FindByRemote(bob);
  ASSERT_TRUE(bob_view.has_value());
  EXPECT_EQ(bob_view->id, b->session);
  EXPECT_EQ(bob_view->state, S::kActive);
  EXPECT_EQ(bob_view->player_id, "bob");
  EXPECT_EQ(bob_view->remote, bob);
  EXPECT_EQ(manager_->FindByPlayer("alice")->state, S::kReconnecting);
  EXPECT_EQ(manager_->size(), 2u);
}

TEST_F(MultiSessionLifecycleScenarios, TimeoutAffectsOnlyOneManagedSession) {
  const RemoteIdentity healthy_remote = Remote(1);
  const RemoteIdentity silent_remote = Remote(2);
  const SessionId healthy = ConnectAndLogIn(healthy_remote, "healthy").session;
  const SessionId silent = ConnectAndLogIn(silent_remote, "silent").session;

  std::vector<SessionTransition> fired;
  absl::Duration now = absl::ZeroDuration();
  // WHEN the healthy peer heartbeats every 10 s while the other goes silent:
  // the clock moves in steps of at most one second, the host runs the
  // deadlines after every step, and the healthy session must stay Active
  // after each one.
  auto run_until = [&](absl::Duration until) {
    while (now < until) {
      const absl::Duration next_beat =
          absl::Seconds(10) * (now / absl::Seconds(10) + 1);
      absl::Duration next = std::min(now + absl::Seconds(1), until);
      if (next >= next_beat) next = next_beat;
      now = next;
      clock_.Set(kStart + now);
      if (now == next_beat) {
        ASSERT_TRUE(manager_->OnHeartbeat(healthy_remote).ok());
      }
      std::vector<SessionTransition> step = manager_->AdvanceTime();
      fired.insert(fired.end(), step.begin(), step.end());
      ASSERT_EQ(StateOf(healthy), S::kActive)
          << "at " << absl::FormatDuration(now);
    }
  };

  const absl::Duration suspect_due = policy().suspect_after;
  const absl::Duration lost_due = policy().liveness_timeout;
  const absl::Duration grace_due = lost_due + policy().reconnect_grace;

  // THEN the timed-out session moves through Suspect and Reconnecting to
  // Closed(grace_expired), each no earlier than its deadline and within one
  // timer resolution after it,
  run_until(suspect_due - absl::Nanoseconds(1));
  EXPECT_EQ(StateOf(silent), S::kActive);
  run_until(suspect_due + resolution());
  EXPECT_EQ(StateOf(silent), S::kSuspect);

  run_until(lost_due - absl::Nanoseconds(1));
  EXPECT_EQ(StateOf(silent), S::kSuspect);
  run_until(lost_due + resolution());
  EXPECT_EQ(StateOf(silent), S::kReconnecting);
  std::optional<SessionSnapshot> held = manager_->FindBySession(silent);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->remote, std::nullopt);
  EXPECT_FALSE(manager_->FindByRemote(silent_remote).has_value());

  run_until(grace_due - absl::Nanoseconds(1));
  EXPECT_EQ(StateOf(silent), S::kReconnecting);
  run_until(grace_due + resolution());
  EXPECT_EQ(StateOf(silent), std::nullopt);

  std::vector<SessionTransition> silent_steps = Of(silent, fired);
  ASSERT_EQ(silent_steps.size(), 3u);
  EXPECT_EQ(silent_steps[0].transition.from, S::kActive);
  EXPECT_EQ(silent_steps[0].transition.to, S::kSuspect);
  EXPECT_EQ(silent_steps[0].at, kStart + suspect_due);
  EXPECT_EQ(silent_steps[1].transition.to, S::kReconnecting);
  EXPECT_EQ(silent_steps[1].at, kStart + lost_due);
  EXPECT_EQ(silent_steps[1].remote, silent_remote);  // For the host to close.
  EXPECT_EQ(silent_steps[2].transition.to, S::kClosed);
  EXPECT_EQ(silent_steps[2].transition.reason, R::kGraceExpired);
  EXPECT_EQ(silent_steps[2].at, kStart + grace_due);

  // THEN the active session remains in its current healthy state.
  EXPECT_THAT(Of(healthy, fired), IsEmpty());
  std::optional<SessionSnapshot> healthy_view =
      manager_->FindByRemote(healthy_remote);
  ASSERT_TRUE(healthy_view.has_value());
  EXPECT_EQ(healthy_view->state, S::kActive);
  EXPECT_EQ(healthy_view->transitions, 2u);  // Connected, logged in.
  EXPECT_EQ(manager_->Counts().by_state[static_cast<int>(S::kActive)], 1);
  EXPECT_EQ(manager_->size(), 1u);
}

TEST_F(MultiSessionLifecycleScenarios, HostCanInspectCurrentManagedSessions) {
  const RemoteIdentity active_remote = Remote(1);
  const RemoteIdentity suspect_remote = Remote(2);
  const RemoteIdentity held_remote = Remote(3);
  const RemoteIdentity new_remote = Remote(4, /*gateway=*/2);
  const SessionId active = ConnectAndLogIn(active_remote, "active").session;
  const SessionId suspect = ConnectAndLogIn(suspect_remote, "suspect").session;
  const SessionId held = ConnectAndLogIn(held_remote, "held").session;
  AdvanceTo(absl::Seconds(1));
  ASSERT_TRUE(manager_->OnTransportClosed(held_remote, false).ok());
  AdvanceTo(absl::Seconds(10));
  ASSERT_TRUE(manager_->OnHeartbeat(active_remote).ok());
  AdvanceTo(absl::Seconds(16));
  const SessionId fresh = Connect(new_remote);

  // WHEN server-side code inspects the connected peers, THEN it can look them
  // up (by remote, by session, by player)...
  struct Expected {
    SessionId id;
    SessionState state;
    std::optional<RemoteIdentity> remote;
    std::string player;
  };
  const std::vector<Expected> expected = {
      {active, S::kActive, active_remote, "active"},
      {suspect, S::kSuspect, suspect_remote, "suspect"},
      {held, S::kReconnecting, std::nullopt, "held"},
      {fresh, S::kAuthenticating, new_remote, ""},
  };
  for (const Expected& e : expected) {
    SCOPED_TRACE(e.id.ToString());
    std::optional<SessionSnapshot> by_session = manager_->FindBySession(e.id);
    ASSERT_TRUE(by_session.has_value());
    // ...and each entry exposes the lifecycle state of that specific peer.
    EXPECT_EQ(by_session->state, e.state);
    EXPECT_EQ(by_session->remote, e.remote);
    EXPECT_EQ(by_session->player_id, e.player);
    if (e.remote) {
      std::optional<SessionSnapshot> by_remote =
          manager_->FindByRemote(*e.remote);
      ASSERT_TRUE(by_remote.has_value());
      EXPECT_EQ(by_remote->id, e.id);
      EXPECT_EQ(by_remote->state, e.state);
    }
    if (!e.player.empty()) {
      std::optional<SessionSnapshot> by_player =
          manager_->FindByPlayer(e.player);
      ASSERT_TRUE(by_player.has_value());
      EXPECT_EQ(by_player->id, e.id);
      EXPECT_EQ(by_player->state, e.state);
    }
  }
  EXPECT_FALSE(manager_->FindByRemote(held_remote).has_value());

  // ...or enumerate them.
  SessionPage page = manager_->List({});
  EXPECT_EQ(page.next_after, std::nullopt);
  ASSERT_EQ(page.sessions.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(page.sessions[i].id, expected[i].id);
    EXPECT_EQ(page.sessions[i].state, expected[i].state);
    EXPECT_EQ(page.sessions[i].remote, expected[i].remote);
  }
  SessionPage suspects =
      manager_->List({.state_mask = 1u << static_cast<int>(S::kSuspect)});
  ASSERT_EQ(suspects.sessions.size(), 1u);
  EXPECT_EQ(suspects.sessions[0].id, suspect);
  SessionPage on_gateway_2 = manager_->List({.gateway_id = 2});
  ASSERT_EQ(on_gateway_2.sessions.size(), 1u);
  EXPECT_EQ(on_gateway_2.sessions[0].id, fresh);

  const StateCounts counts = manager_->Counts();
  EXPECT_EQ(counts.by_state[static_cast<int>(S::kAuthenticating)], 1);
  EXPECT_EQ(counts.by_state[static_cast<int>(S::kActive)], 1);
  EXPECT_EQ(counts.by_state[static_cast<int>(S::kSuspect)], 1);
  EXPECT_EQ(counts.by_state[static_cast<int>(S::kReconnecting)], 1);
  EXPECT_EQ(counts.total(), 4);
}

TEST_F(MultiSessionLifecycleScenarios, MovementTickFilteringRemainsPeerScoped) {
  const RemoteIdentity a = Remote(1);
  const RemoteIdentity b = Remote(2);
  const LoginOutcome a_login = ConnectAndLogIn(a, "a", GridPosition{10, 10});
  const LoginOutcome b_login = ConnectAndLogIn(b, "b", GridPosition{20, 20});
  ASSERT_EQ(a_login.server_tick, 0);
  ASSERT_EQ(b_login.server_tick, 0);
  AdvanceTo(manager_->options().rules.world.movement_tick * 6);
  ASSERT_EQ(manager_->CurrentTick(), 6);

  auto move = [&](const RemoteIdentity& remote, int64_t tick, int32_t dx) {
    absl::StatusOr<MoveOutcome> outcome =
        manager_->ApplyMove(remote, MoveInput{tick, dx, 0});
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return outcome.ok() ? outcome->result : MoveResult{};
  };

  // WHEN two peers send MoveInput with different tick progress and ordering:
  // A runs ahead (tick 6), B lags behind (tick 2).
  MoveResult a1 = move(a, 6, +1);
  MoveResult b1 = move(b, 2, -1);
  // THEN stale-input acceptance is evaluated independently per peer: tick 4
  // is stale for A (behind its tick 6) yet new for B (ahead of its tick 2).
  MoveResult a_late = move(a, 4, +1);
  MoveResult b2 = move(b, 4, -1);
  MoveResult b_replay = move(b, 4, -1);
  // A's advanced input (tick 10 = server 6 + 4 ahead) is accepted for A only;
  // one beyond that is refused for A without touching B.
  MoveResult a2 = move(a, 10, +4);
  MoveResult a_too_far = move(a, 11, +1);
  MoveResult b3 = move(b, 5, -1);

  EXPECT_EQ(a1.rejection, InputRejection::kNone);
  EXPECT_EQ(b1.rejection, InputRejection::kNone);
  EXPECT_EQ(a_late.rejection, InputRejection::kStaleTick);
  EXPECT_EQ(a_late.position, (GridPosition{11, 10}));
  EXPECT_EQ(b2.rejection, InputRejection::kNone);
  EXPECT_EQ(b_replay.rejection, InputRejection::kStaleTick);
  EXPECT_EQ(b_replay.position, (GridPosition{18, 20}));
  EXPECT_EQ(a2.rejection, InputRejection::kNone);
  EXPECT_EQ(a_too_far.rejection, InputRejection::kTickTooFarAhead);
  EXPECT_EQ(b3.rejection, InputRejection::kNone);

  // THEN one peer's late or advanced input neither overwrites nor suppresses
  // the other's authoritative movement state.
  std::optional<SessionSnapshot> a_view = manager_->FindByRemote(a);
  std::optional<SessionSnapshot> b_view = manager_->FindByRemote(b);
  ASSERT_TRUE(a_view.has_value());
  ASSERT_TRUE(b_view.has_value());
  EXPECT_EQ(a_view->position, (GridPosition{15, 10}));
  EXPECT_EQ(a_view->last_move_tick, 10);
  EXPECT_EQ(b_view->position, (GridPosition{17, 20}));
  EXPECT_EQ(b_view->last_move_tick, 5);
}

TEST_F(MultiSessionLifecycleScenarios, ShootValidationRemainsPeerScoped) {
  const RemoteIdentity a = Remote(1);
  const RemoteIdentity b = Remote(2);
  const RemoteIdentity c = Remote(3);
  const SessionId a_id = ConnectAndLogIn(a, "a", GridPosition{10, 10}).session;
  const SessionId b_id = ConnectAndLogIn(b, "b", GridPosition{12, 10}).session;
  const SessionId c_id = ConnectAndLogIn(c, "c", GridPosition{14, 10}).session;
  const CombatConfig& combat = manager_->options().rules.combat;
  AdvanceTo(absl::Seconds(1));
  ASSERT_EQ(manager_->CurrentTick(), 20);

  auto shoot = [&](const RemoteIdentity& from, int64_t tick, SessionId at) {
    absl::StatusOr<ShootOutcome> outcome = manager_->ApplyShoot(from, tick, at);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return outcome.ok() ? outcome->result : ShootResult{};
  };
  auto health = [&](SessionId id) {
    return manager_->FindBySession(id)->health;
  };
  auto last_shot = [&](SessionId id) {
    return manager_->FindBySession(id)->last_shot_tick;
  };

  // WHEN peers shoot with different tick progress, targets and failures:
  // A hits B at tick 20; B, lagging, hits A at tick 18 (older than A's shot,
  // but B's own first).
  EXPECT_EQ(shoot(a, 20, b_id).rejection, InputRejection::kNone);
  EXPECT_EQ(shoot(b, 18, a_id).rejection, InputRejection::kNone);
  // C's invalid requests are refused for C alone...
  EXPECT_EQ(shoot(c, 21, c_id).rejection, InputRejection::kSelfTarget);
  EXPECT_EQ(shoot(c, 21, SessionId::Make(1, 999'999, 0)).rejection,
            InputRejection::kUnknownTarget);
  EXPECT_EQ(shoot(c, 10, a_id).rejection, InputRejection::kOutsideLagWindow);
  // ...A firing again at once hits A's cooldown, not C's, and B replaying
  // its tick is stale for B only.
  EXPECT_EQ(shoot(a, 21, b_id).rejection, InputRejection::kFireCooldown);
  EXPECT_EQ(shoot(c, 19, b_id).rejection, InputRejection::kNone);
  EXPECT_EQ(shoot(b, 18, c_id).rejection, InputRejection::kStaleTick);

  // THEN acceptance and rejection were evaluated per sender, and no stale or
  // invalid request changed anybody's authoritative combat state.
  EXPECT_EQ(health(a_id), combat.max_health - combat.damage);
  EXPECT_EQ(health(b_id), combat.max_health - 2 * combat.damage);
  EXPECT_EQ(health(c_id), combat.max_health);
  EXPECT_EQ(last_shot(a_id), 20);
  EXPECT_EQ(last_shot(b_id), 18);
  EXPECT_EQ(last_shot(c_id), 19);

  // After its own cooldown A fires again; the others are untouched.
  AdvanceTo(absl::Seconds(1) + combat.fire_cooldown);
  EXPECT_EQ(shoot(a, 22, c_id).rejection, InputRejection::kNone);
  EXPECT_EQ(health(c_id), combat.max_health - combat.damage);
  EXPECT_EQ(health(a_id), combat.max_health - combat.damage);
  EXPECT_EQ(health(b_id), combat.max_health - 2 * combat.damage);
  EXPECT_EQ(last_shot(a_id), 22);
  EXPECT_EQ(last_shot(b_id), 18);
  EXPECT_EQ(last_shot(c_id), 19);
}

TEST_F(MultiSessionLifecycleScenarios, DisconnectRemovesOneSessionOnly) {
  const RemoteIdentity leaver_remote = Remote(1);
  const RemoteIdentity dropped_remote = Remote(2);
  const RemoteIdentity evicted_remote = Remote(3);
  const RemoteIdentity stayer_remote = Remote(4);
  const SessionId leaver = ConnectAndLogIn(leaver_remote, "leaver").session;
  const SessionId dropped = ConnectAndLogIn(dropped_remote, "dropped").session;
  const SessionId evicted = ConnectAndLogIn(evicted_remote, "evicted").session;
  const SessionId stayer =
      ConnectAndLogIn(stayer_remote, "stayer", GridPosition{3, 3}).session;
  AdvanceTo(absl::Seconds(1));
  ASSERT_TRUE(
      manager_->ApplyMove(stayer_remote, {manager_->CurrentTick(), 1, 0}).ok());
  const SessionSnapshot stayer_before = *manager_->FindBySession(stayer);

  auto expect_stayer_untouched = [&] {
    std::optional<SessionSnapshot> now = manager_->FindByRemote(stayer_remote);
    ASSERT_TRUE(now.has_value());
    EXPECT_EQ(now->id, stayer);
    EXPECT_EQ(now->state, S::kActive);
    EXPECT_EQ(now->position, (GridPosition{4, 3}));
    EXPECT_EQ(now->last_move_tick, stayer_before.last_move_tick);
    EXPECT_EQ(now->transitions, stayer_before.transitions);
    EXPECT_EQ(now->state_since, stayer_before.state_since);
    EXPECT_EQ(manager_->FindByPlayer("stayer")->id, stayer);
  };

  // WHEN one peer disconnects in an orderly way, THEN its session is removed
  // and the others remain queryable with their own state.
  absl::StatusOr<std::optional<SessionTransition>> left =
      manager_->OnTransportClosed(leaver_remote, /*orderly=*/true);
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_TRUE(left->has_value());
  EXPECT_EQ((*left)->transition.reason, R::kTransportClosed);
  EXPECT_EQ(StateOf(leaver), std::nullopt);
  EXPECT_FALSE(manager_->FindByRemote(leaver_remote).has_value());
  EXPECT_FALSE(manager_->FindByPlayer("leaver").has_value());
  expect_stayer_untouched();
  EXPECT_EQ(StateOf(dropped), S::kActive);
  EXPECT_EQ(StateOf(evicted), S::kActive);

  // WHEN another peer's transport breaks, THEN its session is updated (held
  // for resume), the others unchanged.
  ASSERT_TRUE(manager_->OnTransportClosed(dropped_remote, false).ok());
  EXPECT_EQ(StateOf(dropped), S::kReconnecting);
  expect_stayer_untouched();
  EXPECT_EQ(StateOf(evicted), S::kActive);

  // WHEN the host evicts a peer, THEN only that session is removed.
  absl::StatusOr<SessionTransition> eviction = manager_->Evict(evicted);
  ASSERT_TRUE(eviction.ok()) << eviction.status();
  EXPECT_EQ(eviction->transition.reason, R::kEvicted);
  EXPECT_EQ(eviction->remote, evicted_remote);
  EXPECT_EQ(StateOf(evicted), std::nullopt);
  EXPECT_FALSE(manager_->FindByRemote(evicted_remote).has_value());
  expect_stayer_untouched();
  EXPECT_EQ(StateOf(dropped), S::kReconnecting);
  EXPECT_EQ(manager_->FindByPlayer("dropped")->id, dropped);

  std::vector<SessionId> listed;
  for (const SessionSnapshot& s : manager_->List({}).sessions) {
    listed.push_back(s.id);
  }
  EXPECT_THAT(listed, UnorderedElementsAre(dropped, stayer));
  const StateCounts counts = manager_->Counts();
  EXPECT_EQ(counts.by_state[static_cast<int>(S::kActive)], 1);
  EXPECT_EQ(counts.by_state[static_cast<int>(S::kReconnecting)], 1);
  EXPECT_EQ(counts.total(), 2);
  EXPECT_EQ(manager_->size(), 2u);
}

// The server runtime entry point (ServerRuntime owning ServerNetworkHost)
// comes with session_service; the runtime-level versions of the two
// entry-point scenarios belong there. Here: what the core already promises.
TEST_F(MultiSessionLifecycleScenarios,
       EntryPointStartupExposesMultiSessionLifecycleOwnershipAtCoreLevel) {
  ManualClock clock(kStart);
  // WHEN the core coordinator is created from options alone,
  absl::StatusOr<std::unique_ptr<MultiSessionManager>> created =
      MultiSessionManager::Create(MultiSessionOptions{}, clock);
  ASSERT_TRUE(created.ok()) << created.status();
  MultiSessionManager& manager = **created;

  // THEN it is ready for per-peer lifecycle observation with nothing else
  // constructed or injected by the caller: empty, observable, and accepting
  // peers at once.
  EXPECT_EQ(manager.size(), 0u);
  EXPECT_EQ(manager.Counts().total(), 0);
  EXPECT_THAT(manager.List({}).sessions, IsEmpty());
  EXPECT_EQ(manager.CurrentTick(), 0);
  EXPECT_THAT(manager.AdvanceTime(), IsEmpty());
  absl::StatusOr<std::shared_ptr<TransitionSubscription>> watch =
      manager.Subscribe({});
  ASSERT_TRUE(watch.ok()) << watch.status();

  const RemoteIdentity peer = Remote(1);
  absl::StatusOr<ConnectOutcome> connected = manager.OnTransportConnected(peer);
  ASSERT_TRUE(connected.ok()) << connected.status();
  ASSERT_TRUE(manager.Login(peer, Grant("p"), Secret(1)).ok());
  TransitionSubscription::Delivery seen = (*watch)->Take();
  ASSERT_EQ(seen.transitions.size(), 2u);
  EXPECT_EQ(seen.transitions[1].transition.to, S::kActive);
  EXPECT_EQ(manager.FindByRemote(peer)->state, S::kActive);

  // An invalid configuration gives no half-built coordinator.
  MultiSessionOptions bad;
  bad.shard_count = 3;
  EXPECT_EQ(MultiSessionManager::Create(bad, clock).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(MultiSessionLifecycleScenarios,
       EntryPointShutdownClearsAllManagedPeersAtCoreLevel) {
  // Sessions in every live state, one of them resumed across shards.
  const RemoteIdentity pending_remote = Remote(1);
  const RemoteIdentity active_remote = Remote(2);
  const RemoteIdentity suspect_remote = Remote(3);
  const RemoteIdentity held_remote = Remote(4);
  const SessionId suspect = ConnectAndLogIn(suspect_remote, "suspect").session;
  const LoginOutcome held = ConnectAndLogIn(held_remote, "held");
  AdvanceTo(absl::Seconds(9));
  const SessionId active = ConnectAndLogIn(active_remote, "active").session;
  ASSERT_TRUE(manager_->OnTransportClosed(held_remote, false).ok());
  AdvanceTo(absl::Seconds(16));
  const SessionId pending = Connect(pending_remote);
  // Resume "held" onto a connection of another shard than its own.
  RemoteIdentity resumed_remote;
  for (uint64_t conn = 100;; ++conn) {
    resumed_remote = Remote(conn);
    absl::StatusOr<ConnectOutcome> c =
        manager_->OnTransportConnected(resumed_remote);
    ASSERT_TRUE(c.ok());
    if (c->session.shard() != held.session.shard()) break;
    ASSERT_TRUE(manager_->OnTransportClosed(resumed_remote, true).ok());
  }
  ASSERT_TRUE(
      manager_->Resume(resumed_remote, held.resume_token, Secret(9)).ok());
  ASSERT_EQ(StateOf(suspect), S::kSuspect);
  ASSERT_EQ(StateOf(active), S::kActive);
  ASSERT_EQ(StateOf(pending), S::kAuthenticating);
  ASSERT_EQ(StateOf(held.session), S::kActive);
  ASSERT_EQ(manager_->size(), 4u);

  absl::StatusOr<std::shared_ptr<TransitionSubscription>> all =
      manager_->Subscribe({});
  absl::StatusOr<std::shared_ptr<TransitionSubscription>> one =
      manager_->Subscribe({.session = active});
  ASSERT_TRUE(all.ok());
  ASSERT_TRUE(one.ok());

  // WHEN the server stops while sessions exist: one call, no per-peer steps,
  const size_t cleared = manager_->Clear();

  // THEN every managed session is closed with server_shutdown and observers
  // are told,
  EXPECT_EQ(cleared, 4u);
  TransitionSubscription::Delivery told = (*all)->Take();
  EXPECT_EQ(told.lost, 0u);
  std::vector<SessionId> closed;
  for (const SessionTransition& t : told.transitions) {
    EXPECT_EQ(t.transition.to, S::kClosed);
    EXPECT_EQ(t.transition.reason, R::kServerShutdown);
    EXPECT_EQ(t.transition.cause, SessionEvent::kShutdown);
    closed.push_back(t.session);
  }
  EXPECT_THAT(closed,
              UnorderedElementsAre(pending, active, suspect, held.session));
  TransitionSubscription::Delivery told_one = (*one)->Take();
  ASSERT_EQ(told_one.transitions.size(), 1u);
  EXPECT_TRUE(told_one.ended);

  // THEN nothing is left to clean up: counts are zero, look-ups fail, no
  // deadline fires later, and peers and players can start afresh.
  EXPECT_EQ(manager_->size(), 0u);
  EXPECT_EQ(manager_->Counts().total(), 0);
  EXPECT_THAT(manager_->List({}).sessions, IsEmpty());
  for (const RemoteIdentity& r : {pending_remote, active_remote, suspect_remote,
                                  held_remote, resumed_remote}) {
    EXPECT_FALSE(manager_->FindByRemote(r).has_value()) << r.ToString();
    EXPECT_EQ(manager_->OnHeartbeat(r).code(), absl::StatusCode::kNotFound);
  }
  for (const char* player : {"active", "suspect", "held"}) {
    EXPECT_FALSE(manager_->FindByPlayer(player).has_value()) << player;
  }
  EXPECT_THAT(AdvanceTo(absl::Hours(2)), IsEmpty());
  EXPECT_EQ(manager_->Resume(resumed_remote, held.resume_token, Secret(3))
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);  // The session is gone.
  absl::StatusOr<ConnectOutcome> again =
      manager_->OnTransportConnected(resumed_remote);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->created);
  absl::StatusOr<LoginOutcome> relogin =
      manager_->Login(resumed_remote, Grant("held"), Secret(4));
  ASSERT_TRUE(relogin.ok()) << relogin.status();
  EXPECT_EQ(relogin->replaced, std::nullopt);
  EXPECT_EQ(manager_->Clear(), 1u);
  EXPECT_EQ(manager_->Clear(), 0u);
}

}  // namespace
}  // namespace gss
