// Writes the hand-made seed inputs of every fuzz target into
// fuzz/corpus/<target>/, or checks that the files there still hold them
// (they are committed; the check runs with the tests so that a change of a
// wire format or fixture cannot leave the seeds stale). Files that are not
// seeds, such as regression inputs found by fuzzing, are left alone.
//
//   fuzz_seed_corpus write|check CORPUS_ROOT
#include <jwt.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/wire_format.h"
#include "fuzz/fixtures.h"
#include "gateway/cookie.h"
#include "gss/game/v1/game.pb.h"
#include "gss/link/v1/link.pb.h"

namespace {

namespace wire = gss::wire;
using gss::game::v1::ClientMessage;
using gss::link::v1::EventBatch;
using gss::link::v1::PeerEvent;

struct Seed {
  std::string target;
  std::string name;
  std::string bytes;
};

// --- tcp_frame_fuzzer
// ---------------------------------------------------------

std::string LoginBytes(const std::string& credential) {
  ClientMessage message;
  message.mutable_login()->set_credential(credential);
  message.mutable_login()->set_client_version("seed");
  return message.SerializeAsString();
}

std::string PingBytes(int64_t client_time_us) {
  ClientMessage message;
  message.mutable_ping()->set_client_time_us(client_time_us);
  return message.SerializeAsString();
}

void AddTcpSeeds(std::vector<Seed>& seeds) {
  // Byte 0: maximum frame size index (5: the default), byte 1: read sizes.
  auto add = [&seeds](std::string name, uint8_t max_index, uint8_t reads,
                      std::string stream) {
    std::string bytes;
    bytes.push_back(static_cast<char>(max_index));
    bytes.push_back(static_cast<char>(reads));
    bytes += stream;
    seeds.push_back({"tcp_frame_fuzzer", std::move(name), std::move(bytes)});
  };
  std::string login;
  wire::AppendTcpFrame(LoginBytes("alice"), login);
  add("login-one-read", 5, 0, login);
  add("login-byte-by-byte", 5, 1, login);
  std::string session;
  wire::AppendTcpFrame(LoginBytes("bob"), session);
  wire::AppendTcpFrame(PingBytes(1234), session);
  wire::AppendTcpFrame("", session);
  wire::AppendTcpFrame(PingBytes(5678), session);
  add("frames-in-odd-reads", 5, 7, session);
  add("frames-small-maximum", 3, 13, session);
  std::string partial = session;
  partial.resize(partial.size() - 3);
  add("partial-tail", 5, 5, partial);
  std::string oversized;
  wire::AppendTcpFrame("ok", oversized);
  oversized += std::string("\x00\x01\x00\x00", 4);  // 65536 > 16 KiB.
  oversized += "trailing";
  add("oversized-after-frame", 5, 3, oversized);
  add("empty-frames-zero-maximum", 0, 2, std::string(8, '\0'));
}

// --- udp_datagram_fuzzer
// ------------------------------------------------------

void AddUdpSeeds(std::vector<Seed>& seeds) {
  auto add = [&seeds](std::string name, std::string bytes) {
    seeds.push_back({"udp_datagram_fuzzer", std::move(name), std::move(bytes)});
  };
  add("connect-request", wire::EncodeConnectRequest({.nonce = 42}));
  std::string padded = wire::EncodeConnectRequest({.nonce = 43});
  padded.back() = 'x';  // Padding is not checked.
  add("connect-request-dirty-padding", padded);

  const gss::gateway::CookieAuthority authority(gss::fuzz::CookieSecret(),
                                                gss::fuzz::kCookieLifetimeMs);
  auto response = [&authority](uint64_t nonce, uint64_t issued_at_ms) {
    wire::ChallengeResponse packet;
    packet.nonce = nonce;
    packet.issued_at_ms = issued_at_ms;
    packet.cookie = authority.Mint({.address = gss::fuzz::kSenderAddress,
                                    .port = gss::fuzz::kSenderPort,
                                    .nonce = nonce,
                                    .issued_at_ms = issued_at_ms});
    return packet;
  };
  const uint64_t now = gss::fuzz::kCookieNowMs;
  add("challenge-response-valid",
      wire::EncodeChallengeResponse(response(42, now - 1000)));
  add("challenge-response-expired",
      wire::EncodeChallengeResponse(
          response(42, now - gss::fuzz::kCookieLifetimeMs)));
  add("challenge-response-future",
      wire::EncodeChallengeResponse(response(42, now + 1)));
  wire::ChallengeResponse forged = response(42, now - 1000);
  forged.cookie[0] ^= 1;
  add("challenge-response-forged", wire::EncodeChallengeResponse(forged));
  const wire::ChallengeResponse valid = response(44, now - 10);
  add("challenge", wire::EncodeChallenge({.nonce = valid.nonce,
                                          .issued_at_ms = valid.issued_at_ms,
                                          .cookie = valid.cookie}));
  add("accepted", wire::EncodeAccepted({.nonce = 42, .connection_id = 9}));
  add("data-empty", wire::EncodeData(9, 1, ""));
  add("data-game-message", wire::EncodeData(9, 7, PingBytes(99)));
  // Further sequence numbers in the payload: in order, a repeat, one too old,
  // zero, and a jump far ahead.
  std::string sequences;
  for (uint64_t sequence : {101, 102, 101, 37, 0, 200, 170, 1000000}) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      sequences.push_back(static_cast<char>(sequence >> shift));
    }
  }
  add("data-replay-sequence", wire::EncodeData(9, 100, sequences));
  add("data-largest",
      wire::EncodeData(
          9, 2, std::string(wire::kMaxDatagramSize - wire::DataSize(0), 'p')));
  add("disconnect",
      wire::EncodeDisconnect(
          {.connection_id = 9, .code = wire::DisconnectCode::kRateLimited}));
  std::string unknown_code = wire::EncodeDisconnect({.connection_id = 9});
  unknown_code.back() = static_cast<char>(200);
  add("disconnect-unknown-code", unknown_code);
  std::string bad_version = wire::EncodeAccepted({.nonce = 1});
  bad_version[2] = 9;
  add("bad-version", bad_version);
}

