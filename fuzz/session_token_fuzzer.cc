// Fuzz target for the text identities clients and gateways hand the service
// (common/session_types): resume tokens (Resume.resume_token), session ids
// (ShootInput.target_session_id) and peer addresses (link Peer.address), with
// round trips through their text forms, and the resume a parsed token leads
// to in the MultiSessionManager.
//
// Input: the text, tried as each of the three.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "common/multi_session_manager.h"
#include "common/session_types.h"
#include "fuzz/fixtures.h"
#include "fuzz/fuzz_check.h"

namespace {

using gss::PeerAddress;
using gss::ResumeToken;
using gss::SessionId;

bool AllHex(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool AllZero(absl::string_view text) {
  return text.find_first_not_of('0') == absl::string_view::npos;
}

// Only the holder of the session's current token takes it back; any other
// token is refused and changes nothing.
void CheckResume(const ResumeToken& token) {
  std::unique_ptr<gss::fuzz::ResumeFixture> fixture =
      gss::fuzz::ResumeFixture::Make();
  FUZZ_CHECK(fixture != nullptr);
  gss::MultiSessionManager& sessions = *fixture->sessions;
  gss::ResumeSecret next{};
  next.fill(0x5a);
  const absl::StatusOr<gss::ResumeOutcome> resumed =
      sessions.Resume(fixture->new_remote, token, next);
  const std::optional<gss::SessionSnapshot> session =
      sessions.FindBySession(fixture->token.session);
  FUZZ_CHECK(session.has_value());
  if (token == fixture->token) {
    FUZZ_CHECK(resumed.ok());
    FUZZ_CHECK(resumed->session == fixture->token.session);
    FUZZ_CHECK(resumed->resume_token.secret == next);
    FUZZ_CHECK(session->state == gss::SessionState::kActive);
    FUZZ_CHECK(session->remote == fixture->new_remote);
    return;
  }
  FUZZ_CHECK(absl::IsPermissionDenied(resumed.status()));
  FUZZ_CHECK(session->state == gss::SessionState::kReconnecting);
  FUZZ_CHECK(!session->remote.has_value());
  FUZZ_CHECK(session->resumes == 0);
  const std::optional<gss::SessionSnapshot> newcomer =
      sessions.FindByRemote(fixture->new_remote);
  FUZZ_CHECK(newcomer.has_value());
  FUZZ_CHECK(newcomer->state == gss::SessionState::kAuthenticating);
}

void CheckResumeToken(absl::string_view text) {
  const absl::StatusOr<ResumeToken> token = ResumeToken::Parse(text);
  FUZZ_CHECK(token.ok() == (text.size() == 48 && AllHex(text) &&
                            !AllZero(text.substr(0, 16))));
  if (!token.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(token.status()));
    return;
  }
  // The text form is canonical up to case, and parses back to the token.
  const std::string encoded = token->Encode();
  FUZZ_CHECK(encoded == absl::AsciiStrToLower(text));
  const absl::StatusOr<ResumeToken> again = ResumeToken::Parse(encoded);
  FUZZ_CHECK(again.ok() && *again == *token);
  FUZZ_CHECK(token->session.ToString() == encoded.substr(0, 16));
  CheckResume(*token);
}

void CheckSessionId(absl::string_view text) {
  const absl::StatusOr<SessionId> id = SessionId::Parse(text);
  FUZZ_CHECK(id.ok() == (text.size() == 16 && AllHex(text) && !AllZero(text)));
  if (!id.ok()) return;
  FUZZ_CHECK(id->ToString() == absl::AsciiStrToLower(text));
  FUZZ_CHECK(
      SessionId::Make(id->instance_tag(),
                      (id->value >> SessionId::kShardBits) &
                          ((uint64_t{1} << SessionId::kSequenceBits) - 1),
                      id->shard()) == *id);
}

void CheckPeerAddress(absl::string_view text) {
  const absl::StatusOr<PeerAddress> address = PeerAddress::Parse(text);
  if (!address.ok()) return;
  // Only the text of an address and port is accepted: nothing is skipped.
  for (char c : text) FUZZ_CHECK(c > 0x20 && c < 0x7f);
  FUZZ_CHECK(address->family == 4 || address->family == 6);
  if (address->family == 4) {
    for (size_t i = 4; i < address->bytes.size(); ++i) {
      FUZZ_CHECK(address->bytes[i] == 0);
    }
  }
  // What the service prints for people parses back to the same address.
  const std::string printed = address->ToString();
  const absl::StatusOr<PeerAddress> again = PeerAddress::Parse(printed);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *address);
  FUZZ_CHECK(again->ToString() == printed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  CheckResumeToken(text);
  CheckSessionId(text);
  CheckPeerAddress(text);
  return 0;
}
