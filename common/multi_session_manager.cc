#include "common/multi_session_manager.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/timing_wheel.h"

namespace gss {
namespace {

constexpr uint32_t kNoSlot = std::numeric_limits<uint32_t>::max();
constexpr uint32_t kChunkRecords = 256;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// The key of the remote index: the parts of a RemoteIdentity that name the
// connection, without the address it carries.
struct RemoteKey {
  uint32_t gateway_id;
  uint64_t connection_id;
  explicit RemoteKey(const RemoteIdentity& remote)
      : gateway_id(remote.gateway_id), connection_id(remote.connection_id) {}
  friend bool operator==(const RemoteKey&, const RemoteKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const RemoteKey& key) {
    return H::combine(std::move(h), key.gateway_id, key.connection_id);
  }
};

bool IsPowerOfTwo(int64_t value) {
  return value > 0 && (value & (value - 1)) == 0;
}

int64_t CeilDiv(int64_t value, int64_t divisor) {
  const int64_t quotient = value / divisor;
  return quotient * divisor < value ? quotient + 1 : quotient;
}

absl::Status NoSession(const RemoteIdentity& remote) {
  return absl::NotFoundError(
      absl::StrCat("no session is bound to ", remote.ToString()));
}

}  // namespace

struct MultiSessionManager::Record {
  SessionId id;
  RemoteIdentity remote;
  uint32_t slot = kNoSlot;
  bool in_use = false;
  bool bound = false;
  bool has_secret = false;
  SessionLifecycle lifecycle;
  uint32_t permissions = 0;
  uint32_t resumes = 0;
  uint32_t transitions = 0;
  int32_t rtt_us = -1;
  TimerNode timer;  // The session's one deadline, in its shard's wheel.
  int64_t created_ns = 0;
  int64_t state_since_ns = 0;
  int64_t last_seen_ns = 0;
  bool has_previous_secret = false;
  ResumeSecret secret{};
  // The secret spent by the last resume; accepted again only on the
  // connection that resume moved to, to answer a repeated request.
  ResumeSecret previous_secret{};
  std::string player_id;
  std::string display_name;
  std::string role;
  PeerGameState game;
};

struct MultiSessionManager::Shard {
  explicit Shard(uint32_t shard_index, int timer_slots, int64_t start_tick)
      : index(shard_index), wheel(timer_slots, start_tick) {}

  Record& at(uint32_t slot) {
    return chunks[slot / kChunkRecords][slot % kChunkRecords];
  }
  bool HasSlot(uint32_t slot) const { return slot < slots_made; }

  Record& Allocate() {
    uint32_t slot;
    if (!free_slots.empty()) {
      slot = free_slots.back();
      free_slots.pop_back();
    } else {
      if (slots_made % kChunkRecords == 0) {
        chunks.push_back(std::make_unique<Record[]>(kChunkRecords));
      }
      slot = slots_made++;
    }
    Record& record = at(slot);
    record.slot = slot;
    record.in_use = true;
    return record;
  }

  void Free(Record& record) {
    const uint32_t slot = record.slot;
    record = Record{};
    free_slots.push_back(slot);
  }

