// Who may call what on the ops gRPC server: the tokens file (principals, their
// roles and bearer tokens), the method-to-role table, and the decision for one
// call. No gRPC here; ops_credentials.h runs the decision on every call.
#ifndef SESSION_SERVICE_OPS_AUTH_H_
#define SESSION_SERVICE_OPS_AUTH_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace gss {

// A reader may look (get, list, watch, server info, reflection); an admin may
// also change things (evict, and any ops method not in the table).
enum class OpsRole { kReader, kAdmin };
absl::string_view OpsRoleName(OpsRole role);

// What a method needs. kOpen is for probes (health), which carry no
// credentials. kNotServed is a method the ops server does not have: any
// authenticated caller passes, so that gRPC answers UNIMPLEMENTED (a
// reflection client that asks for grpc.reflection.v1 first falls back to
// v1alpha on UNIMPLEMENTED, not on PERMISSION_DENIED).
enum class OpsAccess { kOpen, kReader, kAdmin, kNotServed };

// The method-to-role table, keyed by the HTTP/2 path
// ("/gss.ops.v1.SessionInspection/GetSession"). A method that the ops
// service declares but the table does not name needs kAdmin, so a method
// added later is closed until it is listed; a path the server does not serve
// at all is kNotServed.
OpsAccess RequiredAccess(absl::string_view method_path);

// Tokens shorter than this are refused when the file is read: a bearer token
// is the whole secret, so it must not be guessable.
inline constexpr size_t kMinOpsTokenBytes = 24;
inline constexpr size_t kMaxOpsTokenBytes = 512;
inline constexpr size_t kMaxOpsPrincipalBytes = 64;

struct OpsPrincipal {
  std::string name;
  OpsRole role = OpsRole::kReader;
};

// The parsed tokens file. Only a SHA-256 digest of each token is kept, and a
// lookup compares the presented token's digest with every entry in constant
// time, so neither memory nor timing gives a token away.
//
// File format, one token per line:
//   <role> <principal> <token>
// role: `reader` or `admin`; principal: 1 to 64 of [A-Za-z0-9._@-] (it names
// the caller in the audit log); token: 24 to 512 printable ASCII characters
// without spaces. Blank lines and lines starting with `#` are ignored. A
// principal may have several tokens (to rotate them); a token may appear once.
class OpsTokenTable {
 public:
  static absl::StatusOr<OpsTokenTable> Parse(absl::string_view text);
  // Parse() of the file's contents; errors name the file.
  static absl::StatusOr<OpsTokenTable> FromFile(const std::string& path);

  // The principal holding `token`, or nullopt.
  std::optional<OpsPrincipal> Find(absl::string_view token) const;
  size_t size() const { return entries_.size(); }
  size_t admins() const;

 private:
  struct Entry {
    std::array<uint8_t, 32> digest;
    OpsPrincipal principal;
  };
  OpsTokenTable() = default;
  std::vector<Entry> entries_;
};

// The outcome of one call's check: OK, UNAUTHENTICATED (no or unknown
// credentials) or PERMISSION_DENIED (known, but the role is too weak); the
// codes are gRPC's.
struct OpsAuthDecision {
  absl::Status status;
  std::string principal;        // Who, for the audit log (set when allowed).
  std::optional<OpsRole> role;  // Unset for open methods and --ops_auth=none.
};

// Decides every call of the ops server. Thread-safe; the tokens can be
// replaced while calls run (token rotation).
class OpsAuthorizer {
 public:
  // Every call allowed: --ops_auth=none. The principal is the client
  // certificate's subject when there is one, else "anonymous".
  static std::shared_ptr<OpsAuthorizer> AllowAll();
  static std::shared_ptr<OpsAuthorizer> WithTokens(OpsTokenTable tokens);

  bool checks_tokens() const { return checks_tokens_; }

  // `authorization` holds the values of the call's `authorization` metadata
  // (`Bearer <token>`); `cert_subject` is the verified client certificate's
  // subject, empty without mTLS.
  OpsAuthDecision Check(absl::string_view method_path,
                        const std::vector<absl::string_view>& authorization,
                        absl::string_view cert_subject) const;

  // Who the credentials name, whatever the method: the token's principal
  // and role (UNAUTHENTICATED when missing or unknown), or without tokens
  // the certificate's subject or "anonymous". Check() uses it; handlers use
  // it to name their caller.
  OpsAuthDecision Identify(const std::vector<absl::string_view>& authorization,
                           absl::string_view cert_subject) const;

  // Takes a new tokens table; calls already allowed are not affected.
  void ReplaceTokens(OpsTokenTable tokens);
  size_t token_count() const;

 private:
  explicit OpsAuthorizer(std::optional<OpsTokenTable> tokens);

  const bool checks_tokens_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const OpsTokenTable> tokens_ ABSL_GUARDED_BY(mu_);
};

// The tokens file behind an authorizer: read at start, read again to rotate
// tokens without a restart (on SIGHUP, and when its contents change).
class OpsTokensFile {
 public:
  static absl::StatusOr<std::unique_ptr<OpsTokensFile>> Load(std::string path);

  const std::string& path() const { return path_; }
  const std::shared_ptr<OpsAuthorizer>& authorizer() const {
    return authorizer_;
  }

  // Reads the file again. Unchanged: false. Changed and valid: the
  // authorizer takes the new tokens, true. Unreadable or invalid: the error
  // (once for the same invalid contents, false after that), and the tokens
  // stay as they were.
  absl::StatusOr<bool> Reload();

 private:
  OpsTokensFile(std::string path, std::array<uint8_t, 32> digest,
                std::shared_ptr<OpsAuthorizer> authorizer)
      : path_(std::move(path)),
        digest_(digest),
        authorizer_(std::move(authorizer)) {}

  const std::string path_;
  std::array<uint8_t, 32> digest_;  // Of the contents last taken.
  std::optional<std::array<uint8_t, 32>> rejected_;  // Last refused.
  const std::shared_ptr<OpsAuthorizer> authorizer_;
};

}  // namespace gss

#endif  // SESSION_SERVICE_OPS_AUTH_H_
