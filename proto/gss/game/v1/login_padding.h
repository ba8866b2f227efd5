// Login padding: the service never answers a Login with more bytes than the
// Login had (no amplification, even from a validated address), so clients
// pad their Login to a size that every refusal fits in.
#ifndef GSS_GAME_V1_LOGIN_PADDING_H_
#define GSS_GAME_V1_LOGIN_PADDING_H_

#include <cstddef>
#include <string>

#include "gss/game/v1/game.pb.h"

namespace gss::game::v1 {

// Larger than any LoginRejected the service sends with its detail and
// server info.
inline constexpr size_t kPaddedLoginBytes = 384;

// Grows `message` (a Login) to at least kPaddedLoginBytes serialized bytes
// with Login.padding; a larger message is left as it is.
inline void PadLogin(ClientMessage& message) {
  Login* login = message.mutable_login();
  login->clear_padding();
  const size_t size = message.ByteSizeLong();
  if (size >= kPaddedLoginBytes) return;
  // The padding field's own tag and length prefix take a few bytes; shrink
  // the padding until the total lands on the target or just above it.
  size_t padding = kPaddedLoginBytes - size;
  login->set_padding(std::string(padding, '\0'));
  while (padding > 0 && message.ByteSizeLong() > kPaddedLoginBytes) {
    login->mutable_padding()->pop_back();
    --padding;
  }
}

}  // namespace gss::game::v1

#endif  // GSS_GAME_V1_LOGIN_PADDING_H_
