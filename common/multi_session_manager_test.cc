#include "common/multi_session_manager.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/gameplay_rules.h"
#include "common/session_state.h"
#include "common/session_types.h"
#include "common/test_printers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gss {

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAreArray;
using E = SessionEvent;
using R = CloseReason;
using S = SessionState;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);
constexpr uint16_t kTag = 7;

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
                  std::optional<GridPosition> at = std::nullopt,
                  uint32_t permissions = kAllPermissions) {
  PlayerGrant grant;
  grant.player_id = player;
  grant.display_name = "Player " + player;
  grant.role = "player";
  grant.permissions = permissions;
  grant.start_position = at;
  return grant;
}

uint32_t Mask(std::initializer_list<S> states) {
  uint32_t mask = 0;
  for (S state : states) mask |= 1u << static_cast<int>(state);
  return mask;
}

int64_t CountOf(const StateCounts& counts, S state) {
  return counts.by_state[static_cast<int>(state)];
}

std::vector<SessionTransition> Of(SessionId session,
                                  const std::vector<SessionTransition>& all) {
  std::vector<SessionTransition> out;
  for (const SessionTransition& t : all) {
    if (t.session == session) out.push_back(t);
  }
  return out;
}

// The fields of a snapshot that a refused operation must leave alone.
auto Key(const SessionSnapshot& s) {
  return std::make_tuple(s.id.value, s.state, s.remote.has_value(), s.player_id,
                         s.resumes, s.transitions, s.state_since, s.last_seen,
                         s.position.x, s.position.y, s.health, s.last_move_tick,
                         s.last_shot_tick);
}

MultiSessionOptions DefaultOptions() {
  MultiSessionOptions options;
  options.instance_tag = kTag;
  return options;
}

class MultiSessionManagerTest : public ::testing::Test {
 protected:
  void SetUp() override { Recreate(DefaultOptions()); }

  void Recreate(const MultiSessionOptions& options, absl::Time start = kStart) {
    manager_.reset();
    clock_.Set(start);
    start_ = start;
    absl::StatusOr<std::unique_ptr<MultiSessionManager>> created =
        MultiSessionManager::Create(options, clock_);
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
    EXPECT_TRUE(outcome->created) << remote.ToString();
    return outcome->session;
  }

  LoginOutcome LogIn(const RemoteIdentity& remote, const std::string& player,
                     std::optional<GridPosition> at = std::nullopt,
                     uint32_t permissions = kAllPermissions) {
    // Every login gets its own secret, as the host's randomness would give.
    absl::StatusOr<LoginOutcome> login = manager_->Login(
        remote, Grant(player, at, permissions), Secret(next_secret_++));
    EXPECT_TRUE(login.ok()) << login.status();
    return login.ok() ? *login : LoginOutcome{};
  }

  LoginOutcome ConnectAndLogIn(const RemoteIdentity& remote,
                               const std::string& player,
                               std::optional<GridPosition> at = std::nullopt,
                               uint32_t permissions = kAllPermissions) {
    Connect(remote);
    return LogIn(remote, player, at, permissions);
  }

  // A logged-in session whose transport broke: Reconnecting, resumable.
  LoginOutcome HeldForResume(const RemoteIdentity& remote,
                             const std::string& player) {
    LoginOutcome login = ConnectAndLogIn(remote, player);
    absl::StatusOr<std::optional<SessionTransition>> lost =
        manager_->OnTransportClosed(remote, /*orderly=*/false);
    EXPECT_TRUE(lost.ok() && lost->has_value());
    EXPECT_EQ(StateOf(login.session), S::kReconnecting);
    return login;
  }

  // Connects fresh remotes until one's session lands in `shard` (when
  // `same_shard`) or in any other shard; the others are closed again.
  RemoteIdentity ConnectRemoteInShard(uint32_t shard, bool same_shard) {
    for (int attempt = 0; attempt < 10'000; ++attempt) {
      const RemoteIdentity remote = Remote(next_connection_++);
      absl::StatusOr<ConnectOutcome> outcome =
          manager_->OnTransportConnected(remote);
      EXPECT_TRUE(outcome.ok()) << outcome.status();
      if (!outcome.ok()) break;
      if ((outcome->session.shard() == shard) == same_shard) return remote;
      EXPECT_TRUE(manager_->OnTransportClosed(remote, true).ok());
    }
    ADD_FAILURE() << "no remote found for shard " << shard;
    return RemoteIdentity{};
  }

  std::optional<SessionState> StateOf(SessionId session) const {
    std::optional<SessionSnapshot> snapshot = manager_->FindBySession(session);
    if (!snapshot) return std::nullopt;
    return snapshot->state;
  }

  std::vector<SessionTransition> AdvanceTo(absl::Duration since_start) {
    clock_.Set(start_ + since_start);
    return manager_->AdvanceTime();
  }

  std::shared_ptr<TransitionSubscription> SubscribeAll(size_t capacity = 4096) {
    absl::StatusOr<std::shared_ptr<TransitionSubscription>> subscription =
        manager_->Subscribe({.capacity = capacity});
    EXPECT_TRUE(subscription.ok()) << subscription.status();
    return subscription.ok() ? *subscription : nullptr;
  }

  // Checks that `session`'s deadline at `due` fires no earlier than due and
  // no later than one timer resolution after it, leading to `to`/`reason`,
  // stamped with the due time.
  void ExpectDeadline(SessionId session, absl::Time due, S to,
                      R reason = R::kNone) {
    SCOPED_TRACE(absl::StrCat("deadline at +",
                              absl::FormatDuration(due - start_), " to ",
                              SessionStateName(to)));
    clock_.Set(due - absl::Nanoseconds(1));
    EXPECT_THAT(Of(session, manager_->AdvanceTime()), IsEmpty());
    clock_.Set(due);
    std::vector<SessionTransition> fired = Of(session, manager_->AdvanceTime());
    const bool on_tick_boundary =
        absl::ToUnixNanos(due) % absl::ToInt64Nanoseconds(resolution()) == 0;
    if (on_tick_boundary) {
      EXPECT_THAT(fired, SizeIs(1)) << "due on a tick boundary";
    }
    clock_.Set(due + resolution());
    std::vector<SessionTransition> late = Of(session, manager_->AdvanceTime());
    fired.insert(fired.end(), late.begin(), late.end());
    ASSERT_THAT(fired, SizeIs(1));
    EXPECT_EQ(fired[0].transition.to, to);
    EXPECT_EQ(fired[0].transition.reason, reason);
    EXPECT_EQ(fired[0].at, due);
  }

  ManualClock clock_{kStart};
  absl::Time start_ = kStart;
  std::unique_ptr<MultiSessionManager> manager_;
  uint64_t next_connection_ = 10'000;
  uint8_t next_secret_ = 1;
};

// --- Options -----------------------------------------------------------------

TEST(MultiSessionOptionsTest, DefaultsAreValid) {
  EXPECT_TRUE(MultiSessionOptions{}.Validate().ok());
}

