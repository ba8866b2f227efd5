#include "session_service/gateway_registry.h"

#include <utility>

namespace gss {

GatewayRegistry::Attached GatewayRegistry::Attach(
    uint32_t gateway_id, std::shared_ptr<CommandSink> sink) {
  absl::MutexLock lock(&mu_);
  const uint64_t attachment = next_attachment_++;
  gateways_[gateway_id] = Gateway{std::move(sink), attachment};
  return {attachment, gateways_.size()};
}

std::optional<size_t> GatewayRegistry::Detach(uint32_t gateway_id,
                                              uint64_t attachment) {
  absl::MutexLock lock(&mu_);
  auto it = gateways_.find(gateway_id);
  if (it == gateways_.end() || it->second.attachment != attachment) {
    return std::nullopt;
  }
  gateways_.erase(it);
  return gateways_.size();
}

bool GatewayRegistry::Send(uint32_t gateway_id,
                           link::v1::PeerCommand command) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = gateways_.find(gateway_id);
  if (it == gateways_.end()) return false;
  it->second.sink->Push(std::move(command));
  return true;
}

size_t GatewayRegistry::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return gateways_.size();
}

}  // namespace gss