  const uint32_t index;
  mutable absl::Mutex mu;
  std::vector<std::unique_ptr<Record[]>> chunks;
  std::vector<uint32_t> free_slots;
  uint32_t slots_made = 0;
  // Ordered by session id, which is creation order: the basis of cursor
  // pagination.
  absl::btree_map<uint64_t, uint32_t> by_id;
  // Remotes whose hash falls in this shard. A session normally lives in the
  // shard of the remote it was created for; after a resume onto a remote of
  // another shard the entry points across.
  absl::flat_hash_map<RemoteKey, RemoteEntry> by_remote;
  // The records' deadlines, by record slot.
  TimingWheel wheel;
  auto TimerOf() {
    return [this](uint32_t slot) -> TimerNode& { return at(slot).timer; };
  }
  std::array<int64_t, kSessionStateCount> counts{};
  TransitionFeed feed;
};

struct MultiSessionManager::PlayerShard {
  absl::Mutex mu;
  absl::flat_hash_map<std::string, SessionId> by_player;
};

// What an operation must do once its shard locks are released: index entries
// in shards it did not hold, and observers to wake.
struct MultiSessionManager::Effects {
  std::vector<std::pair<RemoteKey, SessionId>> unbinds;
  std::vector<std::shared_ptr<TransitionSubscription>> ready;
  std::vector<SessionTransition>* fired = nullptr;  // AdvanceTime's output.
};

int64_t StateCounts::total() const {
  int64_t sum = 0;
  for (int64_t count : by_state) sum += count;
  return sum;
}

// --- Construction
// -------------------------------------------------------------

absl::Status MultiSessionOptions::Validate() const {
  if (absl::Status status = policy.Validate(); !status.ok()) return status;
  if (absl::Status status = rules.Validate(); !status.ok()) return status;
  if (!IsPowerOfTwo(shard_count) || shard_count > 256) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shard_count must be a power of two in [1, 256], got ", shard_count));
  }
  if (!IsPowerOfTwo(timer_slots) || timer_slots < 16 ||
      timer_slots > (1 << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "timer_slots must be a power of two in [16, 2^20], got ", timer_slots));
  }
  if (timer_resolution < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError("timer_resolution must be at least 1ms");
  }
  if (max_sessions < 0) {
    return absl::InvalidArgumentError("max_sessions must not be negative");
  }
  if (instance_tag == 0) {
    return absl::InvalidArgumentError("instance_tag must not be 0");
  }
  if (first_sequence < 1 || first_sequence >= kMaxFirstSequence) {
    return absl::InvalidArgumentError(absl::StrCat(
        "first_sequence must be in [1, 2^39), got ", first_sequence));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<MultiSessionManager>>
MultiSessionManager::Create(const MultiSessionOptions& options,
                            const Clock& clock) {
  if (absl::Status status = options.Validate(); !status.ok()) return status;
  return std::unique_ptr<MultiSessionManager>(
      new MultiSessionManager(options, clock));
}

MultiSessionManager::MultiSessionManager(const MultiSessionOptions& options,
                                         const Clock& clock)
    : options_(options),
      lifecycle_rules_(options.policy.rules()),
      clock_(clock),
      epoch_ns_(absl::ToUnixNanos(clock.Now())),
      timer_resolution_ns_(absl::ToInt64Nanoseconds(options.timer_resolution)),
      next_sequence_(options.first_sequence) {
  const int64_t start_tick = epoch_ns_ / timer_resolution_ns_;
  for (int i = 0; i < options_.shard_count; ++i) {
    shards_.push_back(
        std::make_unique<Shard>(i, options_.timer_slots, start_tick));
    player_shards_.push_back(std::make_unique<PlayerShard>());
  }
}

MultiSessionManager::~MultiSessionManager() = default;

// --- Helpers
// ------------------------------------------------------------------

uint32_t MultiSessionManager::ShardOfRemote(
    const RemoteIdentity& remote) const {
  return absl::Hash<RemoteKey>()(RemoteKey(remote)) &
         (options_.shard_count - 1);
}

uint32_t MultiSessionManager::ShardOfPlayer(absl::string_view player) const {
  return absl::Hash<absl::string_view>()(player) & (options_.shard_count - 1);
}

int64_t MultiSessionManager::NowNs() const {
  return absl::ToUnixNanos(clock_.Now());
}

int64_t MultiSessionManager::TickAtNs(int64_t now_ns) const {
  return options_.rules.TickAt(absl::Nanoseconds(now_ns - epoch_ns_));
}

int64_t MultiSessionManager::CurrentTick() const { return TickAtNs(NowNs()); }

GridPosition MultiSessionManager::SpawnPoint(absl::string_view player) const {
  // FNV-1a rather than absl::Hash, whose seed changes per process: a player
  // without a stored position spawns at the same place on every instance and
  // after every restart.
  uint64_t hash = 0xcbf29ce484222325ull;
  for (char c : player) {
    hash = (hash ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  }
  const uint64_t size = options_.rules.world.grid_size;
  return {static_cast<int32_t>(hash % size),
          static_cast<int32_t>((hash >> 32) % size)};
}

template <typename Fn>
auto MultiSessionManager::WithRemote(const RemoteIdentity& remote,
                                     Fn&& fn) const
    -> decltype(fn(std::declval<Shard&>(), std::declval<Record&>())) {
  Shard& remote_shard = *shards_[ShardOfRemote(remote)];
  RemoteEntry entry;
  {
    absl::MutexLock lock(&remote_shard.mu);
    auto it = remote_shard.by_remote.find(RemoteKey(remote));
    if (it == remote_shard.by_remote.end()) return NoSession(remote);
    entry = it->second;
    if (entry.session.shard() == remote_shard.index) {
      return fn(remote_shard, remote_shard.at(entry.slot));
    }
  }
  // The session was resumed onto this remote from another shard.
  Shard& owner = *shards_[entry.session.shard()];
  absl::MutexLock lock(&owner.mu);
  if (!owner.HasSlot(entry.slot)) return NoSession(remote);
  Record& record = owner.at(entry.slot);
  if (!record.in_use || record.id != entry.session || !record.bound ||
      !(record.remote == remote)) {
    return NoSession(remote);
  }
  return fn(owner, record);
}

void MultiSessionManager::Finish(Effects& effects) {
  for (const auto& [key, session] : effects.unbinds) {
    Shard& shard =
        *shards_[absl::Hash<RemoteKey>()(key) & (options_.shard_count - 1)];
    absl::MutexLock lock(&shard.mu);
    auto it = shard.by_remote.find(key);
    if (it != shard.by_remote.end() && it->second.session == session) {
      shard.by_remote.erase(it);
    }
  }
  for (const auto& subscription : effects.ready) subscription->NotifyReady();
}

std::optional<SessionTransition> MultiSessionManager::ApplyEvent(
    Shard& shard, Record& record, SessionEvent event, int64_t at_ns,
    Effects& effects) {
  absl::StatusOr<std::optional<Transition>> applied =
      record.lifecycle.Apply(event, lifecycle_rules_);
  if (!applied.ok() || !applied->has_value()) return std::nullopt;
  const Transition& transition = **applied;
  if (transition.from != transition.to) {
    --shard.counts[static_cast<int>(transition.from)];
    ++shard.counts[static_cast<int>(transition.to)];
    record.state_since_ns = at_ns;
    const bool was_in = IsLoggedIn(transition.from);
    const bool is_in = IsLoggedIn(transition.to);
    if (was_in != is_in) logged_in_sessions_.fetch_add(is_in ? 1 : -1);
  }
  ++record.transitions;
  SessionTransition out{
      record.id,
      transition,
      record.bound ? std::optional(record.remote) : std::nullopt,
      record.player_id,
      absl::FromUnixNanos(at_ns),
      record.transitions};
  if (transition.to == SessionState::kReconnecting ||
      transition.to == SessionState::kClosed) {
    Unbind(shard, record, effects);
  }
  Publish(shard, out, effects);
  if (options_.on_transition) options_.on_transition(out);
  if (effects.fired != nullptr) effects.fired->push_back(out);
  if (transition.to == SessionState::kClosed) {
    Remove(shard, record, effects);
  } else {
    Arm(shard, record);
  }
  return out;
}

void MultiSessionManager::Publish(Shard& shard,
                                  const SessionTransition& transition,
                                  Effects& effects) {
  shard.feed.Publish(transition, effects.ready);
}

void MultiSessionManager::Unbind(Shard& shard, Record& record,
                                 Effects& effects) {
  if (!record.bound) return;
  const RemoteKey key(record.remote);
  if (ShardOfRemote(record.remote) == shard.index) {
    auto it = shard.by_remote.find(key);
    if (it != shard.by_remote.end() && it->second.session == record.id) {
      shard.by_remote.erase(it);
    }
  } else {
    effects.unbinds.emplace_back(key, record.id);
  }
  record.bound = false;
}

void MultiSessionManager::Remove(Shard& shard, Record& record,
                                 Effects& effects) {
  Disarm(shard, record);
  Unbind(shard, record, effects);
  if (!record.player_id.empty()) {
    PlayerShard& players = *player_shards_[ShardOfPlayer(record.player_id)];
    absl::MutexLock lock(&players.mu);
    auto it = players.by_player.find(record.player_id);
    if (it != players.by_player.end() && it->second == record.id) {
      players.by_player.erase(it);
    }
  }
  shard.feed.EndSession(record.id.value, effects.ready);
  --shard.counts[static_cast<int>(record.lifecycle.state())];
  shard.by_id.erase(record.id.value);
  total_sessions_.fetch_sub(1);
  shard.Free(record);
}

// --- Deadlines
// ----------------------------------------------------------------
//
// Each session has one deadline, derived from its state. A heartbeat only
// moves `last_seen_ns` forward and leaves the wheel alone; the wheel entry is
// corrected when it comes due (it may then find the deadline moved and re-arm
// later). So the event path never touches the wheel or allocates, and each
// session is looked at no more than once per deadline interval.

int64_t MultiSessionManager::DueNs(const Record& record) const {
  const ServerSessionPolicy& policy = options_.policy;
  switch (record.lifecycle.state()) {
    case SessionState::kConnecting:
    case SessionState::kAuthenticating:
      return record.state_since_ns +
             absl::ToInt64Nanoseconds(policy.login_timeout);
    case SessionState::kActive:
      return record.last_seen_ns +
             absl::ToInt64Nanoseconds(policy.suspect_after);
    case SessionState::kSuspect:
      return record.last_seen_ns +
             absl::ToInt64Nanoseconds(policy.liveness_timeout);
    case SessionState::kReconnecting:
      return record.state_since_ns +
             absl::ToInt64Nanoseconds(policy.reconnect_grace);
    case SessionState::kClosed:
      return kNever;
  }
  return kNever;
}

void MultiSessionManager::Arm(Shard& shard, Record& record) {
  const int64_t due = DueNs(record);
  if (due == kNever) {
    Disarm(shard, record);
    return;
  }
  shard.wheel.ArmNoLaterThan(record.slot, CeilDiv(due, timer_resolution_ns_),
                             shard.TimerOf());
}

void MultiSessionManager::Disarm(Shard& shard, Record& record) {
  shard.wheel.Disarm(record.slot, shard.TimerOf());
}

void MultiSessionManager::FireDue(Shard& shard, Record& record, int64_t now_ns,
                                  Effects& effects) {
  // Several deadlines may have passed since the last look (Active -> Suspect
  // -> Reconnecting -> Closed); each transition is stamped with its own due
  // time, so the outcome does not depend on how often AdvanceTime runs.
  for (;;) {
    const int64_t due = DueNs(record);
    if (due > now_ns) {
      Arm(shard, record);
      return;
    }
    SessionEvent event;
    switch (record.lifecycle.state()) {
      case SessionState::kActive:
        event = SessionEvent::kLivenessOverdue;
        break;
      case SessionState::kSuspect:
        event = SessionEvent::kLivenessLost;
        break;
      case SessionState::kReconnecting:
        event = SessionEvent::kGraceExpired;
        break;
      case SessionState::kClosed:
        return;
      default:
        event = SessionEvent::kDeadlinePassed;
        break;
    }
    std::optional<SessionTransition> transition =
        ApplyEvent(shard, record, event, due, effects);
    if (!transition || transition->transition.to == SessionState::kClosed) {
      return;
    }
    Disarm(shard, record);  // Re-armed by the loop for the next state.
  }
}

void MultiSessionManager::AdvanceShard(Shard& shard, int64_t now_ns,
                                       Effects& effects) {
  shard.wheel.Advance(
      now_ns / timer_resolution_ns_, shard.TimerOf(),
      [&](uint32_t slot) { FireDue(shard, shard.at(slot), now_ns, effects); });
}

std::vector<SessionTransition> MultiSessionManager::AdvanceTime() {
  std::vector<SessionTransition> fired;
  Effects effects;
  effects.fired = &fired;
  const int64_t now_ns = NowNs();
  for (auto& shard : shards_) {
    absl::MutexLock lock(&shard->mu);
    AdvanceShard(*shard, now_ns, effects);
  }
  Finish(effects);
  return fired;
}

// --- Transport events
// -----------------------------------------------------------

absl::StatusOr<ConnectOutcome> MultiSessionManager::OnTransportConnected(
    const RemoteIdentity& remote) {
  Shard& shard = *shards_[ShardOfRemote(remote)];
  Effects effects;
  ConnectOutcome outcome;
  {
    absl::MutexLock lock(&shard.mu);
    if (auto it = shard.by_remote.find(RemoteKey(remote));
        it != shard.by_remote.end()) {
      return ConnectOutcome{it->second.session, false};
    }
    if (options_.max_sessions > 0) {
      const int64_t pending_headroom =
          std::max<int64_t>(16, options_.max_sessions / 16);
      if (total_sessions_.load() >= options_.max_sessions + pending_headroom) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "server is full: ", total_sessions_.load(), " sessions held"));
      }
    }
    const int64_t now = NowNs();
    Record& record = shard.Allocate();
    record.id = SessionId::Make(options_.instance_tag,
                                next_sequence_.fetch_add(1), shard.index);
    record.remote = remote;
    record.bound = true;
    record.created_ns = record.state_since_ns = record.last_seen_ns = now;
    shard.by_id.emplace(record.id.value, record.slot);
    shard.by_remote.emplace(RemoteKey(remote),
                            RemoteEntry{record.id, record.slot});
    ++shard.counts[static_cast<int>(SessionState::kConnecting)];
    total_sessions_.fetch_add(1);
    outcome = {record.id, true};
    ApplyEvent(shard, record, SessionEvent::kTransportConnected, now, effects);
  }
  Finish(effects);
  return outcome;
}

