// The gateways attached to the service: one command sink per gateway id. A
// newer attachment of the same gateway (its link reconnected) replaces the
// older one, whose detach then changes nothing; a command for a gateway that
// is not attached has nowhere to go.
#ifndef SESSION_SERVICE_GATEWAY_REGISTRY_H_
#define SESSION_SERVICE_GATEWAY_REGISTRY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "gss/link/v1/link.pb.h"

namespace gss {

// Where the host sends the commands for one attached gateway (the gRPC stream
// in production, a recording fake in tests). Push may run with session locks
// held: it must be quick, must not block on I/O and must not call back into
// the host. Thread-safe.
class CommandSink {
 public:
  virtual ~CommandSink() = default;
  virtual void Push(link::v1::PeerCommand command) = 0;
};

// Thread-safe. Its lock is taken under session locks (commands are sent from
// transition hooks); nothing is called with it held but CommandSink::Push.
class GatewayRegistry {
 public:
  struct Attached {
    uint64_t attachment = 0;  // Names this attachment for Detach.
    size_t gateways = 0;      // Attached now, this one included.
  };
  Attached Attach(uint32_t gateway_id, std::shared_ptr<CommandSink> sink);
  // Removes the gateway if `attachment` is still its current one and returns
  // how many stay attached; nullopt when a newer attachment took over (or
  // the gateway is gone already), which changes nothing.
  std::optional<size_t> Detach(uint32_t gateway_id, uint64_t attachment);
  // Pushes `command` to the gateway's sink; false when it is not attached.
  bool Send(uint32_t gateway_id, link::v1::PeerCommand command) const;
  size_t size() const;

 private:
  struct Gateway {
    std::shared_ptr<CommandSink> sink;
    uint64_t attachment = 0;
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint32_t, Gateway> gateways_ ABSL_GUARDED_BY(mu_);
  uint64_t next_attachment_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace gss

#endif  // SESSION_SERVICE_GATEWAY_REGISTRY_H_
