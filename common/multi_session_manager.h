// The server composition of the session core: many managed sessions keyed by
// remote identity, each with its own lifecycle, liveness and gameplay state.
#ifndef COMMON_MULTI_SESSION_MANAGER_H_
#define COMMON_MULTI_SESSION_MANAGER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/clock.h"
#include "common/gameplay_rules.h"
#include "common/session_lifecycle.h"
#include "common/session_policy.h"
#include "common/session_state.h"
#include "common/session_types.h"
#include "common/transition_feed.h"

namespace gss {

struct MultiSessionOptions {
  ServerSessionPolicy policy;
  GameplayRules rules;
  // Written into every session id so another instance can route a resume to
  // its owner.
  uint16_t instance_tag = 1;
  // The sequence of the first session id; later ids count up from it. A
  // process that starts each run at a random point keeps an id from before
  // a restart from naming another player's session after it. At least 1,
  // below 2^39, so that ids never wrap in a process's life.
  uint64_t first_sequence = 1;
  static constexpr uint64_t kMaxFirstSequence = uint64_t{1} << 39;
  // Independent locks; a power of two, at most 256.
  int shard_count = 16;
  // Deadlines fire no earlier than due and at most one resolution after.
  absl::Duration timer_resolution = absl::Milliseconds(32);
  // Slots per shard's timing wheel; a power of two. Deadlines further out
  // than slots x resolution still fire on time but are looked at once per
  // turn of the wheel.
  int timer_slots = 2048;
  // Logged-in sessions held at most; 0 means no limit. Connections that have
  // not logged in yet may add a sixteenth on top (at least 16), so a client
  // can still connect to resume while the server is full.
  int64_t max_sessions = 0;
  // Whether a second login of the same player replaces the older session
  // (kReplaced) or is refused.
  bool replace_existing_login = true;
  // Called for every transition of every session, synchronously and with the
  // session's shard locked: for exact, cheap bookkeeping such as metrics. It
  // must not block or call back into the manager.
  std::function<void(const SessionTransition&)> on_transition;

  absl::Status Validate() const;
};

// What a successful login establishes for a session.
struct PlayerGrant {
  std::string player_id;
  std::string display_name;
  std::string role;
  uint32_t permissions = kAllPermissions;
  // Restored from account state when the host has it; otherwise the manager
  // picks a spawn point from the player id.
  std::optional<GridPosition> start_position;
};

// A copy of one managed session, for inspection.
struct SessionSnapshot {
  SessionId id;
  SessionState state = SessionState::kClosed;
  std::optional<RemoteIdentity> remote;  // None while Reconnecting.
  std::string player_id;
  std::string display_name;
  std::string role;
  uint32_t permissions = 0;
  absl::Time created_at;
  absl::Time state_since;
  absl::Time last_seen;
  std::optional<absl::Duration> rtt;
  GridPosition position;
  int32_t health = 0;
  int64_t last_move_tick = -1;
  int64_t last_shot_tick = -1;
  uint32_t resumes = 0;
  uint32_t transitions = 0;  // Lifecycle transitions so far.
};

struct SubscribeOptions {
  std::optional<SessionId> session;  // None: every session.
  size_t capacity = 1024;
  // Called (outside the manager's locks) when the queue becomes non-empty.
  // Must not block.
  std::function<void()> on_ready;
};

struct ListOptions {
  // The bit of `state` in state_mask.
  static constexpr uint32_t StateBit(SessionState state) {
    return 1u << static_cast<int>(state);
  }
  uint32_t state_mask = 0;  // StateBit()s; 0 means every state.
  std::optional<uint32_t> gateway_id;
  size_t page_size = 100;
  // Exclusive: the page starts after this session. Ids grow with creation, so
  // a session present for the whole walk is returned exactly once.
  std::optional<SessionId> after;
};

struct SessionPage {
  std::vector<SessionSnapshot> sessions;  // Ascending session id.
  std::optional<SessionId> next_after;    // None when the walk is done.
};

struct ConnectOutcome {
  SessionId session;
  bool created = false;  // False: the remote already had a session.
};

struct LoginOutcome {
  SessionId session;
  GridPosition position;  // Authoritative start position.
  int64_t server_tick = 0;
  ResumeToken resume_token;
  // The older session of the same player, closed with kReplaced.
  std::optional<SessionTransition> replaced;
};

struct ResumeOutcome {
  SessionId session;
  GridPosition position;
  int64_t server_tick = 0;
  int64_t last_move_tick = -1;
  ResumeToken resume_token;  // The rotated token; the presented one is spent.
  // The connection the session had until now, if the server had not yet
  // noticed it was dead; the host closes it.
  std::optional<RemoteIdentity> displaced_remote;
};

struct MoveOutcome {
  SessionId session;
  MoveResult result;
};

// One liveness or movement event of a batch (see ApplyInputs).
struct PeerInput {
  enum class Kind : uint8_t { kHeartbeat, kMessage, kMove };
  RemoteIdentity remote;
  Kind kind = Kind::kHeartbeat;
  MoveInput move;  // kMove.
  // kHeartbeat: the round trip the heartbeat measured, recorded as with
  // RecordRtt (negative values are ignored).
  std::optional<absl::Duration> rtt;
};

struct PeerInputResult {
  absl::Status status;  // NotFound for a remote with no session.
  SessionId session;
  MoveResult move;  // kMove, when status is OK.
};

struct ShootOutcome {
  SessionId session;
  SessionId target;
  ShootResult result;
  std::optional<RemoteIdentity> target_remote;  // To tell the target of a hit.
};

struct StateCounts {
  std::array<int64_t, kSessionStateCount> by_state{};
  int64_t total() const;
};

class MultiSessionManager {
 public:
  static absl::StatusOr<std::unique_ptr<MultiSessionManager>> Create(
      const MultiSessionOptions& options, const Clock& clock);
  ~MultiSessionManager();