absl::StatusOr<std::optional<SessionTransition>>
MultiSessionManager::OnTransportClosed(const RemoteIdentity& remote,
                                       bool orderly) {
  Effects effects;
  auto result = WithRemote(
      remote,
      [&](Shard& shard,
          Record& record) -> absl::StatusOr<std::optional<SessionTransition>> {
        return ApplyEvent(shard, record,
                          orderly ? SessionEvent::kTransportClosed
                                  : SessionEvent::kTransportLost,
                          NowNs(), effects);
      });
  Finish(effects);
  return result;
}

void MultiSessionManager::Touch(Shard& shard, Record& record,
                                SessionEvent event, int64_t now_ns,
                                Effects& effects) {
  record.last_seen_ns = now_ns;
  if (record.lifecycle.state() == SessionState::kSuspect) {
    ApplyEvent(shard, record, event, now_ns, effects);
  }
}

void MultiSessionManager::SetRtt(Record& record, absl::Duration rtt) {
  record.rtt_us = static_cast<int32_t>(std::min<int64_t>(
      absl::ToInt64Microseconds(rtt), std::numeric_limits<int32_t>::max()));
}

PeerInputResult MultiSessionManager::ApplyInput(const PeerInput& input) {
  PeerInputResult result;
  ApplyInputs(absl::MakeConstSpan(&input, 1), absl::MakeSpan(&result, 1));
  return result;
}

