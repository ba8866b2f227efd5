#include "common/gameplay_rules.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace gss {
namespace {

constexpr std::array<absl::string_view, kInputRejectionCount> kRejectionNames =
    {"none",
     "not_logged_in",
     "not_permitted",
     "stale_tick",
     "tick_too_far_ahead",
     "too_many_steps",
     "outside_lag_window",
     "fire_cooldown",
     "unknown_target",
     "self_target",
     "target_not_active",
     "target_eliminated",
     "target_out_of_range"};

}  // namespace

absl::string_view InputRejectionName(InputRejection rejection) {
  return kRejectionNames[static_cast<size_t>(rejection)];
}

absl::Status ParsePermission(absl::string_view name, uint32_t* bits) {
  if (name == "move") {
    *bits |= kPermissionMove;
  } else if (name == "shoot") {
    *bits |= kPermissionShoot;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown permission \"", name, "\" (known: move, shoot)"));
  }
  return absl::OkStatus();
}

absl::Status GameplayRules::Validate() const {
  if (world.grid_size < 1 || world.grid_size > 32767) {
    return absl::InvalidArgumentError(
        absl::StrCat("grid_size must be in [1, 32767], got ", world.grid_size));
  }
  if (world.movement_tick < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError("movement_tick must be at least 1ms");
  }
  for (auto [value, minimum, name] :
       {std::tuple{world.movement_max_steps_per_tick, 1,
                   "movement_max_steps_per_tick"},
        std::tuple{world.max_step_credit_ticks, 1, "max_step_credit_ticks"},
        std::tuple{world.max_ticks_ahead, 0, "max_ticks_ahead"},
        std::tuple{combat.range, 0, "range"},
        std::tuple{combat.damage, 0, "damage"},
        std::tuple{combat.max_health, 1, "max_health"}}) {
    if (value < minimum) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " must be at least ", minimum, ", got ", value));
    }
  }
  for (auto [value, name] :
       {std::pair{combat.max_rewind, "max_rewind"},
        std::pair{combat.fire_cooldown, "fire_cooldown"}}) {
    if (value < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, " must not be negative, got ", absl::FormatDuration(value)));
    }
  }
  // A shot may name any tick in [server - rewind, server + ahead]; the
  // history must reach back to the position in force at the oldest of them.
  const int64_t needed = max_rewind_ticks() + world.max_ticks_ahead + 2;
  if (needed > PositionHistory::kCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_rewind (", max_rewind_ticks(),
                     " ticks) plus max_ticks_ahead (", world.max_ticks_ahead,
                     ") needs ", needed, " positions of history; at most ",
                     PositionHistory::kCapacity, " are kept"));
  }
  return absl::OkStatus();
}

int64_t GameplayRules::max_rewind_ticks() const {
  // Abseil 20220623 writes the remainder unconditionally: it must not be null.
  absl::Duration remainder;
  return absl::IDivDuration(combat.max_rewind, world.movement_tick, &remainder);
}

int64_t GameplayRules::TickAt(absl::Duration elapsed) const {
  if (elapsed < absl::ZeroDuration()) return 0;
  absl::Duration remainder;
  return absl::IDivDuration(elapsed, world.movement_tick, &remainder);
}

void PositionHistory::Record(int64_t tick, GridPosition position) {
  entries_[next_] = {static_cast<uint32_t>(tick),
                     static_cast<int16_t>(position.x),
                     static_cast<int16_t>(position.y)};
  next_ = static_cast<uint8_t>((next_ + 1) % kCapacity);
  if (size_ < kCapacity) ++size_;
}

std::optional<GridPosition> PositionHistory::At(int64_t tick) const {
  if (tick < 0) return std::nullopt;
  for (int i = 1; i <= size_; ++i) {
    const Entry& entry = entries_[(next_ + kCapacity - i) % kCapacity];
    if (entry.tick <= tick) return GridPosition{entry.x, entry.y};
  }
  return std::nullopt;
}

void PeerGameState::Spawn(GridPosition at, int64_t tick, int32_t max_health) {
  position = at;
  last_move_tick = tick;
  last_shot_tick = -1;
  last_shot_at_ns = std::numeric_limits<int64_t>::min();
  health = max_health;
  history.Clear();
  history.Record(tick, at);
}