  MultiSessionManager(const MultiSessionManager&) = delete;
  MultiSessionManager& operator=(const MultiSessionManager&) = delete;

  // --- Transport events -----------------------------------------------------
  // Creates a session for a new remote (Authenticating) or resolves the one it
  // has. ResourceExhausted when max_sessions are held.
  absl::StatusOr<ConnectOutcome> OnTransportConnected(
      const RemoteIdentity& remote);
  // The remote's transport ended; `orderly` when the peer said goodbye.
  // A logged-in session that lost its transport waits in Reconnecting.
  absl::StatusOr<std::optional<SessionTransition>> OnTransportClosed(
      const RemoteIdentity& remote, bool orderly);
  // Liveness. NotFound for a remote with no session. Like ApplyMove, a
  // one-input ApplyInputs: there is one path for inputs.
  absl::Status OnHeartbeat(const RemoteIdentity& remote);
  absl::Status OnInboundMessage(const RemoteIdentity& remote);
  absl::Status RecordRtt(const RemoteIdentity& remote, absl::Duration rtt);

  // --- Login and resume -----------------------------------------------------
  // `secret` is fresh randomness from the host for the session's first resume
  // token. AlreadyExists when the player is logged in and replacement is off
  // (the new session then closes with kLoginFailed).
  absl::StatusOr<LoginOutcome> Login(const RemoteIdentity& remote,
                                     const PlayerGrant& grant,
                                     const ResumeSecret& secret);
  absl::StatusOr<SessionTransition> FailLogin(const RemoteIdentity& remote);
  // Rebinds the session named by `token` to `remote` (which must not carry a
  // logged-in session) if the token's secret matches; the token is spent and
  // `next_secret` becomes the session's new one. Every token that does not
  // match a resumable session gets the same PermissionDenied, whatever the
  // reason, and changes nothing: a stranger can neither probe sessions nor
  // wear down their resume attempts. A holder of the right token whose resume
  // still fails (FailedPrecondition: the connection is unknown or already
  // logged in) uses up one of the session's max_resume_attempts. Repeating
  // the last successful resume on the connection it moved to answers again
  // without spending anything (a lost reply over UDP). Tokens of another
  // instance are refused too: a host that routes resumes between instances
  // checks token.session.instance_tag() first.
  absl::StatusOr<ResumeOutcome> Resume(const RemoteIdentity& remote,
                                       const ResumeToken& token,
                                       const ResumeSecret& next_secret);

  // --- Gameplay -------------------------------------------------------------
  absl::StatusOr<MoveOutcome> ApplyMove(const RemoteIdentity& remote,
                                        const MoveInput& input);
  absl::StatusOr<ShootOutcome> ApplyShoot(const RemoteIdentity& remote,
                                          int64_t tick, SessionId target);
  // Applies a batch of heartbeats, other messages and moves (OnHeartbeat,
  // OnInboundMessage and ApplyMove are batches of one), in order per peer,
  // all at one reading of the clock. Once sessions outnumber the caches an
  // event costs three dependent memory misses (index control bytes, index
  // slot, record); here the events are grouped by shard and each group's
  // look-ups are started together before any is used, so the misses overlap
  // instead of adding up. `results` must be as long as `inputs`.
  void ApplyInputs(absl::Span<const PeerInput> inputs,
                   absl::Span<PeerInputResult> results);
  // The server's tick now.
  int64_t CurrentTick() const;

