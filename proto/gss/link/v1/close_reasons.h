// ClosePeer.reason values that are not a Disconnect reason (see
// docs/protocol.md, "Gateway link"): the closes that carry no Disconnect
// game message. Both ends of the link read them.
#ifndef GSS_LINK_V1_CLOSE_REASONS_H_
#define GSS_LINK_V1_CLOSE_REASONS_H_

#include "absl/strings/string_view.h"

namespace gss::link::v1 {

// A refused login: its LoginRejected, if it fits, is the final message.
inline constexpr absl::string_view kLoginFailedCloseReason = "login_failed";
// The client said Goodbye: nothing is said back (over UDP the gateway
// answers with Disconnect code 0).
inline constexpr absl::string_view kGoodbyeCloseReason = "goodbye";

}  // namespace gss::link::v1

#endif  // GSS_LINK_V1_CLOSE_REASONS_H_
