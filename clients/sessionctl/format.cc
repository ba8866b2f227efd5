#include "clients/sessionctl/format.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "clients/sessionctl/cli.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace gss::sessionctl {
namespace {

using ops::v1::Session;

absl::Time ToTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

absl::Duration ToDuration(const google::protobuf::Duration& duration) {
  return absl::Seconds(duration.seconds()) +
         absl::Nanoseconds(duration.nanos());
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", ToTime(timestamp),
                          absl::UTCTimeZone());
}

std::string FormatRtt(const Session& session) {
  if (!session.has_rtt()) return "-";
  return absl::StrFormat("%.1fms",
                         absl::ToDoubleMilliseconds(ToDuration(session.rtt())));
}

std::string FormatRemote(const Session& session) {
  if (!session.has_remote()) return "-";
  return absl::StrCat(session.remote().gateway_id(), "/",
                      session.remote().connection_id());
}

std::string OrDash(absl::string_view text) {
  return text.empty() ? "-" : std::string(text);
}

// Left-aligned columns two spaces apart; the last column is not padded.
std::string RenderTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line.append("  ");
      line.append(row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size(), ' ');
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace

std::string StateName(ops::v1::SessionState state) {
  std::string name = ops::v1::SessionState_Name(state);
  absl::string_view view = name;
  if (view.empty()) return absl::StrCat("state_", static_cast<int>(state));
  absl::ConsumePrefix(&view, "SESSION_STATE_");
  return absl::AsciiStrToLower(view);
}

std::string FormatAge(absl::Duration age) {
  if (age < absl::ZeroDuration()) age = absl::ZeroDuration();
  if (age < absl::Seconds(1)) {
    return absl::StrCat(absl::ToInt64Milliseconds(age), "ms");
  }
  const int64_t seconds = absl::ToInt64Seconds(age);
  if (seconds < 60) return absl::StrCat(seconds, "s");
  if (seconds < 3600) {
    return absl::StrFormat("%dm%02ds", seconds / 60, seconds % 60);
  }
  if (seconds < 86400) {
    return absl::StrFormat("%dh%02dm", seconds / 3600, seconds % 3600 / 60);
  }
  return absl::StrFormat("%dd%02dh", seconds / 86400, seconds % 86400 / 3600);
}

std::string FormatSessionTable(
    const google::protobuf::RepeatedPtrField<Session>& sessions,
    absl::Time now) {
  if (sessions.empty()) return "(no sessions)\n";
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"SESSION", "STATE", "FOR", "PLAYER", "NAME", "ROLE",
                  "GW/CONN", "ADDRESS", "RTT", "POS", "HEALTH"});
  for (const Session& session : sessions) {
    rows.push_back({
        session.session_id(),
        StateName(session.state()),
        session.has_state_since()
            ? FormatAge(now - ToTime(session.state_since()))
            : "-",
        OrDash(session.player_id()),
        OrDash(session.display_name()),
        OrDash(session.role()),
        FormatRemote(session),
        session.has_remote() ? OrDash(session.remote().address()) : "-",
        FormatRtt(session),
        absl::StrCat(session.position().x(), ",", session.position().y()),
        absl::StrCat(session.health()),
    });
  }
  return RenderTable(rows);
}

std::string FormatSessionDetail(const Session& session, absl::Time now) {
  const auto time_and_age = [&](const google::protobuf::Timestamp& at) {
    return absl::StrCat(FormatTimestamp(at), " (", FormatAge(now - ToTime(at)),
                        " ago)");
  };
  std::vector<std::vector<std::string>> rows = {
      {"session:", session.session_id()},
      {"state:", StateName(session.state())},
      {"player:", OrDash(session.player_id())},
      {"name:", OrDash(session.display_name())},
      {"role:", OrDash(session.role())},
      {"permissions:", session.permissions().empty()
                           ? "-"
                           : absl::StrJoin(session.permissions(), ",")},
      {"gateway:", session.has_remote()
                       ? absl::StrCat(session.remote().gateway_id())
                       : "-"},
      {"connection:", session.has_remote()
                          ? absl::StrCat(session.remote().connection_id())
                          : "-"},
      {"address:",
       session.has_remote() ? OrDash(session.remote().address()) : "-"},
      {"created:",
       session.has_created_at() ? time_and_age(session.created_at()) : "-"},
      {"state since:",
       session.has_state_since() ? time_and_age(session.state_since()) : "-"},
      {"last seen:",
       session.has_last_seen() ? time_and_age(session.last_seen()) : "-"},
      {"rtt:", FormatRtt(session)},
      {"position:",
       absl::StrCat(session.position().x(), ",", session.position().y())},
      {"health:", absl::StrCat(session.health())},
      {"last move tick:", absl::StrCat(session.last_move_tick())},
      {"last shot tick:", absl::StrCat(session.last_shot_tick())},
      {"resumes:", absl::StrCat(session.resumes())},
      {"transitions:", absl::StrCat(session.transitions())},
  };
  return RenderTable(rows);
}