absl::Status MultiSessionManager::OnHeartbeat(const RemoteIdentity& remote) {
  return ApplyInput({.remote = remote, .kind = PeerInput::Kind::kHeartbeat})
      .status;
}

absl::Status MultiSessionManager::OnInboundMessage(
    const RemoteIdentity& remote) {
  return ApplyInput({.remote = remote, .kind = PeerInput::Kind::kMessage})
      .status;
}

absl::Status MultiSessionManager::RecordRtt(const RemoteIdentity& remote,
                                            absl::Duration rtt) {
  if (rtt < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("rtt must not be negative");
  }
  return WithRemote(remote, [&](Shard&, Record& record) -> absl::Status {
    SetRtt(record, rtt);
    return absl::OkStatus();
  });
}

// --- Login and resume
// -----------------------------------------------------------

absl::StatusOr<LoginOutcome> MultiSessionManager::Login(
    const RemoteIdentity& remote, const PlayerGrant& grant,
    const ResumeSecret& secret) {
  if (grant.player_id.empty() || grant.player_id.size() > 128) {
    return absl::InvalidArgumentError("player id must be 1 to 128 bytes long");
  }
  if (grant.start_position) {
    const int32_t size = options_.rules.world.grid_size;
    const GridPosition at = *grant.start_position;
    if (at.x < 0 || at.y < 0 || at.x >= size || at.y >= size) {
      return absl::InvalidArgumentError(
          absl::StrCat("start position (", at.x, ",", at.y,
                       ") is outside the grid of size ", size));
    }
  }
  Effects effects;
  std::optional<SessionId> replaced;
  auto result = WithRemote(
      remote,
      [&](Shard& shard, Record& record) -> absl::StatusOr<LoginOutcome> {
        if (record.lifecycle.state() != SessionState::kAuthenticating) {
          return absl::FailedPreconditionError(
              absl::StrCat("session ", record.id.ToString(), " is ",
                           SessionStateName(record.lifecycle.state()),
                           "; login needs authenticating"));
        }
        bool refused = false;
        {
          PlayerShard& players =
              *player_shards_[ShardOfPlayer(grant.player_id)];
          absl::MutexLock lock(&players.mu);
          auto it = players.by_player.find(grant.player_id);
          if (it != players.by_player.end()) {
            // Replacing the player's older session frees its seat, so a full
            // server does not lock a player out behind their own session.
            if (options_.replace_existing_login) {
              replaced = std::exchange(it->second, record.id);
            } else {
              refused = true;
            }
          } else if (options_.max_sessions > 0 &&
                     logged_in_sessions_.load() >= options_.max_sessions) {
            return absl::ResourceExhaustedError(absl::StrCat(
                "server is full: ", options_.max_sessions, " players"));
          } else {
            players.by_player.emplace(grant.player_id, record.id);
          }
        }
        const int64_t now = NowNs();
        if (refused) {
          ApplyEvent(shard, record, SessionEvent::kLoginFailed, now, effects);
          return absl::AlreadyExistsError(absl::StrCat(
              "player ", grant.player_id, " is already logged in"));
        }
        const int64_t tick = TickAtNs(now);
        const GridPosition start =
            grant.start_position.value_or(SpawnPoint(grant.player_id));
        record.player_id = grant.player_id;
        record.display_name = grant.display_name;
        record.role = grant.role;
        record.permissions = grant.permissions;
        record.secret = secret;
        record.has_secret = true;
        record.last_seen_ns = now;
        record.game.Spawn(start, tick, options_.rules.combat.max_health);
        ApplyEvent(shard, record, SessionEvent::kLoginSucceeded, now, effects);
        return LoginOutcome{record.id, start, tick,
                            ResumeToken{record.id, secret}, std::nullopt};
      });
  Finish(effects);
  if (result.ok() && replaced) {
    result->replaced =
        CloseById(*replaced, SessionEvent::kReplace, grant.player_id);
  }
  return result;
}

