#include "session_service/welcome_cache.h"

#include "absl/hash/hash.h"

namespace gss {

void WelcomeCache::Remember(const RemoteIdentity& remote,
                            absl::string_view request, std::string welcome) {
  Sent sent{absl::HashOf(request), std::move(welcome)};
  absl::MutexLock lock(&mu_);
  sent_[KeyOf(remote)] = std::move(sent);
}

std::optional<std::string> WelcomeCache::Find(const RemoteIdentity& remote,
                                              absl::string_view request) const {
  absl::MutexLock lock(&mu_);
  auto it = sent_.find(KeyOf(remote));
  if (it == sent_.end() || it->second.request_hash != absl::HashOf(request)) {
    return std::nullopt;
  }
  return it->second.welcome;
}

void WelcomeCache::Forget(const RemoteIdentity& remote) {
  absl::MutexLock lock(&mu_);
  sent_.erase(KeyOf(remote));
}

size_t WelcomeCache::size() const {
  absl::MutexLock lock(&mu_);
  return sent_.size();
}

}  // namespace gss