  // --- Host decisions -------------------------------------------------------
  absl::StatusOr<SessionTransition> Evict(SessionId session);
  // Closes every session with kServerShutdown; returns how many.
  size_t Clear();

  // Fires every deadline that has passed: Suspect, Reconnecting, Closed. The
  // host calls this periodically; the cost is proportional to the deadlines
  // that came due, not to the sessions held. Deadlines are judged only here:
  // traffic from a peer that arrives after its deadline but before the next
  // call finds the session as it was, so a peer heard from is kept, and the
  // host's call interval adds to the one-resolution lateness.
  std::vector<SessionTransition> AdvanceTime();

  // --- Inspection -----------------------------------------------------------
  std::optional<SessionSnapshot> FindBySession(SessionId session) const;
  std::optional<SessionSnapshot> FindByPlayer(absl::string_view player) const;
  std::optional<SessionSnapshot> FindByRemote(
      const RemoteIdentity& remote) const;
  SessionPage List(const ListOptions& options) const;
  // Calls `visit` with every session `filter` matches (its page_size and
  // after are ignored), page by page, outside the manager's locks: `visit`
  // may call the manager. A session present for the whole walk is visited
  // once; one created or closed meanwhile may or may not be.
  void ForEach(ListOptions filter,
               absl::FunctionRef<void(const SessionSnapshot&)> visit) const;
  StateCounts Counts() const;
  size_t size() const { return total_sessions_.load(); }

  absl::StatusOr<std::shared_ptr<TransitionSubscription>> Subscribe(
      SubscribeOptions options);

  const MultiSessionOptions& options() const { return options_; }

 private:
  struct Record;
  struct Shard;
  struct PlayerShard;
  struct Effects;
  struct RemoteEntry {
    SessionId session;
    uint32_t slot;
  };

  MultiSessionManager(const MultiSessionOptions& options, const Clock& clock);

  uint32_t ShardOfRemote(const RemoteIdentity& remote) const;
  uint32_t ShardOfPlayer(absl::string_view player) const;
  int64_t NowNs() const;
  int64_t TickAtNs(int64_t now_ns) const;

  // Runs `fn(shard, record)` with the session bound to `remote` locked, or
  // returns NotFound. Handles sessions whose owner shard differs from the
  // remote's (after a resume).
  template <typename Fn>
  auto WithRemote(const RemoteIdentity& remote, Fn&& fn) const
      -> decltype(fn(std::declval<Shard&>(), std::declval<Record&>()));
  // ApplyInputs of one input: what the single-input calls are made of.
  PeerInputResult ApplyInput(const PeerInput& input);
  void Touch(Shard& shard, Record& record, SessionEvent event, int64_t now_ns,
             Effects& effects);
  static void SetRtt(Record& record, absl::Duration rtt);
  MoveResult MoveLocked(Shard& shard, Record& record, const MoveInput& input,
                        int64_t now_ns, Effects& effects);
  void ApplyInputLocked(Shard& shard, Record& record, const PeerInput& input,
                        int64_t now_ns, Effects& effects,
                        PeerInputResult& result);
  std::optional<SessionTransition> CloseById(SessionId session,
                                             SessionEvent event,
                                             absl::string_view expected_player);
  void AdvanceShard(Shard& shard, int64_t now_ns, Effects& effects);

  // Applies a lifecycle event to a locked record; publishes, re-arms or
  // removes as the new state requires.
  std::optional<SessionTransition> ApplyEvent(Shard& shard, Record& record,
                                              SessionEvent event, int64_t at_ns,
                                              Effects& effects);
  void Publish(Shard& shard, const SessionTransition& transition,
               Effects& effects);
  void Unbind(Shard& shard, Record& record, Effects& effects);
  void Remove(Shard& shard, Record& record, Effects& effects);
  void Finish(Effects& effects);

  int64_t DueNs(const Record& record) const;
  void Arm(Shard& shard, Record& record);
  void Disarm(Shard& shard, Record& record);
  void FireDue(Shard& shard, Record& record, int64_t now_ns, Effects& effects);

  SessionSnapshot Snapshot(const Record& record) const;
  GridPosition SpawnPoint(absl::string_view player) const;

  const MultiSessionOptions options_;
  const LifecycleRules lifecycle_rules_;
  const Clock& clock_;
  const int64_t epoch_ns_;
  const int64_t timer_resolution_ns_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::unique_ptr<PlayerShard>> player_shards_;
  std::atomic<uint64_t> next_sequence_;
  std::atomic<int64_t> total_sessions_{0};
  std::atomic<int64_t> logged_in_sessions_{0};
};

}  // namespace gss

#endif  // COMMON_MULTI_SESSION_MANAGER_H_