absl::StatusOr<SessionTransition> MultiSessionManager::FailLogin(
    const RemoteIdentity& remote) {
  Effects effects;
  auto result = WithRemote(
      remote,
      [&](Shard& shard, Record& record) -> absl::StatusOr<SessionTransition> {
        if (record.lifecycle.state() != SessionState::kAuthenticating) {
          return absl::FailedPreconditionError(absl::StrCat(
              "session is ", SessionStateName(record.lifecycle.state()),
              "; only an authenticating session can fail a login"));
        }
        return *ApplyEvent(shard, record, SessionEvent::kLoginFailed, NowNs(),
                           effects);
      });
  Finish(effects);
  return result;
}

absl::StatusOr<ResumeOutcome> MultiSessionManager::Resume(
    const RemoteIdentity& remote, const ResumeToken& token,
    const ResumeSecret& next_secret) {
  const absl::Status denied = absl::PermissionDeniedError(
      "resume token does not match a resumable session");
  if (token.session.instance_tag() != options_.instance_tag ||
      token.session.shard() >= static_cast<uint32_t>(options_.shard_count)) {
    return denied;
  }
  Shard& remote_shard = *shards_[ShardOfRemote(remote)];
  Shard& owner = *shards_[token.session.shard()];
  Shard* first = &remote_shard;
  Shard* second = &owner;
  if (first->index > second->index) std::swap(first, second);
  Effects effects;
  absl::StatusOr<ResumeOutcome> result;
  {
    absl::MutexLock lock_first(&first->mu);
    std::optional<absl::MutexLock> lock_second;
    if (second != first) lock_second.emplace(&second->mu);
    result = [&]() -> absl::StatusOr<ResumeOutcome> {
      auto owner_it = owner.by_id.find(token.session.value);
      if (owner_it == owner.by_id.end()) return denied;
      Record& session = owner.at(owner_it->second);
      if (!session.has_secret || !IsLoggedIn(session.lifecycle.state())) {
        return denied;
      }
      if (!SecretsEqual(session.secret, token.secret)) {
        // The same resume again on the connection it already moved to: its
        // reply was lost (UDP). Answer again and spend nothing.
        if (session.has_previous_secret && session.bound &&
            session.remote == remote &&
            SecretsEqual(session.previous_secret, token.secret)) {
          return ResumeOutcome{session.id,
                               session.game.position,
                               TickAtNs(NowNs()),
                               session.game.last_move_tick,
                               ResumeToken{session.id, session.secret},
                               std::nullopt};
        }
        return denied;
      }
      // From here the caller holds the session's token, so a failure counts
      // against the session's resume attempts.
      auto remote_it = remote_shard.by_remote.find(RemoteKey(remote));
      const bool connected = remote_it != remote_shard.by_remote.end();
      if (!connected ||
          remote_it->second.session.shard() != remote_shard.index ||
          IsLoggedIn(
              remote_shard.at(remote_it->second.slot).lifecycle.state())) {
        ApplyEvent(owner, session, SessionEvent::kResumeFailed, NowNs(),
                   effects);
        return absl::FailedPreconditionError(absl::StrCat(
            remote.ToString(),
            connected ? " already carries a logged-in session"
                      : " is not connected; connect before resuming"));
      }
      const RemoteEntry connection = remote_it->second;
      const int64_t now = NowNs();
      // The connection's provisional session hands the connection over.
      ApplyEvent(remote_shard, remote_shard.at(connection.slot),
                 SessionEvent::kAbsorbedByResume, now, effects);
      std::optional<RemoteIdentity> displaced;
      if (session.bound) displaced = session.remote;
      Unbind(owner, session, effects);
      session.remote = remote;
      session.bound = true;
      remote_shard.by_remote.insert_or_assign(
          RemoteKey(remote), RemoteEntry{session.id, session.slot});
      session.previous_secret = session.secret;
      session.has_previous_secret = true;
      session.secret = next_secret;
      session.last_seen_ns = now;
      ++session.resumes;
      ApplyEvent(owner, session, SessionEvent::kResumeSucceeded, now, effects);
      return ResumeOutcome{session.id,
                           session.game.position,
                           TickAtNs(now),
                           session.game.last_move_tick,
                           ResumeToken{session.id, next_secret},
                           displaced};
    }();
  }
  Finish(effects);
  return result;
}