// --- jwt_login_fuzzer
// ---------------------------------------------------------

// A token made by libjwt itself, as an issuer would.
std::string MintedToken(jwt_alg_t alg, absl::string_view key,
                        const std::string& claims_json) {
  jwt_t* jwt = nullptr;
  if (jwt_new(&jwt) != 0) std::abort();
  if (jwt_add_grants_json(jwt, claims_json.c_str()) != 0) std::abort();
  if (jwt_set_alg(jwt, alg,
                  alg == JWT_ALG_NONE
                      ? nullptr
                      : reinterpret_cast<const unsigned char*>(key.data()),
                  alg == JWT_ALG_NONE ? 0 : static_cast<int>(key.size())) !=
      0) {
    std::abort();
  }
  char* encoded = jwt_encode_str(jwt);
  std::string token = encoded != nullptr ? encoded : "";
  std::free(encoded);
  jwt_free(jwt);
  return token;
}

void AddJwtSeeds(std::vector<Seed>& seeds) {
  auto add = [&seeds](std::string name, std::string bytes) {
    seeds.push_back({"jwt_login_fuzzer", std::move(name), std::move(bytes)});
  };
  const int64_t now = gss::fuzz::kJwtNowSeconds;
  const std::string exp = absl::StrCat("\"exp\":", now + 3600);
  const std::string good =
      absl::StrCat(R"({"sub":"player-1","name":"Player One","role":"player",)",
                   R"("permissions":["move","shoot"],)", exp, "}");
  // Claims (signed by the target with the service's key).
  add("claims-full", good);
  add("claims-minimal", absl::StrCat(R"({"sub":"p",)", exp, "}"));
  add("claims-unknown-permission",
      absl::StrCat(R"({"sub":"p","permissions":["move","fly"],)", exp, "}"));
  add("claims-permissions-not-strings",
      absl::StrCat(R"({"sub":"p","permissions":[1,{"a":2}],)", exp, "}"));
  add("claims-permissions-object",
      absl::StrCat(R"({"sub":"p","permissions":{"move":true},)", exp, "}"));
  add("claims-expired", absl::StrCat(R"({"sub":"p","exp":)", now - 1, "}"));
  add("claims-fractional-exp",
      absl::StrCat(R"({"sub":"p","exp":)", now, ".5}"));
  add("claims-string-exp", R"({"sub":"p","exp":"tomorrow"})");
  add("claims-not-yet-valid",
      absl::StrCat(R"({"sub":"p","nbf":)", now + 60, ",", exp, "}"));
  add("claims-no-sub", absl::StrCat("{", exp, "}"));
  add("claims-long-sub",
      absl::StrCat(R"({"sub":")", std::string(129, 's'), R"(",)", exp, "}"));
  add("claims-sub-number", absl::StrCat(R"({"sub":17,)", exp, "}"));
  add("claims-not-object", "[1,2,3]");
  // Whole credentials.
  add("token-valid", MintedToken(JWT_ALG_HS256, gss::fuzz::kJwtKey, good));
  add("token-other-key",
      MintedToken(JWT_ALG_HS256, gss::fuzz::kOtherJwtKey, good));
  add("token-hs512", MintedToken(JWT_ALG_HS512, gss::fuzz::kJwtKey, good));
  add("token-alg-none", MintedToken(JWT_ALG_NONE, "", good));
  add("token-two-parts", "eyJhbGciOiJIUzI1NiJ9.e30");
  add("dev-name", "alice");
}