std::string FormatTransition(const ops::v1::Transition& transition) {
  std::string line = absl::StrCat(
      transition.has_at() ? FormatTimestamp(transition.at()) : "-", "  ",
      transition.session_id(), "  ", StateName(transition.from()), " -> ",
      StateName(transition.to()), "  cause=", OrDash(transition.cause()));
  if (!transition.close_reason().empty()) {
    absl::StrAppend(&line, " reason=", transition.close_reason());
  }
  if (!transition.player_id().empty()) {
    absl::StrAppend(&line, " player=", transition.player_id());
  }
  if (transition.has_remote()) {
    absl::StrAppend(&line, " remote=", transition.remote().gateway_id(), "/",
                    transition.remote().connection_id());
  }
  absl::StrAppend(&line, " seq=", transition.sequence());
  return line;
}

std::string FormatWatchEvent(const ops::v1::WatchSessionsResponse& event) {
  switch (event.event_case()) {
    case ops::v1::WatchSessionsResponse::kSnapshot: {
      const Session& session = event.snapshot();
      return absl::StrCat("snapshot  ", session.session_id(), "  ",
                          StateName(session.state()),
                          "  player=", OrDash(session.player_id()));
    }
    case ops::v1::WatchSessionsResponse::kTransition:
      return FormatTransition(event.transition());
    case ops::v1::WatchSessionsResponse::kLost:
      return absl::StrCat("lost  ", event.lost(),
                          " transitions (this watcher read too slowly)");
    case ops::v1::WatchSessionsResponse::kSnapshotDone:
      return "snapshot done";
    case ops::v1::WatchSessionsResponse::EVENT_NOT_SET:
      break;
  }
  return "(empty event)";
}

std::string FormatServerInfo(const ops::v1::ServerInfo& info, absl::Time now) {
  // Every known state, in lifecycle order, then anything else reported.
  std::map<std::string, int64_t> by_state(info.sessions_by_state().begin(),
                                          info.sessions_by_state().end());
  std::vector<std::string> counts;
  for (int state = ops::v1::SESSION_STATE_CONNECTING;
       state <= ops::v1::SESSION_STATE_CLOSED; ++state) {
    const std::string name =
        StateName(static_cast<ops::v1::SessionState>(state));
    auto found = by_state.find(name);
    if (found == by_state.end()) continue;
    counts.push_back(absl::StrCat(name, "=", found->second));
    by_state.erase(found);
  }
  for (const auto& [name, count] : by_state) {
    counts.push_back(absl::StrCat(name, "=", count));
  }
  std::vector<std::vector<std::string>> rows = {
      {"instance:", OrDash(info.instance_id())},
      {"version:", OrDash(info.version())},
      {"started:",
       info.has_started_at()
           ? absl::StrCat(FormatTimestamp(info.started_at()), " (up ",
                          FormatAge(now - ToTime(info.started_at())), ")")
           : "-"},
      {"draining:", info.draining() ? "yes" : "no"},
      {"gateways:", absl::StrCat(info.gateways_attached())},
      {"sessions:", counts.empty() ? "none" : absl::StrJoin(counts, " ")},
  };
  return RenderTable(rows);
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message,
                                   bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print JSON: ", status.ToString()));
  }
  // add_whitespace ends the document with a newline; callers add their own.
  while (!json.empty() && json.back() == '\n') json.pop_back();
  return json;
}

std::string FormatCallError(const grpc::Status& status,
                            absl::string_view subject, absl::string_view target,
                            absl::Duration deadline) {
  const grpc::StatusCode code = status.error_code();
  std::string what;
  switch (code) {
    case grpc::StatusCode::NOT_FOUND:
      what = subject.empty() ? status.error_message()
                             : absl::StrCat(subject, " not found");
      break;
    case grpc::StatusCode::UNAVAILABLE:
      what =
          absl::StrCat("cannot reach ", target, ": ", status.error_message());
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      what = absl::StrCat(target, " did not answer within ",
                          absl::FormatDuration(deadline));
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
      what = absl::StrCat("not authenticated: ", status.error_message(),
                          "; give a token with --token_file, --token or "
                          "GSS_OPS_TOKEN");
      break;
    case grpc::StatusCode::PERMISSION_DENIED:
      what = absl::StrCat("permission denied: ", status.error_message());
      break;
    default:
      what = status.error_message().empty() ? "the call failed"
                                            : status.error_message();
      break;
  }
  // One line, whatever the server put in its message.
  for (char& c : what) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return absl::StrCat("sessionctl: ", what, " (", StatusCodeName(code), ")");
}

std::string DescribeKey(const ops::v1::GetSessionRequest& request) {
  switch (request.key_case()) {
    case ops::v1::GetSessionRequest::kSessionId:
      return absl::StrCat("session ", request.session_id());
    case ops::v1::GetSessionRequest::kPlayerId:
      return absl::StrCat("session of player ", request.player_id());
    case ops::v1::GetSessionRequest::kRemote:
      return absl::StrCat("session on gateway ", request.remote().gateway_id(),
                          " connection ", request.remote().connection_id());
    case ops::v1::GetSessionRequest::KEY_NOT_SET:
      break;
  }
  return "session";
}

}  // namespace gss::sessionctl