// --- Gameplay
// -------------------------------------------------------------------

MoveResult MultiSessionManager::MoveLocked(Shard& shard, Record& record,
                                           const MoveInput& input,
                                           int64_t now_ns, Effects& effects) {
  Touch(shard, record, SessionEvent::kInboundMessage, now_ns, effects);
  return gss::ApplyMove(
      options_.rules, TickAtNs(now_ns), input, record.game,
      PeerStanding{IsLive(record.lifecycle.state()), record.permissions});
}

absl::StatusOr<MoveOutcome> MultiSessionManager::ApplyMove(
    const RemoteIdentity& remote, const MoveInput& input) {
  PeerInputResult result = ApplyInput(
      {.remote = remote, .kind = PeerInput::Kind::kMove, .move = input});
  if (!result.status.ok()) return result.status;
  return MoveOutcome{result.session, result.move};
}

void MultiSessionManager::ApplyInputLocked(Shard& shard, Record& record,
                                           const PeerInput& input,
                                           int64_t now_ns, Effects& effects,
                                           PeerInputResult& result) {
  result.status = absl::OkStatus();
  result.session = record.id;
  switch (input.kind) {
    case PeerInput::Kind::kHeartbeat:
      Touch(shard, record, SessionEvent::kHeartbeat, now_ns, effects);
      if (input.rtt && *input.rtt >= absl::ZeroDuration()) {
        SetRtt(record, *input.rtt);
      }
      break;
    case PeerInput::Kind::kMessage:
      Touch(shard, record, SessionEvent::kInboundMessage, now_ns, effects);
      break;
    case PeerInput::Kind::kMove:
      result.move = MoveLocked(shard, record, input.move, now_ns, effects);
      break;
  }
}

void MultiSessionManager::ApplyInputs(absl::Span<const PeerInput> inputs,
                                      absl::Span<PeerInputResult> results) {
  const size_t count = std::min(inputs.size(), results.size());
  if (count == 1) {
    // Nothing to overlap: one look-up, without the grouping's allocations.
    Effects effects;
    const int64_t now = NowNs();
    results[0].status = WithRemote(
        inputs[0].remote, [&](Shard& shard, Record& record) -> absl::Status {
          ApplyInputLocked(shard, record, inputs[0], now, effects, results[0]);
          return absl::OkStatus();
        });
    Finish(effects);
    return;
  }
  // Group the batch by the shard of each remote, keeping batch order within a
  // group (and so per peer: a remote always falls in the same group).
  std::vector<uint32_t> shard_of(count);
  std::vector<uint32_t> group_start(options_.shard_count + 1, 0);
  for (size_t i = 0; i < count; ++i) {
    shard_of[i] = ShardOfRemote(inputs[i].remote);
    ++group_start[shard_of[i] + 1];
  }
  for (int s = 0; s < options_.shard_count; ++s) {
    group_start[s + 1] += group_start[s];
  }
  std::vector<uint32_t> order(count);
  {
    std::vector<uint32_t> fill(group_start.begin(), group_start.end() - 1);
    for (size_t i = 0; i < count; ++i) order[fill[shard_of[i]]++] = i;
  }
  std::vector<RemoteEntry> entries(count);
  std::vector<uint32_t> elsewhere;  // Resumed onto a remote of another shard.
  Effects effects;
  const int64_t now = NowNs();
  for (int s = 0; s < options_.shard_count; ++s) {
    const uint32_t begin = group_start[s];
    const uint32_t end = group_start[s + 1];
    if (begin == end) continue;
    Shard& shard = *shards_[s];
    absl::MutexLock lock(&shard.mu);
    for (uint32_t k = begin; k < end; ++k) {
      shard.by_remote.prefetch(RemoteKey(inputs[order[k]].remote));
    }
    for (uint32_t k = begin; k < end; ++k) {
      const uint32_t i = order[k];
      auto it = shard.by_remote.find(RemoteKey(inputs[i].remote));
      if (it == shard.by_remote.end()) {
        entries[i].slot = kNoSlot;
        continue;
      }
      entries[i] = it->second;
      if (entries[i].session.shard() == shard.index) {
        const Record* record = &shard.at(entries[i].slot);
        __builtin_prefetch(record, 1);
        __builtin_prefetch(&record->game, 1);
      }
    }
    for (uint32_t k = begin; k < end; ++k) {
      const uint32_t i = order[k];
      if (entries[i].slot == kNoSlot) {
        results[i] = {NoSession(inputs[i].remote), SessionId{}, {}};
      } else if (entries[i].session.shard() != shard.index) {
        elsewhere.push_back(i);
      } else {
        ApplyInputLocked(shard, shard.at(entries[i].slot), inputs[i], now,
                         effects, results[i]);
      }
    }
  }
  // Rare: sessions resumed onto a remote of another shard take the general
  // path, still in batch order among themselves.
  std::sort(elsewhere.begin(), elsewhere.end());
  for (uint32_t i : elsewhere) {
    results[i].status = WithRemote(
        inputs[i].remote, [&](Shard& shard, Record& record) -> absl::Status {
          ApplyInputLocked(shard, record, inputs[i], now, effects, results[i]);
          return absl::OkStatus();
        });
  }
  Finish(effects);
}