// --- session_token_fuzzer
// -----------------------------------------------------

void AddSessionTokenSeeds(std::vector<Seed>& seeds) {
  auto add = [&seeds](std::string name, std::string bytes) {
    seeds.push_back(
        {"session_token_fuzzer", std::move(name), std::move(bytes)});
  };
  std::unique_ptr<gss::fuzz::ResumeFixture> fixture =
      gss::fuzz::ResumeFixture::Make();
  if (fixture == nullptr) std::abort();
  const std::string token = fixture->token.Encode();
  add("resume-token-valid", token);
  std::string upper = token;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  add("resume-token-upper-case", upper);
  std::string wrong_secret = token;
  wrong_secret.back() = wrong_secret.back() == '0' ? '1' : '0';
  add("resume-token-wrong-secret", wrong_secret);
  add("resume-token-no-session", std::string(16, '0') + token.substr(16));
  add("resume-token-short", token.substr(1));
  add("session-id", fixture->token.session.ToString());
  add("address-v4", "192.0.2.1:4000");
  add("address-v6", "[2001:db8::1]:65535");
  add("address-v4-mapped", "[::ffff:192.0.2.1]:0");
  add("address-bad-port", "192.0.2.1:+80");
}

// --- link_events_fuzzer
// -------------------------------------------------------

