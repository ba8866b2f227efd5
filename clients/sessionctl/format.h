// sessionctl's output: tables and details for people, JSON for scripts, and
// one-line error messages; pure functions of the messages, so testable.
#ifndef CLIENTS_SESSIONCTL_FORMAT_H_
#define CLIENTS_SESSIONCTL_FORMAT_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "gss/ops/v1/ops.pb.h"

namespace gss::sessionctl {

// "active", "suspect", ... ("unspecified" for 0).
std::string StateName(ops::v1::SessionState state);

// A compact age: "850ms", "42s", "3m07s", "2h05m", "3d04h".
std::string FormatAge(absl::Duration age);

// One row per session with a header line; "(no sessions)" when empty.
// `now` makes ages deterministic.
std::string FormatSessionTable(
    const google::protobuf::RepeatedPtrField<ops::v1::Session>& sessions,
    absl::Time now);

// Every field of one session, one "key: value" line each.
std::string FormatSessionDetail(const ops::v1::Session& session,
                                absl::Time now);

// One line: time, session, from -> to, cause, and the rest that is set.
std::string FormatTransition(const ops::v1::Transition& transition);

// One line per watch event (snapshot entry, transition, lost, done).
std::string FormatWatchEvent(const ops::v1::WatchSessionsResponse& event);

std::string FormatServerInfo(const ops::v1::ServerInfo& info, absl::Time now);

// Protobuf's JSON mapping with proto field names and every field printed.
// `pretty` spreads the document over indented lines; otherwise one line.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message,
                                   bool pretty);

// What a failed call becomes on stderr, without the trailing newline:
// "sessionctl: session 00a1... not found (NOT_FOUND)". `subject` names what
// was looked up ("session 00a1...") and is used for NOT_FOUND; `target` and
// `deadline` explain UNAVAILABLE and DEADLINE_EXCEEDED.
std::string FormatCallError(const grpc::Status& status,
                            absl::string_view subject, absl::string_view target,
                            absl::Duration deadline);

// How the key of a GetSession request reads in a message.
std::string DescribeKey(const ops::v1::GetSessionRequest& request);

}  // namespace gss::sessionctl

#endif  // CLIENTS_SESSIONCTL_FORMAT_H_