absl::StatusOr<ShootOutcome> MultiSessionManager::ApplyShoot(
    const RemoteIdentity& remote, int64_t tick, SessionId target) {
  Shard& remote_shard = *shards_[ShardOfRemote(remote)];
  RemoteEntry entry;
  {
    absl::MutexLock lock(&remote_shard.mu);
    auto it = remote_shard.by_remote.find(RemoteKey(remote));
    if (it == remote_shard.by_remote.end()) return NoSession(remote);
    entry = it->second;
  }
  Shard& shooter_shard = *shards_[entry.session.shard()];
  Shard* target_shard =
      target.instance_tag() == options_.instance_tag &&
              target.shard() < static_cast<uint32_t>(options_.shard_count)
          ? shards_[target.shard()].get()
          : nullptr;
  Shard* first = &shooter_shard;
  Shard* second = target_shard;
  if (second != nullptr && second->index < first->index) {
    std::swap(first, second);
  }
  Effects effects;
  absl::StatusOr<ShootOutcome> result;
  {
    absl::MutexLock lock_first(&first->mu);
    std::optional<absl::MutexLock> lock_second;
    if (second != nullptr && second != first) lock_second.emplace(&second->mu);
    result = [&]() -> absl::StatusOr<ShootOutcome> {
      if (!shooter_shard.HasSlot(entry.slot)) return NoSession(remote);
      Record& shooter = shooter_shard.at(entry.slot);
      if (!shooter.in_use || shooter.id != entry.session || !shooter.bound ||
          !(shooter.remote == remote)) {
        return NoSession(remote);
      }
      const int64_t now = NowNs();
      Touch(shooter_shard, shooter, SessionEvent::kInboundMessage, now,
            effects);
      ShootOutcome outcome{shooter.id, target, {}, std::nullopt};
      Record* victim = nullptr;
      if (target_shard != nullptr && target != shooter.id) {
        if (auto it = target_shard->by_id.find(target.value);
            it != target_shard->by_id.end()) {
          victim = &target_shard->at(it->second);
        }
      }
      ShotTarget shot_target{victim ? &victim->game : nullptr,
                             target == shooter.id,
                             victim && IsLive(victim->lifecycle.state())};
      outcome.result = gss::ApplyShoot(
          options_.rules, TickAtNs(now), absl::FromUnixNanos(now), tick,
          shooter.game, shot_target,
          PeerStanding{IsLive(shooter.lifecycle.state()), shooter.permissions});
      if (outcome.result.accepted() && victim->bound) {
        outcome.target_remote = victim->remote;
      }
      return outcome;
    }();
  }
  Finish(effects);
  return result;
}

// --- Host decisions
// -------------------------------------------------------------

std::optional<SessionTransition> MultiSessionManager::CloseById(
    SessionId session, SessionEvent event, absl::string_view expected_player) {
  if (session.instance_tag() != options_.instance_tag ||
      session.shard() >= static_cast<uint32_t>(options_.shard_count)) {
    return std::nullopt;
  }
  Shard& shard = *shards_[session.shard()];
  Effects effects;
  std::optional<SessionTransition> transition;
  {
    absl::MutexLock lock(&shard.mu);
    auto it = shard.by_id.find(session.value);
    if (it == shard.by_id.end()) return std::nullopt;
    Record& record = shard.at(it->second);
    if (!expected_player.empty() && record.player_id != expected_player) {
      return std::nullopt;
    }
    transition = ApplyEvent(shard, record, event, NowNs(), effects);
  }
  Finish(effects);
  return transition;
}

absl::StatusOr<SessionTransition> MultiSessionManager::Evict(
    SessionId session) {
  std::optional<SessionTransition> transition =
      CloseById(session, SessionEvent::kEvict, "");
  if (!transition) {
    return absl::NotFoundError(absl::StrCat("no session ", session.ToString()));
  }
  return *transition;
}

size_t MultiSessionManager::Clear() {
  size_t cleared = 0;
  for (auto& shard : shards_) {
    Effects effects;
    {
      absl::MutexLock lock(&shard->mu);
      std::vector<uint32_t> slots;
      slots.reserve(shard->by_id.size());
      for (const auto& [id, slot] : shard->by_id) slots.push_back(slot);
      const int64_t now = NowNs();
      for (uint32_t slot : slots) {
        if (ApplyEvent(*shard, shard->at(slot), SessionEvent::kShutdown, now,
                       effects)) {
          ++cleared;
        }
      }
    }
    Finish(effects);
  }
  return cleared;
}

// --- Inspection
// -----------------------------------------------------------------

SessionSnapshot MultiSessionManager::Snapshot(const Record& record) const {
  SessionSnapshot snapshot;
  snapshot.id = record.id;
  snapshot.state = record.lifecycle.state();
  if (record.bound) snapshot.remote = record.remote;
  snapshot.player_id = record.player_id;
  snapshot.display_name = record.display_name;
  snapshot.role = record.role;
  snapshot.permissions = record.permissions;
  snapshot.created_at = absl::FromUnixNanos(record.created_ns);
  snapshot.state_since = absl::FromUnixNanos(record.state_since_ns);
  snapshot.last_seen = absl::FromUnixNanos(record.last_seen_ns);
  if (record.rtt_us >= 0) snapshot.rtt = absl::Microseconds(record.rtt_us);
  snapshot.position = record.game.position;
  snapshot.health = record.game.health;
  snapshot.last_move_tick = record.game.last_move_tick;
  snapshot.last_shot_tick = record.game.last_shot_tick;
  snapshot.resumes = record.resumes;
  snapshot.transitions = record.transitions;
  return snapshot;
}