MoveResult ApplyMove(const GameplayRules& rules, int64_t server_tick,
                     const MoveInput& input, PeerGameState& peer,
                     const PeerStanding& standing) {
  MoveResult result{InputRejection::kNone, peer.position, false};
  if (!standing.live) {
    result.rejection = InputRejection::kNotLoggedIn;
    return result;
  }
  if ((standing.permissions & kPermissionMove) == 0) {
    result.rejection = InputRejection::kNotPermitted;
    return result;
  }
  if (input.tick <= peer.last_move_tick) {
    result.rejection = InputRejection::kStaleTick;
    return result;
  }
  if (input.tick > server_tick + rules.world.max_ticks_ahead) {
    result.rejection = InputRejection::kTickTooFarAhead;
    return result;
  }
  const int64_t credit_ticks = std::min<int64_t>(
      input.tick - peer.last_move_tick, rules.world.max_step_credit_ticks);
  const int64_t steps =
      std::abs(int64_t{input.dx}) + std::abs(int64_t{input.dy});
  if (steps > credit_ticks * rules.world.movement_max_steps_per_tick) {
    result.rejection = InputRejection::kTooManySteps;
    return result;
  }
  const int64_t max = rules.world.grid_size - 1;
  const int64_t want_x = int64_t{peer.position.x} + input.dx;
  const int64_t want_y = int64_t{peer.position.y} + input.dy;
  const GridPosition next{
      static_cast<int32_t>(std::clamp<int64_t>(want_x, 0, max)),
      static_cast<int32_t>(std::clamp<int64_t>(want_y, 0, max))};
  result.clamped = next.x != want_x || next.y != want_y;
  peer.position = next;
  peer.last_move_tick = input.tick;
  peer.history.Record(input.tick, next);
  result.position = next;
  return result;
}

ShootResult ApplyShoot(const GameplayRules& rules, int64_t server_tick,
                       absl::Time now, int64_t shot_tick,
                       PeerGameState& shooter, const ShotTarget& target,
                       const PeerStanding& standing) {
  auto reject = [](InputRejection why) { return ShootResult{why, 0}; };
  if (!standing.live) return reject(InputRejection::kNotLoggedIn);
  if ((standing.permissions & kPermissionShoot) == 0) {
    return reject(InputRejection::kNotPermitted);
  }
  if (shot_tick <= shooter.last_shot_tick) {
    return reject(InputRejection::kStaleTick);
  }
  if (shot_tick > server_tick + rules.world.max_ticks_ahead) {
    return reject(InputRejection::kTickTooFarAhead);
  }
  if (shot_tick < server_tick - rules.max_rewind_ticks()) {
    return reject(InputRejection::kOutsideLagWindow);
  }
  const int64_t now_ns = absl::ToUnixNanos(now);
  if (shooter.last_shot_at_ns != std::numeric_limits<int64_t>::min() &&
      now_ns - shooter.last_shot_at_ns <
          absl::ToInt64Nanoseconds(rules.combat.fire_cooldown)) {
    return reject(InputRejection::kFireCooldown);
  }
  if (target.is_shooter) return reject(InputRejection::kSelfTarget);
  if (target.state == nullptr) return reject(InputRejection::kUnknownTarget);
  if (!target.active) return reject(InputRejection::kTargetNotActive);
  if (target.state->health <= 0) {
    return reject(InputRejection::kTargetEliminated);
  }
  const std::optional<GridPosition> from = shooter.history.At(shot_tick);
  const std::optional<GridPosition> to = target.state->history.At(shot_tick);
  if (!from || !to) return reject(InputRejection::kTargetOutOfRange);
  const int64_t dx = int64_t{from->x} - to->x;
  const int64_t dy = int64_t{from->y} - to->y;
  const int64_t range = rules.combat.range;
  if (dx * dx + dy * dy > range * range) {
    return reject(InputRejection::kTargetOutOfRange);
  }
  shooter.last_shot_tick = shot_tick;
  shooter.last_shot_at_ns = now_ns;
  target.state->health =
      std::max(0, target.state->health - rules.combat.damage);
  return ShootResult{InputRejection::kNone, target.state->health};
}

}  // namespace gss
