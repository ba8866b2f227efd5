// The authoritative per-peer gameplay rules: whether a MoveInput or a
// ShootInput from one peer is accepted, and what it changes. Pure functions
// over one peer's state (and, for a hit, the target's health only).
#ifndef COMMON_GAMEPLAY_RULES_H_
#define COMMON_GAMEPLAY_RULES_H_

#include <array>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace gss {

// Sent to clients in the welcome; drives movement validation.
struct WorldConfig {
  int32_t grid_size = 64;  // Positions are [0, grid_size) on both axes.
  absl::Duration movement_tick = absl::Milliseconds(50);
  int32_t movement_max_steps_per_tick = 1;
  // How far a client's tick may run ahead of the server's (clock drift).
  int32_t max_ticks_ahead = 4;
  // Idle ticks a peer may bank for one move; without a cap a peer that
  // stood still could cross the grid in one message.
  int32_t max_step_credit_ticks = 10;
};

struct CombatConfig {
  // Lag compensation: how far back a shot's tick may lie behind the server.
  absl::Duration max_rewind = absl::Milliseconds(250);
  // Measured on the server's clock, so spacing ticks out does not evade it.
  absl::Duration fire_cooldown = absl::Milliseconds(200);
  int32_t range = 10;  // Euclidean distance in grid cells.
  int32_t damage = 20;
  int32_t max_health = 100;
};

struct GameplayRules {
  WorldConfig world;
  CombatConfig combat;

  absl::Status Validate() const;
  int64_t max_rewind_ticks() const;
  // The server's tick at `elapsed` since the world started.
  int64_t TickAt(absl::Duration elapsed) const;
};

// Permission bits carried by a session after login and checked per message.
enum Permission : uint32_t {
  kPermissionMove = 1u << 0,
  kPermissionShoot = 1u << 1,
};
inline constexpr uint32_t kAllPermissions = kPermissionMove | kPermissionShoot;
// "move" / "shoot"; unknown names are an InvalidArgument error.
absl::Status ParsePermission(absl::string_view name, uint32_t* bits);

struct MoveInput {
  int64_t tick = 0;
  int32_t dx = 0;
  int32_t dy = 0;
};

struct GridPosition {
  int32_t x = 0;
  int32_t y = 0;
  friend bool operator==(GridPosition, GridPosition) = default;
};

// Why an input was refused. Exported as a metric label, so the set is fixed.
enum class InputRejection : uint8_t {
  kNone,
  kNotLoggedIn,
  kNotPermitted,
  kStaleTick,         // At or before the peer's last accepted tick (replay).
  kTickTooFarAhead,   // Beyond the server tick plus max_ticks_ahead.
  kTooManySteps,      // More steps than the ticks since the last move allow.
  kOutsideLagWindow,  // Shot tick older than the lag-compensation window.
  kFireCooldown,      // Shot sooner than fire_cooldown after the last one.
  kUnknownTarget,
  kSelfTarget,
  kTargetNotActive,
  kTargetEliminated,  // The target's health is already zero.
  kTargetOutOfRange,  // Not within range at the rewound tick, or not there.
};
inline constexpr int kInputRejectionCount = 13;
absl::string_view InputRejectionName(InputRejection rejection);

// Where a peer stood at recent ticks, for lag-compensated hit checks. Holds
// the last kCapacity accepted positions; Validate() keeps the rewind window
// inside it.
class PositionHistory {
 public:
  static constexpr int kCapacity = 16;

  void Clear() { size_ = 0; }
  // Ticks must increase from one call to the next.
  void Record(int64_t tick, GridPosition position);
  // The position in force at `tick`: the latest record at or before it.
  // std::nullopt when the peer had no position yet (or it aged out).
  std::optional<GridPosition> At(int64_t tick) const;

 private:
  struct Entry {
    uint32_t tick;
    int16_t x;
    int16_t y;
  };
  std::array<Entry, kCapacity> entries_{};
  uint8_t next_ = 0;
  uint8_t size_ = 0;
};

// One peer's authoritative gameplay state.
struct PeerGameState {
  GridPosition position;
  int64_t last_move_tick = -1;
  int64_t last_shot_tick = -1;
  int64_t last_shot_at_ns = INT64_MIN;  // Server time of the last hit or miss.
  int32_t health = 0;
  PositionHistory history;

  // Places the peer at `at` as of `tick` with full health.
  void Spawn(GridPosition at, int64_t tick, int32_t max_health);
};

struct MoveResult {
  InputRejection rejection = InputRejection::kNone;
  GridPosition position;  // Authoritative position after the input.
  bool clamped = false;   // The move ran into the grid's edge.
  bool accepted() const { return rejection == InputRejection::kNone; }
};

// Who is sending an input, as the rules judge it before the input itself:
// only a logged-in session that has its connection (active or suspect)
// plays, and only with the permission for the kind of input.
struct PeerStanding {
  bool live = true;
  uint32_t permissions = kAllPermissions;
};

// Applies `input` from `peer` (whose standing is `standing`) at server tick
// `server_tick`: kNotLoggedIn unless live, kNotPermitted without "move",
// then the move rule. A rejection changes nothing; the result still carries
// the authoritative position.
MoveResult ApplyMove(const GameplayRules& rules, int64_t server_tick,
                     const MoveInput& input, PeerGameState& peer,
                     const PeerStanding& standing = {});

struct ShootResult {
  InputRejection rejection = InputRejection::kNone;
  int32_t target_health = 0;  // After the hit.
  bool accepted() const { return rejection == InputRejection::kNone; }
};

// What the shooter's host knows about the named target.
struct ShotTarget {
  PeerGameState* state = nullptr;  // nullptr: no such session.
  bool is_shooter = false;
  bool active = false;  // Logged in and live (Active or Suspect).
};

// Checks a shot by `shooter` at server tick `server_tick` and server time
// `now`; on a hit lowers the target's health and records the shot. A rejection
// changes nothing.
// The shooter's standing is judged first, as for a move (kNotLoggedIn,
// kNotPermitted without "shoot").
ShootResult ApplyShoot(const GameplayRules& rules, int64_t server_tick,
                       absl::Time now, int64_t shot_tick,
                       PeerGameState& shooter, const ShotTarget& target,
                       const PeerStanding& standing = {});

}  // namespace gss

#endif  // COMMON_GAMEPLAY_RULES_H_