// Builds an EventBatch story: connections, messages, closes and step ends.
class Story {
 public:
  Story& Connect(uint64_t connection) {
    PeerEvent& event = Add(connection);
    event.mutable_connected()->mutable_peer()->set_connection_id(connection);
    event.mutable_connected()->mutable_peer()->set_address("192.0.2.9:5000");
    event.mutable_connected()->mutable_peer()->set_transport(
        gss::link::v1::TRANSPORT_TCP);
    return *this;
  }
  Story& Send(uint64_t connection, const ClientMessage& message) {
    Add(connection).set_message(message.SerializeAsString());
    return *this;
  }
  Story& Raw(uint64_t connection, std::string bytes) {
    Add(connection).set_message(std::move(bytes));
    return *this;
  }
  Story& Login(uint64_t connection, const std::string& name) {
    ClientMessage message;
    message.mutable_login()->set_credential(name);
    return Send(connection, message);
  }
  Story& Resume(uint64_t connection, const std::string& token) {
    ClientMessage message;
    message.mutable_resume()->set_resume_token(token);
    return Send(connection, message);
  }
  Story& Ping(uint64_t connection) {
    ClientMessage message;
    message.mutable_ping()->set_client_time_us(7);
    message.mutable_ping()->set_echo_server_time_us(1'700'000'000'000'000);
    message.mutable_ping()->set_echo_hold_us(100);
    return Send(connection, message);
  }
  Story& Move(uint64_t connection, int64_t tick, int dx, int dy) {
    ClientMessage message;
    message.mutable_move()->set_tick(tick);
    message.mutable_move()->set_dx(dx);
    message.mutable_move()->set_dy(dy);
    return Send(connection, message);
  }
  Story& Shoot(uint64_t connection, int64_t tick, const std::string& target) {
    ClientMessage message;
    message.mutable_shoot()->set_tick(tick);
    message.mutable_shoot()->set_target_session_id(target);
    return Send(connection, message);
  }
  Story& Goodbye(uint64_t connection) {
    ClientMessage message;
    message.mutable_goodbye();
    return Send(connection, message);
  }
  // A heartbeat the gateway answered, in the batch's liveness report.
  Story& Answered(uint64_t connection, int64_t rtt_us) {
    gss::link::v1::LivenessReport* report = batch_.mutable_liveness();
    report->set_report_id(1);
    report->add_connection_ids(connection);
    report->add_rtt_us(rtt_us);
    return *this;
  }
  Story& Closed(uint64_t connection, bool orderly) {
    Add(connection).mutable_closed()->set_orderly(orderly);
    return *this;
  }
  // Ends a step; the clock then moves on by `ms`.
  Story& Step(uint64_t ms) {
    Add(ms);
    return *this;
  }
  std::string Bytes() const { return batch_.SerializeAsString(); }

 private:
  PeerEvent& Add(uint64_t connection) {
    PeerEvent* event = batch_.add_events();
    event->set_connection_id(connection);
    return *event;
  }
  EventBatch batch_;
};

void AddLinkSeeds(std::vector<Seed>& seeds) {
  auto add = [&seeds](std::string name, const Story& story) {
    seeds.push_back({"link_events_fuzzer", std::move(name), story.Bytes()});
  };
  add("login-ping-move", Story()
                             .Connect(10)
                             .Login(10, "alice")
                             .Step(100)
                             .Ping(10)
                             .Move(10, 5, 1, 0));
  add("two-players-shoot", Story()
                               .Connect(10)
                               .Connect(11)
                               .Login(10, "alice")
                               .Login(11, "bob")
                               .Step(200)
                               .Shoot(10, 3, "@1")
                               .Shoot(11, 4, "@0")
                               .Move(11, 5, 0, 1));
  add("lost-then-resumed", Story()
                               .Connect(10)
                               .Login(10, "alice")
                               .Step(1000)
                               .Closed(10, false)
                               .Step(5000)
                               .Connect(12)
                               .Resume(12, "@0")
                               .Step(10)
                               .Resume(12, "@0")
                               .Ping(12));
  add("resume-over-live-connection", Story()
                                         .Connect(10)
                                         .Login(10, "alice")
                                         .Step(10)
                                         .Connect(11)
                                         .Resume(11, "@0")
                                         .Resume(10, "@0"));
  add("timeouts", Story()
                      .Connect(10)
                      .Connect(11)
                      .Login(10, "alice")
                      .Step(20'000)
                      .Step(20'000)
                      .Step(40'000)
                      .Resume(11, "@0"));
  add("same-player-twice", Story()
                               .Connect(10)
                               .Connect(11)
                               .Login(10, "alice")
                               .Login(11, "alice")
                               .Login(10, "alice")
                               .Step(1)
                               .Login(11, "carol"));
  Story full;
  for (uint64_t connection = 20; connection < 44; ++connection) {
    full.Connect(connection).Login(connection, absl::StrCat("p", connection));
  }
  add("server-full", full.Step(1).Goodbye(20).Connect(50).Login(50, "late"));
  add("malformed-and-unknown", Story()
                                   .Raw(10, "\xff\xff")
                                   .Raw(10, "")
                                   .Connect(10)
                                   .Raw(10, std::string("\x3a\x00", 2))
                                   .Login(10, "")
                                   .Login(10, std::string(65, 'x'))
                                   .Move(99, 1, 1, 1)
                                   .Resume(10, "not-a-token"));
  add("edge-heartbeats", Story()
                             .Connect(10)
                             .Connect(11)
                             .Login(10, "alice")
                             .Step(16'000)
                             .Closed(11, false)
                             .Answered(10, 2'500)
                             .Answered(11, -1)
                             .Answered(99, int64_t{1} << 62));
  add("goodbye-and-close", Story()
                               .Connect(1)
                               .Login(1, "hello-peer")
                               .Connect(10)
                               .Login(10, "alice")
                               .Goodbye(10)
                               .Closed(10, true)
                               .Closed(1, false)
                               .Step(31'000));
}

// --- Writing and checking
// -----------------------------------------------------

std::vector<Seed> AllSeeds() {
  std::vector<Seed> seeds;
  AddTcpSeeds(seeds);
  AddUdpSeeds(seeds);
  AddJwtSeeds(seeds);
  AddSessionTokenSeeds(seeds);
  AddLinkSeeds(seeds);
  return seeds;
}

std::filesystem::path PathOf(const std::filesystem::path& root,
                             const Seed& seed) {
  return root / seed.target / absl::StrCat("seed-", seed.name);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 ||
      (std::string(argv[1]) != "write" && std::string(argv[1]) != "check")) {
    std::fprintf(stderr, "usage: %s write|check CORPUS_ROOT\n", argv[0]);
    return 2;
  }
  const bool write = std::string(argv[1]) == "write";
  const std::filesystem::path root(argv[2]);
  int stale = 0;
  const std::vector<Seed> seeds = AllSeeds();
  for (const Seed& seed : seeds) {
    const std::filesystem::path path = PathOf(root, seed);
    if (write) {
      std::filesystem::create_directories(path.parent_path());
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(seed.bytes.data(),
                static_cast<std::streamsize>(seed.bytes.size()));
      if (!out) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        return 1;
      }
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    const std::string found((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    if (!in.is_open() || found != seed.bytes) {
      std::fprintf(stderr, "%s is missing or stale\n", path.c_str());
      ++stale;
    }
  }
  if (stale > 0) {
    std::fprintf(stderr,
                 "%d seeds differ from what the generator makes; rewrite them "
                 "with: %s write %s\n",
                 stale, argv[0], argv[2]);
    return 1;
  }
  std::printf("%zu seeds %s\n", seeds.size(), write ? "written" : "current");
  return 0;
}
