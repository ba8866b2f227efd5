// The last Welcome each logged-in connection was sent, so that a repeated
// Login or Resume (a UDP client repeats them until answered) gets the same
// Welcome again instead of a second login. Keyed by connection, with a hash
// of the credential or token that earned it.
#ifndef SESSION_SERVICE_WELCOME_CACHE_H_
#define SESSION_SERVICE_WELCOME_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/session_types.h"

namespace gss {

// Thread-safe. Its lock is a leaf: the host calls it under session locks,
// and it calls nothing.
class WelcomeCache {
 public:
  // `welcome` (a serialized ServerMessage) was sent to `remote` for
  // `request` (the Login credential or the Resume token); replaces what the
  // connection had.
  void Remember(const RemoteIdentity& remote, absl::string_view request,
                std::string welcome);
  // The Welcome sent to `remote` when `request` is the one that earned it;
  // nullopt for another request or a connection that has none.
  std::optional<std::string> Find(const RemoteIdentity& remote,
                                  absl::string_view request) const;
  // The connection left its session (closed, timed out, replaced).
  void Forget(const RemoteIdentity& remote);
  size_t size() const;

 private:
  using Key = std::pair<uint32_t, uint64_t>;  // (gateway, connection).
  static Key KeyOf(const RemoteIdentity& remote) {
    return {remote.gateway_id, remote.connection_id};
  }
  struct Sent {
    size_t request_hash = 0;
    std::string welcome;
  };

  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, Sent> sent_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gss

#endif  // SESSION_SERVICE_WELCOME_CACHE_H_
