// A hashed timing wheel over slot ids: the timers are intrusive list nodes
// (TimerNode) that the owner keeps in its own records, so arming, moving and
// firing allocate nothing; the wheel holds one list head per slot. No locks
// and no clock: the owner serialises access and hands in the tick.
#ifndef COMMON_TIMING_WHEEL_H_
#define COMMON_TIMING_WHEEL_H_

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace gss {

// One timer, embedded in the owner's record for slot id `s` and reached
// through the owner's `node_of(s)`.
struct TimerNode {
  static constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
  uint32_t prev = kNone;
  uint32_t next = kNone;
  int64_t tick = 0;  // When armed: the tick it fires at.
  bool armed = false;
};

// `slot_count` is a power of two; a deadline further than one turn away
// waits in its slot's list and is passed over until its turn comes, so the
// wheel's size bounds only how often far deadlines are looked at.
class TimingWheel {
 public:
  TimingWheel(int slot_count, int64_t start_tick)
      : heads_(slot_count, TimerNode::kNone),
        mask_(slot_count - 1),
        current_tick_(start_tick) {}

  // Every tick up to this one has been processed by Advance.
  int64_t current_tick() const { return current_tick_; }

  // Arms `slot` to fire at `tick`, or at the next tick if `tick` has been
  // processed already. A timer armed for an earlier tick is left alone: the
  // owner corrects it when it fires (re-arming a later deadline then), so a
  // deadline that moves later costs nothing until it comes due.
  template <typename NodeOf>
  void ArmNoLaterThan(uint32_t slot, int64_t tick, NodeOf node_of) {
    tick = std::max(tick, current_tick_ + 1);
    TimerNode& node = node_of(slot);
    if (node.armed) {
      if (tick >= node.tick) return;
      Disarm(slot, node_of);
    }
    Link(slot, tick, node_of);
  }

  template <typename NodeOf>
  void Disarm(uint32_t slot, NodeOf node_of) {
    TimerNode& node = node_of(slot);
    if (!node.armed) return;
    if (node.prev != TimerNode::kNone) {
      node_of(node.prev).next = node.next;
    } else {
      heads_[node.tick & mask_] = node.next;
    }
    if (node.next != TimerNode::kNone) node_of(node.next).prev = node.prev;
    node.prev = node.next = TimerNode::kNone;
    node.armed = false;
  }

  // Processes every tick up to `now_tick`: each timer due by then is
  // disarmed and passed to `fire(slot)`, which may arm it (or any other)
  // again; those fire at a later Advance. After a pause longer than a turn
  // each slot is visited once, not once per tick.
  template <typename NodeOf, typename Fire>
  void Advance(int64_t now_tick, NodeOf node_of, Fire fire) {
    if (now_tick <= current_tick_) return;
    const int64_t first = current_tick_ + 1;
    const int64_t last =
        std::min(now_tick, first + static_cast<int64_t>(heads_.size()) - 1);
    current_tick_ = now_tick;
    for (int64_t tick = first; tick <= last; ++tick) {
      uint32_t next = std::exchange(heads_[tick & mask_], TimerNode::kNone);
      while (next != TimerNode::kNone) {
        const uint32_t slot = next;
        TimerNode& node = node_of(slot);
        next = node.next;
        node.prev = node.next = TimerNode::kNone;
        node.armed = false;
        if (node.tick > now_tick) {
          // A later turn's: back into the (now fresh) list of its slot.
          Link(slot, node.tick, node_of);
          continue;
        }
        fire(slot);
      }
    }
  }

 private:
  template <typename NodeOf>
  void Link(uint32_t slot, int64_t tick, NodeOf node_of) {
    TimerNode& node = node_of(slot);
    uint32_t& head = heads_[tick & mask_];
    node.prev = TimerNode::kNone;
    node.next = head;
    if (head != TimerNode::kNone) node_of(head).prev = slot;
    head = slot;
    node.tick = tick;
    node.armed = true;
  }

  std::vector<uint32_t> heads_;
  const int64_t mask_;
  int64_t current_tick_;
};

}  // namespace gss

#endif  // COMMON_TIMING_WHEEL_H_