TEST(MultiSessionOptionsTest, ShardCountMustBeAPowerOfTwoUpTo256) {
  for (int good : {1, 2, 16, 256}) {
    MultiSessionOptions options;
    options.shard_count = good;
    EXPECT_TRUE(options.Validate().ok()) << good;
  }
  for (int bad : {0, -1, -16, 3, 6, 100, 512}) {
    MultiSessionOptions options;
    options.shard_count = bad;
    EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(MultiSessionOptionsTest, TimerSlotsMustBeAPowerOfTwoIn16To2Pow20) {
  for (int good : {16, 32, 2048, 1 << 20}) {
    MultiSessionOptions options;
    options.timer_slots = good;
    EXPECT_TRUE(options.Validate().ok()) << good;
  }
  for (int bad : {0, -16, 1, 8, 15, 100, 3000, 1 << 21}) {
    MultiSessionOptions options;
    options.timer_slots = bad;
    EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(MultiSessionOptionsTest, TimerResolutionMustBeAtLeastOneMillisecond) {
  for (absl::Duration good : {absl::Milliseconds(1), absl::Seconds(1)}) {
    MultiSessionOptions options;
    options.timer_resolution = good;
    EXPECT_TRUE(options.Validate().ok()) << good;
  }
  for (absl::Duration bad : {absl::ZeroDuration(), absl::Milliseconds(-32),
                             absl::Microseconds(999), absl::Nanoseconds(1)}) {
    MultiSessionOptions options;
    options.timer_resolution = bad;
    EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(MultiSessionOptionsTest, RejectsNegativeLimitZeroTagAndBadPolicies) {
  MultiSessionOptions negative_limit;
  negative_limit.max_sessions = -1;
  EXPECT_EQ(negative_limit.Validate().code(),
            absl::StatusCode::kInvalidArgument);
  MultiSessionOptions zero_tag;
  zero_tag.instance_tag = 0;
  EXPECT_EQ(zero_tag.Validate().code(), absl::StatusCode::kInvalidArgument);
  MultiSessionOptions bad_policy;
  bad_policy.policy.liveness_timeout = bad_policy.policy.suspect_after;
  EXPECT_EQ(bad_policy.Validate().code(), absl::StatusCode::kInvalidArgument);
  MultiSessionOptions bad_rules;
  bad_rules.rules.world.grid_size = 0;
  EXPECT_EQ(bad_rules.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MultiSessionOptionsTest, FirstSequenceMustLeaveRoomBeforeTheIdsWrap) {
  for (uint64_t bad :
       {uint64_t{0}, MultiSessionOptions::kMaxFirstSequence, ~uint64_t{0}}) {
    MultiSessionOptions options;
    options.first_sequence = bad;
    EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  MultiSessionOptions last;
  last.first_sequence = MultiSessionOptions::kMaxFirstSequence - 1;
  EXPECT_TRUE(last.Validate().ok());
}

TEST(MultiSessionOptionsTest, SessionIdsCountUpFromTheFirstSequence) {
  ManualClock clock(kStart);
  MultiSessionOptions options;
  options.first_sequence = 123456789;
  absl::StatusOr<std::unique_ptr<MultiSessionManager>> manager =
      MultiSessionManager::Create(options, clock);
  ASSERT_TRUE(manager.ok()) << manager.status();
  for (uint64_t i = 0; i < 3; ++i) {
    absl::StatusOr<ConnectOutcome> outcome =
        (*manager)->OnTransportConnected(Remote(i + 1));
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    EXPECT_EQ(outcome->session.sequence(), 123456789 + i);
  }
}

TEST(MultiSessionOptionsTest, CreateRefusesInvalidOptions) {
  ManualClock clock(kStart);
  MultiSessionOptions options;
  options.timer_slots = 100;
  absl::StatusOr<std::unique_ptr<MultiSessionManager>> created =
      MultiSessionManager::Create(options, clock);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
}

// --- Connect -----------------------------------------------------------------

TEST_F(MultiSessionManagerTest, ConnectCreatesAnAuthenticatingSession) {
  std::shared_ptr<TransitionSubscription> watch = SubscribeAll();
  clock_.Set(kStart + absl::Seconds(3));
  const RemoteIdentity remote = Remote(1);

  absl::StatusOr<ConnectOutcome> outcome =
      manager_->OnTransportConnected(remote);

  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_TRUE(outcome->created);
  EXPECT_TRUE(outcome->session.valid());
  EXPECT_EQ(outcome->session.instance_tag(), kTag);
  EXPECT_LT(outcome->session.shard(),
            static_cast<uint32_t>(manager_->options().shard_count));
  std::optional<SessionSnapshot> snapshot = manager_->FindByRemote(remote);
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->id, outcome->session);
  EXPECT_EQ(snapshot->state, S::kAuthenticating);
  EXPECT_EQ(snapshot->remote, remote);
  EXPECT_EQ(snapshot->remote->address, remote.address);
  EXPECT_EQ(snapshot->player_id, "");
  EXPECT_EQ(snapshot->created_at, clock_.Now());
  EXPECT_EQ(snapshot->state_since, clock_.Now());
  EXPECT_EQ(snapshot->transitions, 1u);
  EXPECT_EQ(snapshot->rtt, std::nullopt);
  EXPECT_EQ(manager_->size(), 1u);
  EXPECT_EQ(CountOf(manager_->Counts(), S::kAuthenticating), 1);
  EXPECT_EQ(manager_->Counts().total(), 1);

  TransitionSubscription::Delivery seen = watch->Take();
  ASSERT_THAT(seen.transitions, SizeIs(1));
  const SessionTransition& t = seen.transitions[0];
  EXPECT_EQ(t.session, outcome->session);
  EXPECT_EQ(t.transition, (Transition{S::kConnecting, S::kAuthenticating,
                                      E::kTransportConnected, R::kNone}));
  EXPECT_EQ(t.remote, remote);
  EXPECT_EQ(t.sequence, 1u);
  EXPECT_EQ(t.at, clock_.Now());
}

TEST_F(MultiSessionManagerTest, ConnectResolvesTheSessionOfAKnownRemote) {
  const RemoteIdentity remote = Remote(1);
  const SessionId session = Connect(remote);
  std::shared_ptr<TransitionSubscription> watch = SubscribeAll();

  // The address is carried, not part of the key (NAT rebinding).
  RemoteIdentity rebound = remote;
  rebound.address = PeerAddress::V4(0xC0A80001, 1234);
  for (const RemoteIdentity& again : {remote, rebound}) {
    absl::StatusOr<ConnectOutcome> outcome =
        manager_->OnTransportConnected(again);
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    EXPECT_FALSE(outcome->created);
    EXPECT_EQ(outcome->session, session);
  }
  EXPECT_EQ(manager_->size(), 1u);
  EXPECT_THAT(watch->Take().transitions, IsEmpty());
  EXPECT_EQ(manager_->FindBySession(session)->transitions, 1u);

  // The same connection id on another gateway is another remote.
  const SessionId other = Connect(Remote(1, /*gateway=*/2));
  EXPECT_NE(other, session);
  EXPECT_EQ(manager_->size(), 2u);
}

TEST_F(MultiSessionManagerTest, ConnectIsRefusedOncePendingHeadroomIsUsed) {
  MultiSessionOptions options = DefaultOptions();
  options.max_sessions = 2;
  Recreate(options);
  // Two players plus at least 16 connections that have not logged in.
  constexpr int kAllowed = 2 + 16;
  for (int i = 0; i < kAllowed; ++i) Connect(Remote(i + 1));

  absl::StatusOr<ConnectOutcome> refused =
      manager_->OnTransportConnected(Remote(1000));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(manager_->size(), static_cast<size_t>(kAllowed));
  EXPECT_FALSE(manager_->FindByRemote(Remote(1000)).has_value());
  // A known remote still resolves while full.
  absl::StatusOr<ConnectOutcome> known =
      manager_->OnTransportConnected(Remote(1));
  ASSERT_TRUE(known.ok());
  EXPECT_FALSE(known->created);
}

// --- Login -------------------------------------------------------------------

TEST_F(MultiSessionManagerTest, LoginActivatesTheSessionWithTheGrant) {
  const RemoteIdentity remote = Remote(1);
  const SessionId session = Connect(remote);
  std::shared_ptr<TransitionSubscription> watch = SubscribeAll();
  AdvanceTo(absl::Seconds(1));

  PlayerGrant grant;
  grant.player_id = "alice";
  grant.display_name = "Alice";
  grant.role = "moderator";
  grant.permissions = kPermissionMove;
  grant.start_position = GridPosition{5, 6};
  absl::StatusOr<LoginOutcome> login =
      manager_->Login(remote, grant, Secret(42));

  ASSERT_TRUE(login.ok()) << login.status();
  EXPECT_EQ(login->session, session);
  EXPECT_EQ(login->position, (GridPosition{5, 6}));
  EXPECT_EQ(login->server_tick, 20);  // 1 s of 50 ms ticks.
  EXPECT_EQ(login->resume_token, (ResumeToken{session, Secret(42)}));
  EXPECT_EQ(login->replaced, std::nullopt);

  std::optional<SessionSnapshot> snapshot = manager_->FindBySession(session);
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->state, S::kActive);
  EXPECT_EQ(snapshot->player_id, "alice");
  EXPECT_EQ(snapshot->display_name, "Alice");
  EXPECT_EQ(snapshot->role, "moderator");
  EXPECT_EQ(snapshot->permissions, kPermissionMove);
  EXPECT_EQ(snapshot->position, (GridPosition{5, 6}));
  EXPECT_EQ(snapshot->health, manager_->options().rules.combat.max_health);
  EXPECT_EQ(snapshot->last_move_tick, 20);
  EXPECT_EQ(snapshot->last_shot_tick, -1);
  EXPECT_EQ(snapshot->state_since, clock_.Now());
  EXPECT_EQ(snapshot->last_seen, clock_.Now());
  EXPECT_EQ(manager_->FindByPlayer("alice")->id, session);
  EXPECT_EQ(CountOf(manager_->Counts(), S::kActive), 1);

  TransitionSubscription::Delivery seen = watch->Take();
  ASSERT_THAT(seen.transitions, SizeIs(1));
  EXPECT_EQ(seen.transitions[0].transition,
            (Transition{S::kAuthenticating, S::kActive, E::kLoginSucceeded,
                        R::kNone}));
  EXPECT_EQ(seen.transitions[0].player_id, "alice");
  EXPECT_EQ(seen.transitions[0].sequence, 2u);
}

TEST_F(MultiSessionManagerTest, LoginWithoutStartPositionSpawnsInsideTheGrid) {
  MultiSessionOptions options = DefaultOptions();
  options.rules.world.grid_size = 8;
  Recreate(options);
  std::set<std::pair<int32_t, int32_t>> spawns;
  for (int i = 0; i < 200; ++i) {
    const RemoteIdentity remote = Remote(i + 1);
    const LoginOutcome login =
        ConnectAndLogIn(remote, absl::StrCat("player-", i));
    EXPECT_GE(login.position.x, 0);
    EXPECT_GE(login.position.y, 0);
    EXPECT_LT(login.position.x, 8);
    EXPECT_LT(login.position.y, 8);
    EXPECT_EQ(manager_->FindBySession(login.session)->position, login.position);
    spawns.emplace(login.position.x, login.position.y);
  }
  EXPECT_GT(spawns.size(), 1u);  // Spread out, not all on one cell.

  // The spawn point is a function of the player id.
  const GridPosition first = manager_->FindByPlayer("player-0")->position;
  ASSERT_TRUE(manager_->OnTransportClosed(Remote(1), true).ok());
  EXPECT_EQ(ConnectAndLogIn(Remote(5000), "player-0").position, first);
}

TEST_F(MultiSessionManagerTest, LoginReplacesTheOlderSessionOfThePlayer) {
  const RemoteIdentity old_remote = Remote(1);
  const RemoteIdentity new_remote = Remote(2);
  const SessionId old_session = ConnectAndLogIn(old_remote, "p").session;
  const SessionId new_session = Connect(new_remote);

  absl::StatusOr<LoginOutcome> login =
      manager_->Login(new_remote, Grant("p"), Secret(2));

  ASSERT_TRUE(login.ok()) << login.status();
  ASSERT_TRUE(login->replaced.has_value());
  EXPECT_EQ(login->replaced->session, old_session);
  EXPECT_EQ(login->replaced->remote, old_remote);  // For the host to close.
  EXPECT_EQ(login->replaced->player_id, "p");
  EXPECT_EQ(login->replaced->transition,
            (Transition{S::kActive, S::kClosed, E::kReplace, R::kReplaced}));
  EXPECT_EQ(StateOf(old_session), std::nullopt);
  EXPECT_FALSE(manager_->FindByRemote(old_remote).has_value());
  EXPECT_EQ(manager_->FindByPlayer("p")->id, new_session);
  EXPECT_EQ(StateOf(new_session), S::kActive);
  EXPECT_EQ(manager_->size(), 1u);
  EXPECT_EQ(CountOf(manager_->Counts(), S::kActive), 1);

  // A session held for resume is replaced too; it has no remote to close.
  ASSERT_TRUE(manager_->OnTransportClosed(new_remote, false).ok());
  Connect(Remote(3));
  absl::StatusOr<LoginOutcome> third =
      manager_->Login(Remote(3), Grant("p"), Secret(3));
  ASSERT_TRUE(third.ok()) << third.status();
  ASSERT_TRUE(third->replaced.has_value());
  EXPECT_EQ(third->replaced->session, new_session);
  EXPECT_EQ(third->replaced->transition.from, S::kReconnecting);
  EXPECT_EQ(third->replaced->remote, std::nullopt);
  EXPECT_EQ(manager_->size(), 1u);
}

TEST_F(MultiSessionManagerTest, LoginIsRefusedWhenReplacementIsOff) {
  MultiSessionOptions options = DefaultOptions();
  options.replace_existing_login = false;
  Recreate(options);
  const RemoteIdentity first_remote = Remote(1);
  const RemoteIdentity second_remote = Remote(2);
  const SessionId first = ConnectAndLogIn(first_remote, "p").session;
  const SessionId second = Connect(second_remote);
  absl::StatusOr<std::shared_ptr<TransitionSubscription>> watch =
      manager_->Subscribe({.session = second});
  ASSERT_TRUE(watch.ok());

  absl::StatusOr<LoginOutcome> login =
      manager_->Login(second_remote, Grant("p"), Secret(2));

  EXPECT_EQ(login.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(StateOf(second), std::nullopt);
  EXPECT_FALSE(manager_->FindByRemote(second_remote).has_value());
  TransitionSubscription::Delivery seen = (*watch)->Take();
  ASSERT_THAT(seen.transitions, SizeIs(1));
  EXPECT_EQ(seen.transitions[0].transition,
            (Transition{S::kAuthenticating, S::kClosed, E::kLoginFailed,
                        R::kLoginFailed}));
  EXPECT_TRUE(seen.ended);
  EXPECT_EQ(StateOf(first), S::kActive);
  EXPECT_EQ(manager_->FindByPlayer("p")->id, first);
  EXPECT_EQ(manager_->size(), 1u);
}

TEST_F(MultiSessionManagerTest, LoginAtMaxSessionsIsRefusedAndChangesNothing) {
  MultiSessionOptions options = DefaultOptions();
  options.max_sessions = 2;
  Recreate(options);
  const SessionId p1 = ConnectAndLogIn(Remote(1), "p1").session;
  ConnectAndLogIn(Remote(2), "p2");
  const RemoteIdentity third = Remote(3);
  const SessionId pending = Connect(third);
  const SessionSnapshot before = *manager_->FindBySession(pending);
  const StateCounts counts_before = manager_->Counts();

  absl::StatusOr<LoginOutcome> login =
      manager_->Login(third, Grant("p3"), Secret(3));

  EXPECT_EQ(login.status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(manager_->FindBySession(pending).has_value());
  EXPECT_EQ(Key(*manager_->FindBySession(pending)), Key(before));
  EXPECT_EQ(manager_->Counts().by_state, counts_before.by_state);
  EXPECT_FALSE(manager_->FindByPlayer("p3").has_value());
  EXPECT_EQ(manager_->size(), 3u);

  // Once a seat frees up the same connection can log in.
  ASSERT_TRUE(manager_->Evict(p1).ok());
  absl::StatusOr<LoginOutcome> retry =
      manager_->Login(third, Grant("p3"), Secret(3));
  EXPECT_TRUE(retry.ok()) << retry.status();
}

TEST_F(MultiSessionManagerTest, LoginReplacingTheSamePlayerIsAllowedWhenFull) {
  // The replaced session frees its seat, so a full server does not lock a
  // player out behind their own stale session.
  MultiSessionOptions options = DefaultOptions();
  options.max_sessions = 2;
  Recreate(options);
  ConnectAndLogIn(Remote(1), "p1");
  const SessionId stale = HeldForResume(Remote(2), "p2").session;
  Connect(Remote(3));

  absl::StatusOr<LoginOutcome> login =
      manager_->Login(Remote(3), Grant("p2"), Secret(3));

  ASSERT_TRUE(login.ok()) << login.status();
  ASSERT_TRUE(login->replaced.has_value());
  EXPECT_EQ(login->replaced->session, stale);
  EXPECT_EQ(CountOf(manager_->Counts(), S::kActive), 2);
  EXPECT_EQ(manager_->size(), 2u);
}

TEST_F(MultiSessionManagerTest, LoginRejectsInvalidPlayerIdsAndPositions) {
  const RemoteIdentity remote = Remote(1);
  const SessionId session = Connect(remote);
  const int32_t size = manager_->options().rules.world.grid_size;
  std::vector<PlayerGrant> bad = {Grant(""), Grant(std::string(129, 'x'))};
  for (GridPosition at : {GridPosition{-1, 0}, GridPosition{0, -1},
                          GridPosition{size, 0}, GridPosition{0, size}}) {
    bad.push_back(Grant("p", at));
  }
  for (const PlayerGrant& grant : bad) {
    SCOPED_TRACE(grant.player_id.size());
    absl::StatusOr<LoginOutcome> login =
        manager_->Login(remote, grant, Secret(1));
    EXPECT_EQ(login.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(StateOf(session), S::kAuthenticating);
  }
  EXPECT_FALSE(manager_->FindByPlayer("p").has_value());
  EXPECT_EQ(manager_->FindBySession(session)->transitions, 1u);
  // The limits themselves are fine.
  absl::StatusOr<LoginOutcome> ok = manager_->Login(
      remote, Grant(std::string(128, 'x'), GridPosition{size - 1, size - 1}),
      Secret(1));
  EXPECT_TRUE(ok.ok()) << ok.status();
}

TEST_F(MultiSessionManagerTest, LoginNeedsAnAuthenticatingSession) {
  EXPECT_EQ(manager_->Login(Remote(1), Grant("p"), Secret(1)).status().code(),
            absl::StatusCode::kNotFound);
  ConnectAndLogIn(Remote(1), "p");
  EXPECT_EQ(manager_->Login(Remote(1), Grant("q"), Secret(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(manager_->FindByRemote(Remote(1))->player_id, "p");
  EXPECT_FALSE(manager_->FindByPlayer("q").has_value());
}

// --- FailLogin ---------------------------------------------------------------

TEST_F(MultiSessionManagerTest, FailLoginClosesTheAuthenticatingSession) {
  const RemoteIdentity remote = Remote(1);
  const SessionId session = Connect(remote);

  absl::StatusOr<SessionTransition> failed = manager_->FailLogin(remote);

  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->session, session);
  EXPECT_EQ(failed->remote, remote);
  EXPECT_EQ(failed->transition, (Transition{S::kAuthenticating, S::kClosed,
                                            E::kLoginFailed, R::kLoginFailed}));
  EXPECT_EQ(StateOf(session), std::nullopt);
  EXPECT_FALSE(manager_->FindByRemote(remote).has_value());
  EXPECT_EQ(manager_->size(), 0u);
  EXPECT_EQ(manager_->Counts().total(), 0);

  EXPECT_EQ(manager_->FailLogin(remote).status().code(),
            absl::StatusCode::kNotFound);
  const SessionId active = ConnectAndLogIn(Remote(2), "p").session;
  EXPECT_EQ(manager_->FailLogin(Remote(2)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StateOf(active), S::kActive);
}

// --- Liveness ----------------------------------------------------------------

TEST_F(MultiSessionManagerTest, HeartbeatsAndMessagesKeepTheSessionActive) {
  const RemoteIdentity remote = Remote(1);
  const SessionId session = ConnectAndLogIn(remote, "p").session;
  for (int second = 1; second <= 600; ++second) {
    clock_.Set(kStart + absl::Seconds(second));
    if (second % 10 == 0) {
      absl::Status status = second % 20 == 0
                                ? manager_->OnHeartbeat(remote)
                                : manager_->OnInboundMessage(remote);
      ASSERT_TRUE(status.ok()) << status;
    }
    ASSERT_THAT(manager_->AdvanceTime(), IsEmpty()) << second;
  }
  EXPECT_EQ(StateOf(session), S::kActive);
  EXPECT_EQ(manager_->FindBySession(session)->last_seen,
            kStart + absl::Seconds(600));
  EXPECT_EQ(manager_->FindBySession(session)->transitions, 2u);
}

TEST_F(MultiSessionManagerTest, AnyTrafficReturnsASuspectSessionToActive) {
  struct Case {
    std::string name;
    std::function<absl::Status(const RemoteIdentity&)> send;
    SessionEvent cause;
  };
  const std::vector<Case> cases = {
      {"heartbeat",
       [&](const RemoteIdentity& r) { return manager_->OnHeartbeat(r); },
       E::kHeartbeat},
      {"message",
       [&](const RemoteIdentity& r) { return manager_->OnInboundMessage(r); },
       E::kInboundMessage},
      {"move",
       [&](const RemoteIdentity& r) {
         return manager_->ApplyMove(r, {manager_->CurrentTick(), 0, 0})
             .status();
       },
       E::kInboundMessage},
      {"shoot",
       [&](const RemoteIdentity& r) {
         return manager_->ApplyShoot(r, manager_->CurrentTick(), SessionId{})
             .status();
       },
       E::kInboundMessage},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    Recreate(DefaultOptions());
    const RemoteIdentity remote = Remote(i + 1);
    const SessionId session = ConnectAndLogIn(remote, "p").session;
    AdvanceTo(policy().suspect_after + resolution());
    ASSERT_EQ(StateOf(session), S::kSuspect);
    std::shared_ptr<TransitionSubscription> watch = SubscribeAll();
    const absl::Duration traffic_at = policy().suspect_after + absl::Seconds(2);
    AdvanceTo(traffic_at);

    ASSERT_TRUE(cases[i].send(remote).ok());

    EXPECT_EQ(StateOf(session), S::kActive);
    EXPECT_EQ(manager_->FindBySession(session)->state_since,
              kStart + traffic_at);
    TransitionSubscription::Delivery seen = watch->Take();
    ASSERT_THAT(seen.transitions, SizeIs(1));
    EXPECT_EQ(seen.transitions[0].transition,
              (Transition{S::kSuspect, S::kActive, cases[i].cause, R::kNone}));
    // The next Suspect counts from the traffic, not from the login.
    ExpectDeadline(session, kStart + traffic_at + policy().suspect_after,
                   S::kSuspect);
  }
}

TEST_F(MultiSessionManagerTest, CallsForAnUnknownRemoteAreNotFound) {
  const RemoteIdentity nobody = Remote(99);
  constexpr absl::StatusCode kNotFound = absl::StatusCode::kNotFound;
  EXPECT_EQ(manager_->OnHeartbeat(nobody).code(), kNotFound);
  EXPECT_EQ(manager_->OnInboundMessage(nobody).code(), kNotFound);
  EXPECT_EQ(manager_->RecordRtt(nobody, absl::Milliseconds(5)).code(),
            kNotFound);
  EXPECT_EQ(manager_->OnTransportClosed(nobody, true).status().code(),
            kNotFound);
  EXPECT_EQ(manager_->FailLogin(nobody).status().code(), kNotFound);
  EXPECT_EQ(manager_->ApplyMove(nobody, {1, 1, 0}).status().code(), kNotFound);
  EXPECT_EQ(manager_->ApplyShoot(nobody, 1, SessionId{}).status().code(),
            kNotFound);
  EXPECT_FALSE(manager_->FindByRemote(nobody).has_value());
}

TEST_F(MultiSessionManagerTest, RecordRttShowsInTheSnapshot) {
  const RemoteIdentity remote = Remote(1);
  const SessionId session = ConnectAndLogIn(remote, "p").session;
  EXPECT_EQ(manager_->FindBySession(session)->rtt, std::nullopt);
  ASSERT_TRUE(manager_->RecordRtt(remote, absl::Milliseconds(42)).ok());
  EXPECT_EQ(manager_->FindBySession(session)->rtt, absl::Milliseconds(42));
  EXPECT_EQ(manager_->RecordRtt(remote, absl::Milliseconds(-1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager_->FindBySession(session)->rtt, absl::Milliseconds(42));
}

// --- Deadlines ---------------------------------------------------------------

TEST_F(MultiSessionManagerTest, DeadlinesFireNoEarlierThanDueAndWithinOneTick) {
  for (absl::Duration resolution :
       {absl::Milliseconds(1), absl::Milliseconds(32),
        absl::Milliseconds(100)}) {
    for (absl::Duration phase :
         {absl::ZeroDuration(), absl::Nanoseconds(1), resolution / 2,
          resolution - absl::Nanoseconds(1)}) {
      SCOPED_TRACE(absl::StrCat("resolution ", absl::FormatDuration(resolution),
                                ", phase ", absl::FormatDuration(phase)));
      MultiSessionOptions options = DefaultOptions();
      options.timer_resolution = resolution;
      Recreate(options, kStart + phase);
      const SessionId pending = Connect(Remote(1));
      const SessionId silent = ConnectAndLogIn(Remote(2), "p").session;

      ExpectDeadline(pending, start_ + policy().login_timeout, S::kClosed,
                     R::kTimedOut);
      ExpectDeadline(silent, start_ + policy().suspect_after, S::kSuspect);
      ExpectDeadline(silent, start_ + policy().liveness_timeout,
                     S::kReconnecting);
      ExpectDeadline(
          silent, start_ + policy().liveness_timeout + policy().reconnect_grace,
          S::kClosed, R::kGraceExpired);
      EXPECT_EQ(manager_->size(), 0u);
    }
  }
}

// The transitions of a scripted run, sorted by session and sequence, when
// the host runs the deadlines every `step` (and before every event).
std::vector<SessionTransition> RunLivenessScript(absl::Duration step,
                                                 absl::Duration until) {
  ManualClock clock(kStart);
  std::unique_ptr<MultiSessionManager> manager =
      *MultiSessionManager::Create(DefaultOptions(), clock);
  std::shared_ptr<TransitionSubscription> watch =
      *manager->Subscribe({.capacity = 1024});
  absl::Duration now = absl::ZeroDuration();
  auto advance_to = [&](absl::Duration to) {
    while (now < to) {
      now = std::min(now + step, to);
      clock.Set(kStart + now);
      manager->AdvanceTime();
    }
  };
  for (int i = 1; i <= 5; ++i) {
    EXPECT_TRUE(manager->OnTransportConnected(Remote(i)).ok());
    if (i <= 4) {
      EXPECT_TRUE(
          manager->Login(Remote(i), Grant(absl::StrCat("p", i)), Secret(i))
              .ok());
    }
  }
  advance_to(absl::Seconds(5));
  EXPECT_TRUE(manager->OnTransportClosed(Remote(3), false).ok());
  advance_to(absl::Seconds(12));
  EXPECT_TRUE(manager->OnHeartbeat(Remote(2)).ok());
  advance_to(absl::Seconds(20));
  EXPECT_TRUE(manager->OnHeartbeat(Remote(1)).ok());
  advance_to(absl::Seconds(25));
  EXPECT_TRUE(manager->OnInboundMessage(Remote(4)).ok());
  advance_to(until);
  EXPECT_EQ(manager->size(), 0u);
  TransitionSubscription::Delivery seen = watch->Take();
  EXPECT_EQ(seen.lost, 0u);
  std::sort(seen.transitions.begin(), seen.transitions.end(),
            [](const SessionTransition& a, const SessionTransition& b) {
              return std::tie(a.session, a.sequence) <
                     std::tie(b.session, b.sequence);
            });
  return seen.transitions;
}

auto Comparable(const SessionTransition& t) {
  return std::make_tuple(t.session.value, t.sequence, t.transition.from,
                         t.transition.to, t.transition.cause,
                         t.transition.reason, t.at, t.remote.has_value(),
                         t.player_id);
}

TEST(MultiSessionManagerTimingTest, LongPausesGiveTheSameOutcomeAsSmallSteps) {
  const std::vector<SessionTransition> paused =
      RunLivenessScript(absl::Hours(3), absl::Hours(3));
  const std::vector<SessionTransition> stepped =
      RunLivenessScript(absl::Milliseconds(250), absl::Hours(3));

  ASSERT_EQ(paused.size(), stepped.size());
  for (size_t i = 0; i < paused.size(); ++i) {
    EXPECT_EQ(Comparable(paused[i]), Comparable(stepped[i]))
        << ::testing::PrintToString(paused[i]) << " vs "
        << ::testing::PrintToString(stepped[i]);
  }

  // Every transition carries the time it was due, not when it was noticed.
  auto at = [](int seconds) { return kStart + absl::Seconds(seconds); };
  struct Step {
    S to;
    R reason;
    absl::Time at;
  };
  const std::vector<std::vector<Step>> expected = {
      // p1: Suspect at 15, heartbeat at 20, silent from then on.
      {{S::kAuthenticating, R::kNone, at(0)},
       {S::kActive, R::kNone, at(0)},
       {S::kSuspect, R::kNone, at(15)},
       {S::kActive, R::kNone, at(20)},
       {S::kSuspect, R::kNone, at(35)},
       {S::kReconnecting, R::kNone, at(50)},
       {S::kClosed, R::kGraceExpired, at(80)}},
      // p2: heartbeat at 12.
      {{S::kAuthenticating, R::kNone, at(0)},
       {S::kActive, R::kNone, at(0)},
       {S::kSuspect, R::kNone, at(27)},
       {S::kReconnecting, R::kNone, at(42)},
       {S::kClosed, R::kGraceExpired, at(72)}},
      // p3: transport lost at 5.
      {{S::kAuthenticating, R::kNone, at(0)},
       {S::kActive, R::kNone, at(0)},
       {S::kReconnecting, R::kNone, at(5)},
       {S::kClosed, R::kGraceExpired, at(35)}},
      // p4: Suspect at 15, message at 25.
      {{S::kAuthenticating, R::kNone, at(0)},
       {S::kActive, R::kNone, at(0)},
       {S::kSuspect, R::kNone, at(15)},
       {S::kActive, R::kNone, at(25)},
       {S::kSuspect, R::kNone, at(40)},
       {S::kReconnecting, R::kNone, at(55)},
       {S::kClosed, R::kGraceExpired, at(85)}},
      // Never logged in: login timeout.
      {{S::kAuthenticating, R::kNone, at(0)},
       {S::kClosed, R::kTimedOut, at(10)}},
  };
  size_t next = 0;
  for (size_t session = 0; session < expected.size(); ++session) {
    for (size_t i = 0; i < expected[session].size(); ++i, ++next) {
      SCOPED_TRACE(absl::StrCat("session ", session, " step ", i));
      ASSERT_LT(next, paused.size());
      EXPECT_EQ(paused[next].sequence, i + 1);
      EXPECT_EQ(paused[next].transition.to, expected[session][i].to);
      EXPECT_EQ(paused[next].transition.reason, expected[session][i].reason);
      EXPECT_EQ(paused[next].at, expected[session][i].at);
    }
  }
  EXPECT_EQ(next, paused.size());
}

TEST_F(MultiSessionManagerTest, DeadlinesBeyondOneTurnOfTheWheelFireOnTime) {
  // 16 slots of 1 ms: the wheel turns every 16 ms, the deadlines are seconds
  // away.
  MultiSessionOptions options = DefaultOptions();
  options.timer_slots = 16;
  options.timer_resolution = absl::Milliseconds(1);
  Recreate(options);
  const SessionId pending = Connect(Remote(1));
  const SessionId silent = ConnectAndLogIn(Remote(2), "p").session;

  // Small steps (7 ms, so every slot is visited at varying phases): each
  // transition fires at the first AdvanceTime at least one resolution after
  // its due time, never before it.
  absl::Time previous = clock_.Now();
  std::vector<SessionTransition> fired;
  while (manager_->size() > 0 && clock_.Now() < kStart + absl::Seconds(120)) {
    clock_.Advance(absl::Milliseconds(7));
    for (const SessionTransition& t : manager_->AdvanceTime()) {
      EXPECT_LE(t.at, clock_.Now()) << ::testing::PrintToString(t);
      EXPECT_LT(previous, t.at + resolution()) << ::testing::PrintToString(t);
      fired.push_back(t);
    }
    previous = clock_.Now();
  }
  std::vector<std::tuple<uint64_t, S, absl::Time>> got;
  for (const SessionTransition& t : fired) {
    got.emplace_back(t.session.value, t.transition.to, t.at);
  }
  EXPECT_THAT(got, ElementsAre(std::make_tuple(pending.value, S::kClosed,
                                               kStart + absl::Seconds(10)),
                               std::make_tuple(silent.value, S::kSuspect,
                                               kStart + absl::Seconds(15)),
                               std::make_tuple(silent.value, S::kReconnecting,
                                               kStart + absl::Seconds(30)),
                               std::make_tuple(silent.value, S::kClosed,
                                               kStart + absl::Seconds(60))));

  // The same with jumps much longer than a turn of the wheel.
  Recreate(options);
  const SessionId pending2 = Connect(Remote(1));
  const SessionId silent2 = ConnectAndLogIn(Remote(2), "p").session;
  ExpectDeadline(pending2, kStart + absl::Seconds(10), S::kClosed,
                 R::kTimedOut);
  ExpectDeadline(silent2, kStart + absl::Seconds(15), S::kSuspect);
  ExpectDeadline(silent2, kStart + absl::Seconds(30), S::kReconnecting);
  ExpectDeadline(silent2, kStart + absl::Seconds(60), S::kClosed,
                 R::kGraceExpired);
}

TEST_F(MultiSessionManagerTest, OneLongPauseFiresDeadlinesInEverySlot) {
  for (int timer_slots : {16, 2048}) {
    SCOPED_TRACE(absl::StrCat(timer_slots, " slots"));
    MultiSessionOptions options = DefaultOptions();
    options.timer_slots = timer_slots;
    Recreate(options);
    // Logins spread over more than one turn of the wheel, so the deadlines
    // land in every slot; the host keeps running AdvanceTime meanwhile.
    const absl::Duration turn = resolution() * timer_slots;
    const absl::Duration spacing = resolution() * 3 + absl::Milliseconds(1);
    const int count = static_cast<int>(turn * 5 / 4 / spacing) + 1;
    std::vector<SessionId> sessions;
    std::vector<absl::Time> logged_in_at;
    std::vector<SessionTransition> fired;
    for (int i = 0; i < count; ++i) {
      clock_.Set(kStart + spacing * i);
      std::vector<SessionTransition> step = manager_->AdvanceTime();
      fired.insert(fired.end(), step.begin(), step.end());
      sessions.push_back(
          ConnectAndLogIn(Remote(i + 1), absl::StrCat("p", i)).session);
      logged_in_at.push_back(clock_.Now());
    }
    // Then nothing for three hours.
    std::vector<SessionTransition> pause = AdvanceTo(absl::Hours(3));
    fired.insert(fired.end(), pause.begin(), pause.end());

    EXPECT_EQ(manager_->size(), 0u);
    for (int i = 0; i < count; ++i) {
      SCOPED_TRACE(i);
      std::vector<SessionTransition> mine = Of(sessions[i], fired);
      ASSERT_THAT(mine, SizeIs(3));
      EXPECT_EQ(mine[0].transition.to, S::kSuspect);
      EXPECT_EQ(mine[0].at, logged_in_at[i] + policy().suspect_after);
      EXPECT_EQ(mine[1].transition.to, S::kReconnecting);
      EXPECT_EQ(mine[1].at, logged_in_at[i] + policy().liveness_timeout);
      EXPECT_EQ(mine[2].transition.reason, R::kGraceExpired);
      EXPECT_EQ(mine[2].at, logged_in_at[i] + policy().liveness_timeout +
                                policy().reconnect_grace);
    }
  }
}

// --- Transport ---------------------------------------------------------------

TEST_F(MultiSessionManagerTest, OrderlyCloseEndsTheSession) {
  const RemoteIdentity player = Remote(1);
  const RemoteIdentity pending = Remote(2);
  const SessionId logged_in = ConnectAndLogIn(player, "p").session;
  const SessionId fresh = Connect(pending);

  for (const auto& [remote, session, from] :
       {std::make_tuple(player, logged_in, S::kActive),
        std::make_tuple(pending, fresh, S::kAuthenticating)}) {
    absl::StatusOr<std::optional<SessionTransition>> closed =
        manager_->OnTransportClosed(remote, /*orderly=*/true);
    ASSERT_TRUE(closed.ok()) << closed.status();
    ASSERT_TRUE(closed->has_value());
    EXPECT_EQ((*closed)->session, session);
    EXPECT_EQ((*closed)->remote, remote);
    EXPECT_EQ((*closed)->transition,
              (Transition{from, S::kClosed, E::kTransportClosed,
                          R::kTransportClosed}));
    EXPECT_EQ(StateOf(session), std::nullopt);
    EXPECT_EQ(manager_->OnTransportClosed(remote, true).status().code(),
              absl::StatusCode::kNotFound);
  }
  EXPECT_FALSE(manager_->FindByPlayer("p").has_value());
  EXPECT_EQ(manager_->size(), 0u);
}

TEST_F(MultiSessionManagerTest, LostTransportHoldsALoggedInSessionForResume) {
  const RemoteIdentity remote = Remote(1);
  const SessionId session = ConnectAndLogIn(remote, "p").session;
  AdvanceTo(absl::Seconds(2));

  absl::StatusOr<std::optional<SessionTransition>> lost =
      manager_->OnTransportClosed(remote, /*orderly=*/false);

  ASSERT_TRUE(lost.ok()) << lost.status();
  ASSERT_TRUE(lost->has_value());
  EXPECT_EQ((*lost)->transition, (Transition{S::kActive, S::kReconnecting,
                                             E::kTransportLost, R::kNone}));
  EXPECT_EQ((*lost)->remote, remote);
  EXPECT_FALSE(manager_->FindByRemote(remote).has_value());
  std::optional<SessionSnapshot> held = manager_->FindBySession(session);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->state, S::kReconnecting);
  EXPECT_EQ(held->remote, std::nullopt);
  EXPECT_EQ(manager_->FindByPlayer("p")->id, session);
  EXPECT_EQ(manager_->OnHeartbeat(remote).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(manager_->size(), 1u);
  // The remote is free: connecting it again starts a new session.
  const SessionId again = Connect(remote);
  EXPECT_NE(again, session);
  ASSERT_TRUE(manager_->OnTransportClosed(remote, true).ok());

  ExpectDeadline(session, kStart + absl::Seconds(2) + policy().reconnect_grace,
                 S::kClosed, R::kGraceExpired);
  EXPECT_FALSE(manager_->FindByPlayer("p").has_value());
}

TEST_F(MultiSessionManagerTest, LostTransportBeforeLoginCloses) {
  const RemoteIdentity remote = Remote(1);
  Connect(remote);
  absl::StatusOr<std::optional<SessionTransition>> lost =
      manager_->OnTransportClosed(remote, /*orderly=*/false);
  ASSERT_TRUE(lost.ok());
  ASSERT_TRUE(lost->has_value());
  EXPECT_EQ((*lost)->transition.to, S::kClosed);
  EXPECT_EQ((*lost)->transition.reason, R::kTransportClosed);
  EXPECT_EQ(manager_->size(), 0u);
}

TEST_F(MultiSessionManagerTest, WithoutReconnectGraceNothingIsHeld) {
  MultiSessionOptions options = DefaultOptions();
  options.policy.reconnect_grace = absl::ZeroDuration();
  Recreate(options);
  const RemoteIdentity dropped = Remote(1);
  const RemoteIdentity silent = Remote(2);
  ConnectAndLogIn(dropped, "dropped");
  const SessionId silent_session = ConnectAndLogIn(silent, "silent").session;

  absl::StatusOr<std::optional<SessionTransition>> lost =
      manager_->OnTransportClosed(dropped, /*orderly=*/false);
  ASSERT_TRUE(lost.ok());
  ASSERT_TRUE(lost->has_value());
  EXPECT_EQ((*lost)->transition,
            (Transition{S::kActive, S::kClosed, E::kTransportLost,
                        R::kTransportClosed}));
  EXPECT_FALSE(manager_->FindByPlayer("dropped").has_value());

  ExpectDeadline(silent_session, kStart + policy().suspect_after, S::kSuspect);
  ExpectDeadline(silent_session, kStart + policy().liveness_timeout, S::kClosed,
                 R::kTimedOut);
  EXPECT_EQ(manager_->size(), 0u);
}

TEST_F(MultiSessionManagerTest, LoginTimeoutClosesTimedOut) {
  const RemoteIdentity remote = Remote(1);
  const SessionId session = Connect(remote);
  // Traffic before login does not extend the login deadline.
  AdvanceTo(absl::Seconds(5));
  ASSERT_TRUE(manager_->OnHeartbeat(remote).ok());
  ASSERT_TRUE(manager_->OnInboundMessage(remote).ok());
  // A connection that logs in in time is not affected.
  const RemoteIdentity prompt = Remote(2);
  Connect(prompt);
  AdvanceTo(absl::Seconds(9));
  LogIn(prompt, "prompt");

  ExpectDeadline(session, kStart + policy().login_timeout, S::kClosed,
                 R::kTimedOut);
  EXPECT_FALSE(manager_->FindByRemote(remote).has_value());
  AdvanceTo(absl::Seconds(20));
  EXPECT_EQ(manager_->FindByRemote(prompt)->state, S::kActive);
}

// --- Resume ------------------------------------------------------------------

TEST_F(MultiSessionManagerTest, ResumeRebindsTheSessionToTheNewConnection) {
  const RemoteIdentity first = Remote(1);
  const LoginOutcome login = ConnectAndLogIn(first, "p", GridPosition{5, 5});
  AdvanceTo(absl::Seconds(1));
  const int64_t move_tick = manager_->CurrentTick();
  ASSERT_EQ(manager_->ApplyMove(first, {move_tick, 1, 0})->result.rejection,
            InputRejection::kNone);
  AdvanceTo(absl::Seconds(2));
  ASSERT_TRUE(manager_->OnTransportClosed(first, false).ok());
  AdvanceTo(absl::Seconds(3));
  const RemoteIdentity second = Remote(2);
  const SessionId provisional = Connect(second);
  std::shared_ptr<TransitionSubscription> watch = SubscribeAll();

  absl::StatusOr<ResumeOutcome> resumed =
      manager_->Resume(second, login.resume_token, Secret(2));

  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->session, login.session);
  EXPECT_EQ(resumed->position, (GridPosition{6, 5}));
  EXPECT_EQ(resumed->last_move_tick, move_tick);
  EXPECT_EQ(resumed->server_tick, manager_->CurrentTick());
  EXPECT_EQ(resumed->resume_token, (ResumeToken{login.session, Secret(2)}));
  EXPECT_EQ(resumed->displaced_remote, std::nullopt);

  std::optional<SessionSnapshot> now = manager_->FindByRemote(second);
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->id, login.session);
  EXPECT_EQ(now->state, S::kActive);
  EXPECT_EQ(now->remote, second);
  EXPECT_EQ(now->player_id, "p");
  EXPECT_EQ(now->position, (GridPosition{6, 5}));
  EXPECT_EQ(now->last_move_tick, move_tick);
  EXPECT_EQ(now->resumes, 1u);
  EXPECT_EQ(now->last_seen, clock_.Now());
  EXPECT_EQ(StateOf(provisional), std::nullopt);
  EXPECT_EQ(manager_->size(), 1u);

  TransitionSubscription::Delivery seen = watch->Take();
  ASSERT_THAT(seen.transitions, SizeIs(2));
  EXPECT_EQ(seen.transitions[0].session, provisional);
  EXPECT_EQ(seen.transitions[0].transition,
            (Transition{S::kAuthenticating, S::kClosed, E::kAbsorbedByResume,
                        R::kResumed}));
  EXPECT_EQ(seen.transitions[1].session, login.session);
  EXPECT_EQ(seen.transitions[1].transition,
            (Transition{S::kReconnecting, S::kActive, E::kResumeSucceeded,
                        R::kNone}));

  // The presented token is spent; the rotated one works.
  ASSERT_TRUE(manager_->OnTransportClosed(second, false).ok());
  const RemoteIdentity third = Remote(3);
  Connect(third);
  EXPECT_EQ(
      manager_->Resume(third, login.resume_token, Secret(3)).status().code(),
      absl::StatusCode::kPermissionDenied);
  absl::StatusOr<ResumeOutcome> again =
      manager_->Resume(third, resumed->resume_token, Secret(3));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->session, login.session);
  EXPECT_EQ(manager_->FindBySession(login.session)->resumes, 2u);
}

TEST_F(MultiSessionManagerTest, ResumeOverAHalfOpenConnectionDisplacesIt) {
  const RemoteIdentity stale = Remote(1);
  const LoginOutcome login = ConnectAndLogIn(stale, "p");
  const RemoteIdentity fresh = Remote(2);
  Connect(fresh);

  absl::StatusOr<ResumeOutcome> resumed =
      manager_->Resume(fresh, login.resume_token, Secret(2));

  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->displaced_remote, stale);
  EXPECT_FALSE(manager_->FindByRemote(stale).has_value());
  EXPECT_EQ(manager_->OnHeartbeat(stale).code(), absl::StatusCode::kNotFound);
  // The host closing the displaced connection does not touch the session.
  EXPECT_EQ(manager_->OnTransportClosed(stale, false).status().code(),
            absl::StatusCode::kNotFound);
  std::optional<SessionSnapshot> now = manager_->FindByRemote(fresh);
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->id, login.session);
  EXPECT_EQ(now->state, S::kActive);
  EXPECT_EQ(now->resumes, 1u);
  EXPECT_EQ(manager_->size(), 1u);
}

TEST_F(MultiSessionManagerTest,
       BadResumeTokensAreAllDeniedAlikeAndChangeNothing) {
  const LoginOutcome a = HeldForResume(Remote(1), "a");
  const LoginOutcome b = HeldForResume(Remote(2), "b");
  const RemoteIdentity attempt = Remote(3);
  const SessionId provisional = Connect(attempt);
  std::shared_ptr<TransitionSubscription> watch = SubscribeAll();
  const SessionSnapshot a_before = *manager_->FindBySession(a.session);
  const SessionSnapshot b_before = *manager_->FindBySession(b.session);
  const SessionSnapshot p_before = *manager_->FindBySession(provisional);
  const StateCounts counts_before = manager_->Counts();

  const uint64_t low_bits = (uint64_t{1} << 48) - 1;
  const std::vector<std::pair<std::string, ResumeToken>> tokens = {
      {"foreign: b's id with a's secret", {b.session, a.resume_token.secret}},
      {"wrong secret", {a.session, Secret(99)}},
      {"unknown session",
       {SessionId::Make(kTag, 999'999, a.session.shard()), Secret(1)}},
      {"other instance",
       {SessionId{(a.session.value & low_bits) | (uint64_t{kTag + 1} << 48)},
        a.resume_token.secret}},
      {"shard beyond the shard count",
       {SessionId::Make(kTag, 1, 200), a.resume_token.secret}},
      {"session that never logged in", {provisional, ResumeSecret{}}},
  };
  std::optional<absl::Status> first_denial;
  for (int round = 0; round < 2; ++round) {     // More than enough to close it
    for (const auto& [name, token] : tokens) {  // if failures counted.
      SCOPED_TRACE(name);
      absl::StatusOr<ResumeOutcome> resumed =
          manager_->Resume(attempt, token, Secret(50));
      EXPECT_EQ(resumed.status().code(), absl::StatusCode::kPermissionDenied);
      if (!first_denial) first_denial = resumed.status();
      EXPECT_EQ(resumed.status(), *first_denial);  // Same code and message.
    }
  }

  EXPECT_EQ(Key(*manager_->FindBySession(a.session)), Key(a_before));
  EXPECT_EQ(Key(*manager_->FindBySession(b.session)), Key(b_before));
  EXPECT_EQ(Key(*manager_->FindBySession(provisional)), Key(p_before));
  EXPECT_EQ(manager_->FindByRemote(attempt)->id, provisional);
  EXPECT_EQ(manager_->Counts().by_state, counts_before.by_state);
  EXPECT_THAT(watch->Take().transitions, IsEmpty());
  // The genuine tokens still work.
  EXPECT_TRUE(manager_->Resume(attempt, a.resume_token, Secret(4)).ok());
  Connect(Remote(4));
  EXPECT_TRUE(manager_->Resume(Remote(4), b.resume_token, Secret(5)).ok());
}

TEST_F(MultiSessionManagerTest, ResumeNeedsAConnectionWithoutALoggedInSession) {
  const LoginOutcome held = HeldForResume(Remote(1), "held");
  const RemoteIdentity busy = Remote(2);
  const SessionId busy_session = ConnectAndLogIn(busy, "busy").session;

  EXPECT_EQ(
      manager_->Resume(busy, held.resume_token, Secret(9)).status().code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      manager_->Resume(Remote(3), held.resume_token, Secret(9)).status().code(),
      absl::StatusCode::kFailedPrecondition);  // Not connected.
  EXPECT_EQ(StateOf(held.session), S::kReconnecting);
  EXPECT_EQ(manager_->FindByRemote(busy)->id, busy_session);
  EXPECT_EQ(manager_->FindByRemote(busy)->state, S::kActive);
  // The token was not spent by the refusals.
  Connect(Remote(3));
  EXPECT_TRUE(manager_->Resume(Remote(3), held.resume_token, Secret(9)).ok());
}

TEST_F(MultiSessionManagerTest, FailedResumesOfTheTokenHolderUseUpAttempts) {
  const LoginOutcome held = HeldForResume(Remote(1), "held");
  const RemoteIdentity busy = Remote(2);
  ConnectAndLogIn(busy, "busy");
  ASSERT_EQ(policy().max_resume_attempts, 3);
  for (int attempt = 1; attempt < 3; ++attempt) {
    EXPECT_EQ(
        manager_->Resume(busy, held.resume_token, Secret(9)).status().code(),
        absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(StateOf(held.session), S::kReconnecting) << attempt;
  }
  auto subscription = SubscribeAll();
  EXPECT_EQ(
      manager_->Resume(busy, held.resume_token, Secret(9)).status().code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StateOf(held.session), std::nullopt);
  const TransitionSubscription::Delivery delivery = subscription->Take();
  ASSERT_THAT(delivery.transitions, SizeIs(1));
  EXPECT_EQ(delivery.transitions[0].transition.reason, R::kResumeFailed);
}

TEST_F(MultiSessionManagerTest, StrangersDoNotUseUpResumeAttempts) {
  const LoginOutcome held = HeldForResume(Remote(1), "held");
  ResumeToken forged = held.resume_token;
  forged.secret = Secret(200);
  Connect(Remote(2));
  for (int attempt = 0; attempt < 10; ++attempt) {
    EXPECT_EQ(manager_->Resume(Remote(2), forged, Secret(9)).status().code(),
              absl::StatusCode::kPermissionDenied);
  }
  EXPECT_EQ(StateOf(held.session), S::kReconnecting);
  EXPECT_TRUE(manager_->Resume(Remote(2), held.resume_token, Secret(9)).ok());
}

TEST_F(MultiSessionManagerTest, RepeatedResumeOnTheSameConnectionAnswersAgain) {
  const LoginOutcome held = HeldForResume(Remote(1), "held");
  Connect(Remote(2));
  absl::StatusOr<ResumeOutcome> first =
      manager_->Resume(Remote(2), held.resume_token, Secret(50));
  ASSERT_TRUE(first.ok()) << first.status();
  const SessionSnapshot before = *manager_->FindBySession(held.session);

  // The reply was lost; the client sends the same resume again.
  absl::StatusOr<ResumeOutcome> again =
      manager_->Resume(Remote(2), held.resume_token, Secret(60));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->session, held.session);
  EXPECT_EQ(again->resume_token, first->resume_token);  // Nothing spent.
  EXPECT_EQ(Key(*manager_->FindBySession(held.session)), Key(before));

  // From any other connection the spent token is refused.
  Connect(Remote(3));
  EXPECT_EQ(manager_->Resume(Remote(3), held.resume_token, Secret(70))
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(
      manager_->Resume(Remote(3), first->resume_token, Secret(70)).ok());
}

TEST_F(MultiSessionManagerTest, ResumeOntoARemoteOfAnotherShardWorks) {
  const RemoteIdentity original = Remote(1);
  const LoginOutcome login = ConnectAndLogIn(original, "p", GridPosition{5, 5});
  const uint32_t home = login.session.shard();
  const LoginOutcome target =
      ConnectAndLogIn(Remote(2), "target", GridPosition{7, 5});
  ASSERT_TRUE(manager_->OnTransportClosed(original, false).ok());
  const RemoteIdentity away = ConnectRemoteInShard(home, /*same=*/false);

  absl::StatusOr<ResumeOutcome> resumed =
      manager_->Resume(away, login.resume_token, Secret(2));
  ASSERT_TRUE(resumed.ok()) << resumed.status();

  // Every call through the new remote reaches the session in its home shard.
  std::optional<SessionSnapshot> view = manager_->FindByRemote(away);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->id, login.session);
  EXPECT_EQ(view->remote, away);
  absl::StatusOr<ConnectOutcome> known = manager_->OnTransportConnected(away);
  ASSERT_TRUE(known.ok());
  EXPECT_FALSE(known->created);
  EXPECT_EQ(known->session, login.session);
  EXPECT_TRUE(manager_->OnHeartbeat(away).ok());
  EXPECT_TRUE(manager_->RecordRtt(away, absl::Milliseconds(7)).ok());
  EXPECT_EQ(manager_->FindBySession(login.session)->rtt, absl::Milliseconds(7));
  AdvanceTo(absl::Seconds(1));
  absl::StatusOr<MoveOutcome> moved =
      manager_->ApplyMove(away, {manager_->CurrentTick(), 1, 0});
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->session, login.session);
  EXPECT_EQ(moved->result.position, (GridPosition{6, 5}));
  absl::StatusOr<ShootOutcome> shot =
      manager_->ApplyShoot(away, manager_->CurrentTick(), target.session);
  ASSERT_TRUE(shot.ok()) << shot.status();
  EXPECT_EQ(shot->result.rejection, InputRejection::kNone);
  EXPECT_EQ(shot->target_remote, Remote(2));
  EXPECT_EQ(manager_->Login(away, Grant("x"), Secret(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Liveness: Suspect, then back to Active through the new remote.
  AdvanceTo(absl::Seconds(1) + policy().suspect_after + resolution());
  ASSERT_EQ(StateOf(login.session), S::kSuspect);
  EXPECT_TRUE(manager_->OnInboundMessage(away).ok());
  EXPECT_EQ(StateOf(login.session), S::kActive);
  // Resuming onto the cross-shard remote while it carries the session.
  EXPECT_EQ(
      manager_->Resume(away, resumed->resume_token, Secret(3)).status().code(),
      absl::StatusCode::kFailedPrecondition);

  // Losing the new remote unbinds it in its own shard: it is free again.
  absl::StatusOr<std::optional<SessionTransition>> lost =
      manager_->OnTransportClosed(away, false);
  ASSERT_TRUE(lost.ok()) << lost.status();
  ASSERT_TRUE(lost->has_value());
  EXPECT_EQ((*lost)->session, login.session);
  EXPECT_EQ((*lost)->remote, away);
  EXPECT_FALSE(manager_->FindByRemote(away).has_value());
  EXPECT_EQ(manager_->OnHeartbeat(away).code(), absl::StatusCode::kNotFound);
  absl::StatusOr<ConnectOutcome> reused = manager_->OnTransportConnected(away);
  ASSERT_TRUE(reused.ok());
  EXPECT_TRUE(reused->created);
  EXPECT_NE(reused->session, login.session);

  // Back home, then an orderly close through the home-shard remote.
  const RemoteIdentity back = ConnectRemoteInShard(home, /*same=*/true);
  absl::StatusOr<ResumeOutcome> home_again =
      manager_->Resume(back, resumed->resume_token, Secret(4));
  ASSERT_TRUE(home_again.ok()) << home_again.status();
  absl::StatusOr<std::optional<SessionTransition>> closed =
      manager_->OnTransportClosed(back, true);
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(StateOf(login.session), std::nullopt);
}

TEST_F(MultiSessionManagerTest, EvictingACrossShardSessionFreesItsRemote) {
  const RemoteIdentity original = Remote(1);
  const LoginOutcome login = ConnectAndLogIn(original, "p");
  const RemoteIdentity away =
      ConnectRemoteInShard(login.session.shard(), /*same=*/false);
  // Half-open resume across shards: the old remote is displaced.
  absl::StatusOr<ResumeOutcome> resumed =
      manager_->Resume(away, login.resume_token, Secret(2));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->displaced_remote, original);
  EXPECT_FALSE(manager_->FindByRemote(original).has_value());

  absl::StatusOr<SessionTransition> evicted = manager_->Evict(login.session);
  ASSERT_TRUE(evicted.ok()) << evicted.status();
  EXPECT_EQ(evicted->remote, away);
  EXPECT_FALSE(manager_->FindByRemote(away).has_value());
  absl::StatusOr<ConnectOutcome> reused = manager_->OnTransportConnected(away);
  ASSERT_TRUE(reused.ok());
  EXPECT_TRUE(reused->created);
  EXPECT_EQ(manager_->size(), 1u);
}

// --- Gameplay ----------------------------------------------------------------

TEST_F(MultiSessionManagerTest, InputsBeforeLoginAreNotLoggedIn) {
  const RemoteIdentity remote = Remote(1);
  const SessionId session = Connect(remote);
  const SessionId target = ConnectAndLogIn(Remote(2), "t").session;
  AdvanceTo(absl::Seconds(1));

  absl::StatusOr<MoveOutcome> moved =
      manager_->ApplyMove(remote, {manager_->CurrentTick(), 1, 0});
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->session, session);
  EXPECT_EQ(moved->result.rejection, InputRejection::kNotLoggedIn);
  absl::StatusOr<ShootOutcome> shot =
      manager_->ApplyShoot(remote, manager_->CurrentTick(), target);
  ASSERT_TRUE(shot.ok()) << shot.status();
  EXPECT_EQ(shot->result.rejection, InputRejection::kNotLoggedIn);
  EXPECT_EQ(shot->target_remote, std::nullopt);
  EXPECT_EQ(manager_->FindBySession(session)->last_move_tick, -1);
  EXPECT_EQ(manager_->FindBySession(target)->health,
            manager_->options().rules.combat.max_health);
}

TEST_F(MultiSessionManagerTest, InputsWithoutPermissionAreNotPermitted) {
  const RemoteIdentity shooter_only = Remote(1);
  const RemoteIdentity mover_only = Remote(2);
  const SessionId s1 =
      ConnectAndLogIn(shooter_only, "s", GridPosition{5, 5}, kPermissionShoot)
          .session;
  const SessionId s2 =
      ConnectAndLogIn(mover_only, "m", GridPosition{6, 5}, kPermissionMove)
          .session;
  AdvanceTo(absl::Seconds(1));
  const int64_t tick = manager_->CurrentTick();

  EXPECT_EQ(manager_->ApplyMove(shooter_only, {tick, 1, 0})->result.rejection,
            InputRejection::kNotPermitted);
  EXPECT_EQ(manager_->ApplyShoot(mover_only, tick, s1)->result.rejection,
            InputRejection::kNotPermitted);
  EXPECT_EQ(manager_->FindBySession(s1)->position, (GridPosition{5, 5}));
  EXPECT_EQ(manager_->FindBySession(s1)->health,
            manager_->options().rules.combat.max_health);
  EXPECT_EQ(manager_->FindBySession(s2)->last_shot_tick, -1);
  // The permitted halves work.
  EXPECT_EQ(manager_->ApplyMove(mover_only, {tick, 1, 0})->result.rejection,
            InputRejection::kNone);
  EXPECT_EQ(manager_->ApplyShoot(shooter_only, tick, s2)->result.rejection,
            InputRejection::kNone);
}

TEST_F(MultiSessionManagerTest, MoveAppliesTheRulesToTheSendersState) {
  const RemoteIdentity remote = Remote(1);
  const SessionId session =
      ConnectAndLogIn(remote, "p", GridPosition{0, 0}).session;
  const SessionSnapshot other_before =
      *manager_->FindBySession(ConnectAndLogIn(Remote(2), "o").session);
  AdvanceTo(absl::Seconds(1));
  const int64_t tick = manager_->CurrentTick();  // 20.
  auto move = [&](int64_t t, int32_t dx, int32_t dy) {
    absl::StatusOr<MoveOutcome> outcome =
        manager_->ApplyMove(remote, {t, dx, dy});
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    EXPECT_EQ(outcome->session, session);
    return outcome->result;
  };

  MoveResult clamped = move(tick, -1, 1);
  EXPECT_EQ(clamped.rejection, InputRejection::kNone);
  EXPECT_TRUE(clamped.clamped);
  EXPECT_EQ(clamped.position, (GridPosition{0, 1}));
  EXPECT_EQ(move(tick, 0, 1).rejection, InputRejection::kStaleTick);
  EXPECT_EQ(move(tick + 1, 2, 0).rejection, InputRejection::kTooManySteps);
  MoveResult ahead = move(tick + 5, 0, 1);
  EXPECT_EQ(ahead.rejection, InputRejection::kTickTooFarAhead);
  EXPECT_EQ(ahead.position, (GridPosition{0, 1}));
  EXPECT_EQ(move(tick + 4, 3, 0).rejection, InputRejection::kNone);

  const SessionSnapshot after = *manager_->FindBySession(session);
  EXPECT_EQ(after.position, (GridPosition{3, 1}));
  EXPECT_EQ(after.last_move_tick, tick + 4);
  EXPECT_EQ(Key(*manager_->FindBySession(other_before.id)), Key(other_before));
}

// ApplyInputs must be indistinguishable from the single calls: the same
// events (heartbeats with and without a round trip, messages, moves with stale,
// too-far and valid ticks, unknown remotes, a session resumed onto another
// shard's remote) applied to two managers, one batch against one call at a
// time.
TEST(MultiSessionManagerBatchTest, ApplyInputsMatchesSingleCalls) {
  ManualClock batch_clock{kStart};
  ManualClock single_clock{kStart};
  MultiSessionOptions options = DefaultOptions();
  options.policy.suspect_after = absl::Seconds(1);
  options.policy.liveness_timeout = absl::Seconds(5);
  auto batched = *MultiSessionManager::Create(options, batch_clock);
  auto single = *MultiSessionManager::Create(options, single_clock);
  const int kPeers = 64;
  for (auto* manager : {batched.get(), single.get()}) {
    for (int p = 0; p < kPeers; ++p) {
      ASSERT_TRUE(manager->OnTransportConnected(Remote(p + 1)).ok());
      ASSERT_TRUE(manager
                      ->Login(Remote(p + 1),
                              Grant(absl::StrCat("p", p), {{5, 5}}),
                              Secret(static_cast<uint8_t>(p)))
                      .ok());
    }
    // Peer 0 resumes onto a fresh remote (likely another shard's).
    ResumeToken token{manager->FindByPlayer("p0")->id, Secret(0)};
    ASSERT_TRUE(manager->OnTransportClosed(Remote(1), false).ok());
    ASSERT_TRUE(manager->OnTransportConnected(Remote(9999)).ok());
    ASSERT_TRUE(manager->Resume(Remote(9999), token, Secret(77)).ok());
  }
  std::mt19937_64 random(7);
  for (int round = 0; round < 50; ++round) {
    batch_clock.Advance(absl::Milliseconds(700));
    single_clock.Advance(absl::Milliseconds(700));
    batched->AdvanceTime();
    single->AdvanceTime();
    const int64_t tick = single->CurrentTick();
    std::vector<PeerInput> inputs;
    for (int k = 0; k < 100; ++k) {
      const int p = static_cast<int>(random() % (kPeers + 2));
      PeerInput input;
      input.remote =
          p == 0 ? Remote(9999) : Remote(p == kPeers + 1 ? 5000 : p + 1);
      input.kind = static_cast<PeerInput::Kind>(random() % 3);
      input.move = {tick - 2 + static_cast<int64_t>(random() % 8),
                    static_cast<int32_t>(random() % 5) - 2,
                    static_cast<int32_t>(random() % 3) - 1};
      if (input.kind == PeerInput::Kind::kHeartbeat && random() % 2 == 0) {
        input.rtt = absl::Microseconds(static_cast<int64_t>(random() % 90000));
      }
      inputs.push_back(input);
    }
    std::vector<PeerInputResult> results(inputs.size());
    batched->ApplyInputs(inputs, absl::MakeSpan(results));
    for (size_t i = 0; i < inputs.size(); ++i) {
      SCOPED_TRACE(absl::StrCat("round ", round, " input ", i));
      const PeerInput& input = inputs[i];
      absl::Status status;
      MoveResult move;
      if (input.kind == PeerInput::Kind::kMove) {
        absl::StatusOr<MoveOutcome> outcome =
            single->ApplyMove(input.remote, input.move);
        status = outcome.status();
        if (outcome.ok()) move = outcome->result;
      } else if (input.kind == PeerInput::Kind::kHeartbeat) {
        status = single->OnHeartbeat(input.remote);
        if (status.ok() && input.rtt) {
          ASSERT_TRUE(single->RecordRtt(input.remote, *input.rtt).ok());
        }
      } else {
        status = single->OnInboundMessage(input.remote);
      }
      ASSERT_EQ(results[i].status.code(), status.code());
      if (!status.ok()) continue;
      EXPECT_EQ(results[i].move.rejection, move.rejection);
      EXPECT_EQ(results[i].move.position, move.position);
    }
    const StateCounts a = batched->Counts();
    const StateCounts b = single->Counts();
    EXPECT_EQ(a.by_state, b.by_state);
  }
  int with_rtt = 0;
  for (int p = 0; p < kPeers; ++p) {
    const std::string player = absl::StrCat("p", p);
    if (batched->FindByPlayer(player)->rtt) ++with_rtt;
    EXPECT_EQ(Key(*batched->FindByPlayer(player)),
              Key(*single->FindByPlayer(player)))
        << player;
    EXPECT_EQ(batched->FindByPlayer(player)->rtt,
              single->FindByPlayer(player)->rtt)
        << player;
  }
  EXPECT_GT(with_rtt, kPeers / 2);
}

TEST_F(MultiSessionManagerTest, ShootHitsATargetInAnotherShard) {
  const RemoteIdentity shooter_remote = Remote(1);
  const SessionId shooter =
      ConnectAndLogIn(shooter_remote, "shooter", GridPosition{10, 10}).session;
  const RemoteIdentity target_remote =
      ConnectRemoteInShard(shooter.shard(), /*same=*/false);
  const SessionId target =
      LogIn(target_remote, "target", GridPosition{13, 14}).session;
  ASSERT_NE(target.shard(), shooter.shard());
  const SessionId bystander =
      ConnectAndLogIn(Remote(2), "bystander", GridPosition{11, 10}).session;
  AdvanceTo(absl::Seconds(1));
  const CombatConfig& combat = manager_->options().rules.combat;
  const int64_t tick = manager_->CurrentTick();

  absl::StatusOr<ShootOutcome> shot =
      manager_->ApplyShoot(shooter_remote, tick, target);

  ASSERT_TRUE(shot.ok()) << shot.status();
  EXPECT_EQ(shot->session, shooter);
  EXPECT_EQ(shot->target, target);
  EXPECT_EQ(shot->result.rejection, InputRejection::kNone);
  EXPECT_EQ(shot->result.target_health, combat.max_health - combat.damage);
  EXPECT_EQ(shot->target_remote, target_remote);
  EXPECT_EQ(manager_->FindBySession(target)->health,
            combat.max_health - combat.damage);
  EXPECT_EQ(manager_->FindBySession(target)->position, (GridPosition{13, 14}));
  EXPECT_EQ(manager_->FindBySession(target)->last_shot_tick, -1);
  EXPECT_EQ(manager_->FindBySession(shooter)->health, combat.max_health);
  EXPECT_EQ(manager_->FindBySession(shooter)->last_shot_tick, tick);
  EXPECT_EQ(manager_->FindBySession(bystander)->health, combat.max_health);

  // A target held for resume is not active; no remote to tell.
  ASSERT_TRUE(manager_->OnTransportClosed(target_remote, false).ok());
  AdvanceTo(absl::Seconds(1) + combat.fire_cooldown);
  absl::StatusOr<ShootOutcome> at_held =
      manager_->ApplyShoot(shooter_remote, manager_->CurrentTick(), target);
  ASSERT_TRUE(at_held.ok());
  EXPECT_EQ(at_held->result.rejection, InputRejection::kTargetNotActive);
  EXPECT_EQ(at_held->target_remote, std::nullopt);
  EXPECT_EQ(manager_->FindBySession(target)->health,
            combat.max_health - combat.damage);
  // Targets of other instances are unknown here.
  absl::StatusOr<ShootOutcome> elsewhere =
      manager_->ApplyShoot(shooter_remote, manager_->CurrentTick(),
                           SessionId::Make(kTag + 1, 1, target.shard()));
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_EQ(elsewhere->result.rejection, InputRejection::kUnknownTarget);
}

// --- Evict -------------------------------------------------------------------

TEST_F(MultiSessionManagerTest, EvictClosesOneSessionInAnyState) {
  const RemoteIdentity active_remote = Remote(1);
  const SessionId active = ConnectAndLogIn(active_remote, "active").session;
  const SessionId held = HeldForResume(Remote(2), "held").session;
  const SessionId pending = Connect(Remote(3));

  absl::StatusOr<SessionTransition> evicted = manager_->Evict(active);
  ASSERT_TRUE(evicted.ok()) << evicted.status();
  EXPECT_EQ(evicted->session, active);
  EXPECT_EQ(evicted->remote, active_remote);  // For the host to close.
  EXPECT_EQ(evicted->player_id, "active");
  EXPECT_EQ(evicted->transition,
            (Transition{S::kActive, S::kClosed, E::kEvict, R::kEvicted}));
  EXPECT_FALSE(manager_->FindByRemote(active_remote).has_value());
  EXPECT_FALSE(manager_->FindByPlayer("active").has_value());

  absl::StatusOr<SessionTransition> evicted_held = manager_->Evict(held);
  ASSERT_TRUE(evicted_held.ok());
  EXPECT_EQ(evicted_held->transition.from, S::kReconnecting);
  EXPECT_EQ(evicted_held->remote, std::nullopt);
  absl::StatusOr<SessionTransition> evicted_pending = manager_->Evict(pending);
  ASSERT_TRUE(evicted_pending.ok());
  EXPECT_EQ(evicted_pending->transition.from, S::kAuthenticating);
  EXPECT_EQ(manager_->size(), 0u);

  for (SessionId unknown :
       {active, SessionId{}, SessionId::Make(kTag, 12345, 0),
        SessionId::Make(kTag + 1, active.value >> 8, active.shard()),
        SessionId::Make(kTag, 1, 255)}) {
    EXPECT_EQ(manager_->Evict(unknown).status().code(),
              absl::StatusCode::kNotFound)
        << unknown.ToString();
  }
}

// --- List and Counts ---------------------------------------------------------

TEST_F(MultiSessionManagerTest, ListFiltersByStateAndGateway) {
  const SessionId g1_active = ConnectAndLogIn(Remote(1, 1), "a").session;
  const SessionId g2_active = ConnectAndLogIn(Remote(2, 2), "b").session;
  const SessionId g1_pending = Connect(Remote(3, 1));
  const SessionId g2_pending = Connect(Remote(4, 2));
  const SessionId held = HeldForResume(Remote(5, 2), "c").session;
  auto ids = [&](const ListOptions& options) {
    SessionPage page = manager_->List(options);
    EXPECT_EQ(page.next_after, std::nullopt);
    std::vector<SessionId> out;
    for (const SessionSnapshot& s : page.sessions) out.push_back(s.id);
    return out;
  };

  EXPECT_THAT(ids({}),
              ElementsAre(g1_active, g2_active, g1_pending, g2_pending, held));
  EXPECT_THAT(ids({.state_mask = Mask({S::kActive})}),
              ElementsAre(g1_active, g2_active));
  EXPECT_THAT(ids({.state_mask = Mask({S::kAuthenticating, S::kReconnecting})}),
              ElementsAre(g1_pending, g2_pending, held));
  EXPECT_THAT(ids({.state_mask = Mask({S::kClosed, S::kSuspect})}), IsEmpty());
  // A session held for resume has no remote, so no gateway.
  EXPECT_THAT(ids({.gateway_id = 2}), ElementsAre(g2_active, g2_pending));
  EXPECT_THAT(ids({.state_mask = Mask({S::kActive}), .gateway_id = 1}),
              ElementsAre(g1_active));
  EXPECT_THAT(ids({.gateway_id = 3}), IsEmpty());
  EXPECT_THAT(ids({.after = g2_active}),
              ElementsAre(g1_pending, g2_pending, held));
}

// Walks every page of `options`, changing the manager between pages with
// `between`; returns the ids in the order returned.
std::vector<SessionId> WalkAllPages(MultiSessionManager& manager,
                                    ListOptions options,
                                    const std::function<void()>& between) {
  std::vector<SessionId> seen;
  for (int pages = 0; pages < 100'000; ++pages) {
    SessionPage page = manager.List(options);
    EXPECT_LE(page.sessions.size(), options.page_size);
    for (const SessionSnapshot& s : page.sessions) seen.push_back(s.id);
    if (!page.next_after) return seen;
    EXPECT_TRUE(!options.after || *options.after < *page.next_after);
    options.after = page.next_after;
    between();
  }
  ADD_FAILURE() << "the walk did not end";
  return seen;
}

TEST_F(MultiSessionManagerTest, ListWalksTenThousandSessionsWhileTheyChange) {
  constexpr int kSessions = 10'000;
  std::vector<RemoteIdentity> volatile_remotes;
  std::vector<SessionId> stable;
  for (int i = 0; i < kSessions; ++i) {
    const RemoteIdentity remote = Remote(i + 1);
    const SessionId id = Connect(remote);
    if (i % 3 == 0) {
      volatile_remotes.push_back(remote);
    } else {
      stable.push_back(id);
    }
  }
  uint64_t next_new = 1'000'000;
  size_t next_removed = 0;
  // Between pages: 30 sessions leave (from anywhere in id order) and
  // `joining` join.
  int joining = 30;
  auto churn = [&] {
    for (int i = 0; i < 30 && next_removed < volatile_remotes.size(); ++i) {
      const size_t pick = (next_removed * 7919) % volatile_remotes.size();
      ++next_removed;
      (void)manager_->OnTransportClosed(volatile_remotes[pick], true);
    }
    for (int i = 0; i < joining; ++i) Connect(Remote(next_new++));
  };

  for (size_t page_size : {size_t{100}, size_t{1000}, size_t{1}}) {
    SCOPED_TRACE(page_size);
    if (page_size == 1) {
      // A page per session: walk a tail only, and with one joining per page
      // so the walk can catch up with the end.
      joining = 0;
      ListOptions tail{.page_size = 1, .after = stable[stable.size() - 300]};
      std::vector<SessionId> seen = WalkAllPages(*manager_, tail, churn);
      EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
      continue;
    }
    std::vector<SessionId> seen =
        WalkAllPages(*manager_, {.page_size = page_size}, churn);
    EXPECT_TRUE(std::adjacent_find(seen.begin(), seen.end(),
                                   [](SessionId a, SessionId b) {
                                     return !(a < b);
                                   }) == seen.end())
        << "ids must strictly ascend";
    std::set<SessionId> seen_set(seen.begin(), seen.end());
    EXPECT_EQ(seen_set.size(), seen.size()) << "duplicates";
    size_t missing = 0;
    for (SessionId id : stable) missing += seen_set.count(id) == 0 ? 1 : 0;
    EXPECT_EQ(missing, 0u);
  }
}

// ForEach pages by itself: more sessions than a page, a filter, and a visit
// that changes the manager (closing the session it is shown) as the host's
// drain does.
TEST_F(MultiSessionManagerTest, ForEachVisitsEveryMatchOnceAndMayCallBack) {
  constexpr int kSessions = 2'500;
  std::set<SessionId> on_gateway_two;
  for (int i = 0; i < kSessions; ++i) {
    const uint32_t gateway = 1 + i % 2;
    const SessionId id = Connect(Remote(i + 1, gateway));
    if (gateway == 2) on_gateway_two.insert(id);
  }
  std::vector<SessionId> visited;
  manager_->ForEach(
      {.gateway_id = 2, .page_size = 7, .after = *on_gateway_two.rbegin()},
      [&](const SessionSnapshot& session) {
        visited.push_back(session.id);
        ASSERT_TRUE(session.remote.has_value());
        EXPECT_TRUE(manager_->OnTransportClosed(*session.remote, true).ok());
      });
  EXPECT_TRUE(std::is_sorted(visited.begin(), visited.end()));
  EXPECT_EQ(std::set<SessionId>(visited.begin(), visited.end()),
            on_gateway_two);
  EXPECT_EQ(manager_->size(), static_cast<size_t>(kSessions / 2));
  size_t left = 0;
  manager_->ForEach({}, [&](const SessionSnapshot& session) {
    ++left;
    EXPECT_EQ(session.remote->gateway_id, 1u);
  });
  EXPECT_EQ(left, static_cast<size_t>(kSessions / 2));
}

TEST_F(MultiSessionManagerTest, ListWalksASparseFilterAcrossShortPages) {
  // One session in 50 matches: shards stop scanning early and pages may come
  // back short or empty, but the walk still returns every match once.
  constexpr int kSessions = 10'000;
  std::vector<SessionId> matching;
  for (int i = 0; i < kSessions; ++i) {
    const RemoteIdentity remote = Remote(i + 1);
    if (i % 50 == 0) {
      matching.push_back(ConnectAndLogIn(remote, absl::StrCat("p", i)).session);
    } else {
      Connect(remote);
    }
  }
  uint64_t next_new = 1'000'000;
  auto churn = [&] {
    for (int i = 0; i < 5; ++i) Connect(Remote(next_new++));
  };
  std::vector<SessionId> seen = WalkAllPages(
      *manager_, {.state_mask = Mask({S::kActive}), .page_size = 7}, churn);
  EXPECT_EQ(seen, matching);
}

TEST_F(MultiSessionManagerTest, ListStopsWhereTheLeastAdvancedShardStopped) {
  // Two shards. Shard 0 holds 300 non-matching sessions, more than one call
  // scans (page_size * 4 + 256 = 284), then a match M2; shard 1 holds only
  // matches M1 and M3, created around M2. The first page must not run ahead
  // into ids shard 0 has not scanned yet, or M2 would be skipped or M1 and M3
  // repeated.
  MultiSessionOptions options = DefaultOptions();
  options.shard_count = 2;
  Recreate(options);
  for (int i = 0; i < 300; ++i) ConnectRemoteInShard(0, /*same_shard=*/true);
  const RemoteIdentity m1 = ConnectRemoteInShard(0, /*same_shard=*/false);
  const SessionId m1_id = LogIn(m1, "m1").session;
  const RemoteIdentity m2 = ConnectRemoteInShard(0, /*same_shard=*/true);
  const SessionId m2_id = LogIn(m2, "m2").session;
  const RemoteIdentity m3 = ConnectRemoteInShard(0, /*same_shard=*/false);
  const SessionId m3_id = LogIn(m3, "m3").session;
  ASSERT_EQ(manager_->size(), 303u);

  const ListOptions active{.state_mask = Mask({S::kActive}), .page_size = 7};
  SessionPage first = manager_->List(active);
  ASSERT_TRUE(first.next_after.has_value());
  EXPECT_LT(*first.next_after, m1_id);
  for (const SessionSnapshot& s : first.sessions) {
    EXPECT_LE(s.id, *first.next_after);
  }
  EXPECT_THAT(WalkAllPages(*manager_, active, [] {}),
              ElementsAre(m1_id, m2_id, m3_id));
}

TEST_F(MultiSessionManagerTest, CountsFollowEveryState) {
  Connect(Remote(1));
  ConnectAndLogIn(Remote(2), "active");
  ConnectAndLogIn(Remote(3), "suspect");
  HeldForResume(Remote(4), "held");
  AdvanceTo(absl::Seconds(9));
  ASSERT_TRUE(manager_->OnHeartbeat(Remote(2)).ok());
  AdvanceTo(policy().suspect_after + resolution());

  StateCounts counts = manager_->Counts();
  EXPECT_EQ(CountOf(counts, S::kConnecting), 0);
  EXPECT_EQ(CountOf(counts, S::kAuthenticating), 0);  // Timed out at 10 s.
  EXPECT_EQ(CountOf(counts, S::kActive), 1);
  EXPECT_EQ(CountOf(counts, S::kSuspect), 1);
  EXPECT_EQ(CountOf(counts, S::kReconnecting), 1);
  EXPECT_EQ(CountOf(counts, S::kClosed), 0);
  EXPECT_EQ(counts.total(), 3);
  EXPECT_EQ(static_cast<size_t>(counts.total()), manager_->size());
}

// --- Subscribe ---------------------------------------------------------------

TEST_F(MultiSessionManagerTest, SubscribersSeeTransitionsInOrder) {
  std::shared_ptr<TransitionSubscription> all = SubscribeAll();
  const RemoteIdentity a = Remote(1);
  const RemoteIdentity b = Remote(2);
  const SessionId a_id = Connect(a);
  absl::StatusOr<std::shared_ptr<TransitionSubscription>> only_a =
      manager_->Subscribe({.session = a_id});
  ASSERT_TRUE(only_a.ok());
  const SessionId b_id = Connect(b);
  LogIn(a, "a");
  ASSERT_TRUE(manager_->FailLogin(b).ok());
  AdvanceTo(absl::Hours(1));  // a: Suspect, Reconnecting, Closed.

  auto check_chain = [](const std::vector<SessionTransition>& chain,
                        uint32_t first_sequence) {
    for (size_t i = 0; i < chain.size(); ++i) {
      EXPECT_EQ(chain[i].sequence, first_sequence + i);
      if (i > 0) {
        EXPECT_EQ(chain[i].transition.from, chain[i - 1].transition.to);
        EXPECT_GE(chain[i].at, chain[i - 1].at);
      }
    }
  };
  TransitionSubscription::Delivery everything = all->Take();
  EXPECT_EQ(everything.lost, 0u);
  EXPECT_FALSE(everything.ended);
  std::vector<SessionTransition> of_a = Of(a_id, everything.transitions);
  std::vector<SessionTransition> of_b = Of(b_id, everything.transitions);
  ASSERT_THAT(of_a, SizeIs(5));
  ASSERT_THAT(of_b, SizeIs(2));
  EXPECT_EQ(of_a[0].transition.from, S::kConnecting);
  EXPECT_EQ(of_a[4].transition.reason, R::kGraceExpired);
  check_chain(of_a, 1);
  check_chain(of_b, 1);

  TransitionSubscription::Delivery just_a = (*only_a)->Take();
  ASSERT_THAT(just_a.transitions, SizeIs(4));  // Subscribed after connect.
  check_chain(just_a.transitions, 2);
  EXPECT_TRUE(just_a.ended);
}

TEST_F(MultiSessionManagerTest, SessionSubscriptionEndsWhenTheSessionCloses) {
  const SessionId session = ConnectAndLogIn(Remote(1), "p").session;
  const SessionId other = ConnectAndLogIn(Remote(2), "q").session;
  absl::StatusOr<std::shared_ptr<TransitionSubscription>> watch =
      manager_->Subscribe({.session = session, .capacity = 8});
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(manager_->OnTransportClosed(Remote(1), false).ok());
  TransitionSubscription::Delivery first = (*watch)->Take();
  ASSERT_THAT(first.transitions, SizeIs(1));
  EXPECT_FALSE(first.ended);

  ASSERT_TRUE(manager_->Evict(session).ok());
  ASSERT_TRUE(manager_->Evict(other).ok());  // Not this subscription's.

  TransitionSubscription::Delivery last = (*watch)->Take(/*max=*/1);
  ASSERT_THAT(last.transitions, SizeIs(1));
  EXPECT_EQ(last.transitions[0].transition.reason, R::kEvicted);
  EXPECT_TRUE(last.ended);
  TransitionSubscription::Delivery after = (*watch)->Take();
  EXPECT_THAT(after.transitions, IsEmpty());
  EXPECT_TRUE(after.ended);
}

TEST_F(MultiSessionManagerTest, SlowSubscriberLosesTheOldestAndCountsThem) {
  std::shared_ptr<TransitionSubscription> reference = SubscribeAll(100);
  std::shared_ptr<TransitionSubscription> slow = SubscribeAll(4);
  ASSERT_EQ(slow->capacity(), 4u);
  for (int i = 0; i < 5; ++i) {
    ConnectAndLogIn(Remote(i + 1), absl::StrCat("p", i));  // 2 each.
  }

  TransitionSubscription::Delivery got = slow->Take();
  std::vector<SessionTransition> all = reference->Take().transitions;
  ASSERT_THAT(all, SizeIs(10));
  EXPECT_EQ(got.lost, 6u);
  ASSERT_THAT(got.transitions, SizeIs(4));
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(Comparable(got.transitions[i]), Comparable(all[6 + i]));
  }
  EXPECT_EQ(slow->total_lost(), 6u);

  // Losses are reported once; a queue that kept up loses nothing.
  ConnectAndLogIn(Remote(100), "q");
  got = slow->Take(/*max=*/1);
  EXPECT_EQ(got.lost, 0u);
  EXPECT_THAT(got.transitions, SizeIs(1));
  got = slow->Take();
  EXPECT_EQ(got.lost, 0u);
  EXPECT_THAT(got.transitions, SizeIs(1));

  // A thousand transitions later the queue still holds four.
  for (int i = 0; i < 500; ++i) {
    ConnectAndLogIn(Remote(1000 + i), absl::StrCat("r", i));
  }
  got = slow->Take();
  EXPECT_EQ(got.lost, 996u);
  EXPECT_THAT(got.transitions, SizeIs(4));
  EXPECT_EQ(got.transitions.back().player_id, "r499");
  EXPECT_EQ(slow->total_lost(), 1002u);
}

TEST_F(MultiSessionManagerTest, OnReadyRunsOnceWhenTheQueueBecomesNonEmpty) {
  int calls = 0;
  absl::StatusOr<std::shared_ptr<TransitionSubscription>> watch =
      manager_->Subscribe({.capacity = 8, .on_ready = [&] { ++calls; }});
  ASSERT_TRUE(watch.ok());
  int tiny_calls = 0;
  absl::StatusOr<std::shared_ptr<TransitionSubscription>> tiny =
      manager_->Subscribe({.capacity = 1, .on_ready = [&] { ++tiny_calls; }});
  ASSERT_TRUE(tiny.ok());
  EXPECT_EQ(calls, 0);

  for (int i = 0; i < 3; ++i)
    ConnectAndLogIn(Remote(i + 1), "p" + std::to_string(i));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(tiny_calls, 1);  // Full, but never empty again.
  (*watch)->Take();
  EXPECT_EQ(calls, 1);
  for (int i = 0; i < 10; ++i) Connect(Remote(100 + i));  // Overflows.
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(tiny_calls, 1);
  EXPECT_EQ((*tiny)->Take().lost, 15u);
  Connect(Remote(200));
  EXPECT_EQ(tiny_calls, 2);

  // A session subscription is woken once for its last transition.
  const SessionId session = ConnectAndLogIn(Remote(300), "s").session;
  int session_calls = 0;
  absl::StatusOr<std::shared_ptr<TransitionSubscription>> one =
      manager_->Subscribe(
          {.session = session, .on_ready = [&] { ++session_calls; }});
  ASSERT_TRUE(one.ok());
  ASSERT_TRUE(manager_->Evict(session).ok());
  EXPECT_EQ(session_calls, 1);
  TransitionSubscription::Delivery last = (*one)->Take();
  EXPECT_THAT(last.transitions, SizeIs(1));
  EXPECT_TRUE(last.ended);
}

TEST_F(MultiSessionManagerTest, SubscribingToAnUnknownSessionIsNotFound) {
  const SessionId closed = Connect(Remote(1));
  ASSERT_TRUE(manager_->FailLogin(Remote(1)).ok());
  for (SessionId unknown :
       {closed, SessionId{}, SessionId::Make(kTag, 5, 0),
        SessionId::Make(kTag + 1, 1, 0), SessionId::Make(kTag, 1, 255)}) {
    EXPECT_EQ(manager_->Subscribe({.session = unknown}).status().code(),
              absl::StatusCode::kNotFound)
        << unknown.ToString();
  }
}

TEST_F(MultiSessionManagerTest, ADroppedSubscriptionIsForgotten) {
  std::shared_ptr<TransitionSubscription> watch = SubscribeAll();
  std::weak_ptr<TransitionSubscription> weak = watch;
  watch.reset();
  EXPECT_TRUE(weak.expired());  // The manager holds no strong reference.
  ConnectAndLogIn(Remote(1), "p");
  EXPECT_EQ(manager_->size(), 1u);
}

// --- Concurrency -------------------------------------------------------------

TEST_F(MultiSessionManagerTest, ConcurrentTrafficAndTimeKeepCountsConsistent) {
  constexpr int kWorkers = 4;
  constexpr int kPerWorker = 32;
  constexpr int kRounds = 200;
  constexpr int kSilentPending = 40;
  constexpr int kSilentPlayers = 24;
  auto worker_remote = [](int worker, int i) {
    return Remote(1000 * (worker + 1) + i);
  };
  for (int w = 0; w < kWorkers; ++w) {
    for (int i = 0; i < kPerWorker; ++i) {
      ConnectAndLogIn(worker_remote(w, i), absl::StrCat("w", w, "-", i),
                      GridPosition{i, w});
    }
  }
  for (int i = 0; i < kSilentPending; ++i) Connect(Remote(100'000 + i));
  for (int i = 0; i < kSilentPlayers; ++i) {
    ConnectAndLogIn(Remote(200'000 + i), absl::StrCat("silent-", i));
  }
  const int64_t initial = static_cast<int64_t>(manager_->size());

  std::atomic<bool> stop{false};
  std::vector<std::vector<int64_t>> last_tick(
      kWorkers, std::vector<int64_t>(kPerWorker, 0));
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      for (int round = 0; round < kRounds; ++round) {
        for (int i = 0; i < kPerWorker; ++i) {
          const RemoteIdentity remote = worker_remote(w, i);
          EXPECT_TRUE(manager_->OnHeartbeat(remote).ok());
          const int64_t tick = manager_->CurrentTick();
          absl::StatusOr<MoveOutcome> moved =
              manager_->ApplyMove(remote, {tick, round % 2 == 0 ? 1 : -1, 0});
          EXPECT_TRUE(moved.ok()) << moved.status();
          if (moved.ok() && moved->result.accepted()) last_tick[w][i] = tick;
        }
      }
    });
  }
  // Churn on its own remotes: connect and close again.
  threads.emplace_back([&] {
    for (int i = 0; i < 2000; ++i) {
      const RemoteIdentity remote = Remote(500'000 + i);
      EXPECT_TRUE(manager_->OnTransportConnected(remote).ok());
      // NotFound only if the login timeout beat us to it.
      const absl::StatusCode closed =
          manager_->OnTransportClosed(remote, i % 2 == 0).status().code();
      EXPECT_TRUE(closed == absl::StatusCode::kOk ||
                  closed == absl::StatusCode::kNotFound)
          << closed;
    }
  });
  // Time: 12 s in 20 ms steps, with inspection interleaved.
  std::thread time_keeper([&] {
    for (int step = 0; step < 600; ++step) {
      clock_.Advance(absl::Milliseconds(20));
      manager_->AdvanceTime();
      const StateCounts counts = manager_->Counts();
      // Shards are counted one after another, so a churning connection may
      // be seen once per shard.
      EXPECT_LE(counts.total(), initial + manager_->options().shard_count);
      EXPECT_EQ(counts.by_state[static_cast<int>(S::kClosed)], 0);
      SessionPage page = manager_->List({.page_size = 50});
      EXPECT_LE(page.sessions.size(), 50u);
      EXPECT_TRUE(manager_->FindByPlayer("w0-0").has_value());
    }
    stop = true;
  });
  time_keeper.join();
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(stop.load());
  ASSERT_EQ(clock_.Now(), kStart + absl::Seconds(12));
  manager_->AdvanceTime();

  // The pending connections timed out at 10 s; nobody else changed state
  // (the silent players become Suspect only at 15 s).
  const StateCounts counts = manager_->Counts();
  EXPECT_EQ(CountOf(counts, S::kAuthenticating), 0);
  EXPECT_EQ(CountOf(counts, S::kActive),
            kWorkers * kPerWorker + kSilentPlayers);
  EXPECT_EQ(counts.total(), kWorkers * kPerWorker + kSilentPlayers);
  EXPECT_EQ(static_cast<size_t>(counts.total()), manager_->size());
  for (int w = 0; w < kWorkers; ++w) {
    for (int i = 0; i < kPerWorker; ++i) {
      std::optional<SessionSnapshot> s =
          manager_->FindByRemote(worker_remote(w, i));
      ASSERT_TRUE(s.has_value());
      EXPECT_EQ(s->last_move_tick, std::max<int64_t>(last_tick[w][i], 0))
          << w << "/" << i;
    }
  }
  // With a last heartbeat from the workers at 12 s, only the silent players
  // turn Suspect at 15 s.
  for (int w = 0; w < kWorkers; ++w) {
    for (int i = 0; i < kPerWorker; ++i) {
      ASSERT_TRUE(manager_->OnHeartbeat(worker_remote(w, i)).ok());
    }
  }
  AdvanceTo(policy().suspect_after + resolution());
  EXPECT_EQ(CountOf(manager_->Counts(), S::kSuspect), kSilentPlayers);
  EXPECT_EQ(CountOf(manager_->Counts(), S::kActive), kWorkers * kPerWorker);
}

}  // namespace
}  // namespace gss