std::optional<SessionSnapshot> MultiSessionManager::FindBySession(
    SessionId session) const {
  if (session.instance_tag() != options_.instance_tag ||
      session.shard() >= static_cast<uint32_t>(options_.shard_count)) {
    return std::nullopt;
  }
  Shard& shard = *shards_[session.shard()];
  absl::MutexLock lock(&shard.mu);
  auto it = shard.by_id.find(session.value);
  if (it == shard.by_id.end()) return std::nullopt;
  return Snapshot(shard.at(it->second));
}

std::optional<SessionSnapshot> MultiSessionManager::FindByPlayer(
    absl::string_view player) const {
  SessionId session;
  {
    PlayerShard& players = *player_shards_[ShardOfPlayer(player)];
    absl::MutexLock lock(&players.mu);
    auto it = players.by_player.find(player);
    if (it == players.by_player.end()) return std::nullopt;
    session = it->second;
  }
  std::optional<SessionSnapshot> snapshot = FindBySession(session);
  // The player may have been replaced between the two look-ups.
  if (snapshot && snapshot->player_id != player) return std::nullopt;
  return snapshot;
}

std::optional<SessionSnapshot> MultiSessionManager::FindByRemote(
    const RemoteIdentity& remote) const {
  absl::StatusOr<SessionSnapshot> snapshot = WithRemote(
      remote, [&](Shard&, Record& record) -> absl::StatusOr<SessionSnapshot> {
        return Snapshot(record);
      });
  if (!snapshot.ok()) return std::nullopt;
  return *std::move(snapshot);
}

SessionPage MultiSessionManager::List(const ListOptions& options) const {
  const size_t page_size = std::clamp<size_t>(options.page_size, 1, 10000);
  // Each shard scans a bounded stretch of its ids so one call never holds a
  // lock for long; the page then ends where the least advanced shard stopped.
  const size_t scan_limit = page_size * 4 + 256;
  const uint64_t after = options.after ? options.after->value : 0;
  std::vector<SessionSnapshot> matches;
  uint64_t bound = std::numeric_limits<uint64_t>::max();
  for (const auto& shard : shards_) {
    absl::MutexLock lock(&shard->mu);
    size_t scanned = 0;
    size_t found = 0;
    for (auto it = shard->by_id.upper_bound(after);
         it != shard->by_id.end() && found < page_size; ++it) {
      if (++scanned > scan_limit) {
        bound = std::min(bound, it->first - 1);
        break;
      }
      const Record& record = shard->at(it->second);
      const SessionState state = record.lifecycle.state();
      if (options.state_mask != 0 &&
          (options.state_mask & ListOptions::StateBit(state)) == 0) {
        continue;
      }
      if (options.gateway_id &&
          (!record.bound || record.remote.gateway_id != *options.gateway_id)) {
        continue;
      }
      matches.push_back(Snapshot(record));
      ++found;
    }
  }
  std::sort(matches.begin(), matches.end(),
            [](const SessionSnapshot& a, const SessionSnapshot& b) {
              return a.id < b.id;
            });
  SessionPage page;
  for (SessionSnapshot& snapshot : matches) {
    if (snapshot.id.value > bound || page.sessions.size() == page_size) break;
    page.sessions.push_back(std::move(snapshot));
  }
  if (page.sessions.size() == page_size) {
    page.next_after = page.sessions.back().id;
  } else if (bound != std::numeric_limits<uint64_t>::max()) {
    page.next_after = SessionId{bound};
  }
  return page;
}

void MultiSessionManager::ForEach(
    ListOptions filter,
    absl::FunctionRef<void(const SessionSnapshot&)> visit) const {
  filter.page_size = 1000;
  filter.after.reset();
  for (;;) {
    const SessionPage page = List(filter);
    for (const SessionSnapshot& session : page.sessions) visit(session);
    if (!page.next_after) return;
    filter.after = page.next_after;
  }
}

StateCounts MultiSessionManager::Counts() const {
  StateCounts counts;
  for (const auto& shard : shards_) {
    absl::MutexLock lock(&shard->mu);
    for (int i = 0; i < kSessionStateCount; ++i) {
      counts.by_state[i] += shard->counts[i];
    }
  }
  return counts;
}

absl::StatusOr<std::shared_ptr<TransitionSubscription>>
MultiSessionManager::Subscribe(SubscribeOptions options) {
  auto subscription = std::make_shared<TransitionSubscription>(
      options.capacity, std::move(options.on_ready));
  if (options.session) {
    const SessionId session = *options.session;
    if (session.instance_tag() != options_.instance_tag ||
        session.shard() >= static_cast<uint32_t>(options_.shard_count)) {
      return absl::NotFoundError(
          absl::StrCat("no session ", session.ToString()));
    }
    Shard& shard = *shards_[session.shard()];
    absl::MutexLock lock(&shard.mu);
    if (!shard.by_id.contains(session.value)) {
      return absl::NotFoundError(
          absl::StrCat("no session ", session.ToString()));
    }
    shard.feed.WatchSession(session.value, subscription);
    return subscription;
  }
  for (auto& shard : shards_) {
    absl::MutexLock lock(&shard->mu);
    shard->feed.Watch(subscription);
  }
  return subscription;
}

}  // namespace gss
