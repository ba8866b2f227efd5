#include "session_service/ops_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gss/ops/v1/ops.pb.h"

namespace gss {
namespace {

constexpr absl::string_view kBearerPrefix = "bearer ";

std::array<uint8_t, 32> Digest(absl::string_view token) {
  std::array<uint8_t, 32> digest{};
  unsigned int length = 0;
  EVP_Digest(token.data(), token.size(), digest.data(), &length, EVP_sha256(),
             nullptr);
  return digest;
}

bool IsPrincipalChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == '@' || c == '-';
}

// Printable ASCII without the space: what the file's third field can hold.
bool IsTokenChar(char c) { return c > ' ' && c < 0x7f; }

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ops tokens file ", path));
  }
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

absl::StatusOr<OpsTokenTable> ParseFile(const std::string& path,
                                        const std::string& contents) {
  absl::StatusOr<OpsTokenTable> table = OpsTokenTable::Parse(contents);
  if (!table.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ops tokens file ", path, ": ", table.status().message()));
  }
  return table;
}

// Whether `method_path` names a method of gss.ops.v1.SessionInspection, as
// its descriptor declares them (not only as the table lists them).
bool IsOpsServiceMethod(absl::string_view method_path) {
  const google::protobuf::ServiceDescriptor* service =
      ops::v1::GetSessionRequest::descriptor()->file()->FindServiceByName(
          "SessionInspection");
  if (service == nullptr) return false;
  const std::string prefix = absl::StrCat("/", service->full_name(), "/");
  if (!absl::ConsumePrefix(&method_path, prefix)) return false;
  return service->FindMethodByName(std::string(method_path)) != nullptr;
}

}  // namespace

absl::string_view OpsRoleName(OpsRole role) {
  switch (role) {
    case OpsRole::kReader:
      return "reader";
    case OpsRole::kAdmin:
      return "admin";
  }
  return "unknown";
}

OpsAccess RequiredAccess(absl::string_view method_path) {
  // Health stays open for probes (Kubernetes sends no credentials); looking
  // is for readers; everything else the ops service declares, EvictSession
  // included, is for admins.
  static constexpr std::pair<absl::string_view, OpsAccess> kTable[] = {
      {"/grpc.health.v1.Health/Check", OpsAccess::kOpen},
      {"/grpc.health.v1.Health/Watch", OpsAccess::kOpen},
      {"/gss.ops.v1.SessionInspection/GetSession", OpsAccess::kReader},
      {"/gss.ops.v1.SessionInspection/ListSessions", OpsAccess::kReader},
      {"/gss.ops.v1.SessionInspection/WatchSessions", OpsAccess::kReader},
      {"/gss.ops.v1.SessionInspection/GetServerInfo", OpsAccess::kReader},
      {"/gss.ops.v1.SessionInspection/EvictSession", OpsAccess::kAdmin},
      {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
       OpsAccess::kReader},
  };
  for (const auto& [path, access] : kTable) {
    if (path == method_path) return access;
  }
  return IsOpsServiceMethod(method_path) ? OpsAccess::kAdmin
                                         : OpsAccess::kNotServed;
}

absl::StatusOr<OpsTokenTable> OpsTokenTable::Parse(absl::string_view text) {
  OpsTokenTable table;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    const auto error = [line_number](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": ", what));
    };
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 3) {
      return error(absl::StrCat("expected \"<role> <principal> <token>\", got ",
                                fields.size(), " fields"));
    }
    Entry entry;
    if (fields[0] == "reader") {
      entry.principal.role = OpsRole::kReader;
    } else if (fields[0] == "admin") {
      entry.principal.role = OpsRole::kAdmin;
    } else {
      return error(absl::StrCat("unknown role \"", absl::CHexEscape(fields[0]),
                                "\" (reader or admin)"));
    }
    const absl::string_view name = fields[1];
    if (name.size() > kMaxOpsPrincipalBytes ||
        !std::all_of(name.begin(), name.end(), IsPrincipalChar)) {
      return error(absl::StrCat("principal \"", absl::CHexEscape(name),
                                "\" must be 1 to ", kMaxOpsPrincipalBytes,
                                " of A-Z a-z 0-9 . _ @ -"));
    }
    entry.principal.name = std::string(name);
    // The token itself never appears in a message.
    const absl::string_view token = fields[2];
    if (token.size() < kMinOpsTokenBytes || token.size() > kMaxOpsTokenBytes) {
      return error(absl::StrCat("the token of \"", name, "\" has ",
                                token.size(), " characters; use ",
                                kMinOpsTokenBytes, " to ", kMaxOpsTokenBytes,
                                " (e.g. openssl rand -hex 32)"));
    }
    if (!std::all_of(token.begin(), token.end(), IsTokenChar)) {
      return error(
          absl::StrCat("the token of \"", name, "\" must be printable ASCII"));
    }
    entry.digest = Digest(token);
    for (const Entry& other : table.entries_) {
      if (other.digest == entry.digest) {
        return error(absl::StrCat("the token of \"", name,
                                  "\" is already given to \"",
                                  other.principal.name, "\""));
      }
    }
    table.entries_.push_back(std::move(entry));
  }
  if (table.entries_.empty()) {
    return absl::InvalidArgumentError(
        "no tokens: add lines \"<role> <principal> <token>\"");
  }
  return table;
}

absl::StatusOr<OpsTokenTable> OpsTokenTable::FromFile(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) return contents.status();
  return ParseFile(path, *contents);
}

std::optional<OpsPrincipal> OpsTokenTable::Find(absl::string_view token) const {
  const std::array<uint8_t, 32> digest = Digest(token);
  // Every entry is compared, whatever matched, so the time does not tell
  // where (or whether) the token is in the table.
  const Entry* found = nullptr;
  for (const Entry& entry : entries_) {
    const bool equal =
        CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0;
    if (equal) found = &entry;
  }
  if (found == nullptr) return std::nullopt;
  return found->principal;
}

size_t OpsTokenTable::admins() const {
  size_t count = 0;
  for (const Entry& entry : entries_) {
    if (entry.principal.role == OpsRole::kAdmin) ++count;
  }
  return count;
}

std::shared_ptr<OpsAuthorizer> OpsAuthorizer::AllowAll() {
  return std::shared_ptr<OpsAuthorizer>(new OpsAuthorizer(std::nullopt));
}

std::shared_ptr<OpsAuthorizer> OpsAuthorizer::WithTokens(OpsTokenTable tokens) {
  return std::shared_ptr<OpsAuthorizer>(new OpsAuthorizer(std::move(tokens)));
}

OpsAuthorizer::OpsAuthorizer(std::optional<OpsTokenTable> tokens)
    : checks_tokens_(tokens.has_value()) {
  if (tokens) {
    tokens_ = std::make_shared<const OpsTokenTable>(*std::move(tokens));
  }
}

void OpsAuthorizer::ReplaceTokens(OpsTokenTable tokens) {
  auto table = std::make_shared<const OpsTokenTable>(std::move(tokens));
  absl::MutexLock lock(&mu_);
  tokens_ = std::move(table);
}

size_t OpsAuthorizer::token_count() const {
  absl::MutexLock lock(&mu_);
  return tokens_ ? tokens_->size() : 0;
}

OpsAuthDecision OpsAuthorizer::Identify(
    const std::vector<absl::string_view>& authorization,
    absl::string_view cert_subject) const {
  OpsAuthDecision decision;
  if (!checks_tokens_) {
    decision.principal =
        cert_subject.empty() ? "anonymous" : std::string(cert_subject);
    return decision;
  }
  if (authorization.empty()) {
    decision.status = absl::UnauthenticatedError(
        "no credentials: send the metadata \"authorization: Bearer <token>\"");
    return decision;
  }
  if (authorization.size() > 1) {
    decision.status = absl::UnauthenticatedError(
        "more than one authorization metadata value");
    return decision;
  }
  absl::string_view value = absl::StripAsciiWhitespace(authorization.front());
  // The scheme is case-insensitive (RFC 7235).
  if (value.size() <= kBearerPrefix.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kBearerPrefix.size()),
                              kBearerPrefix)) {
    decision.status = absl::UnauthenticatedError(
        "the authorization metadata must be \"Bearer <token>\"");
    return decision;
  }
  value.remove_prefix(kBearerPrefix.size());
  value = absl::StripLeadingAsciiWhitespace(value);
  std::shared_ptr<const OpsTokenTable> tokens;
  {
    absl::MutexLock lock(&mu_);
    tokens = tokens_;
  }
  const std::optional<OpsPrincipal> principal = tokens->Find(value);
  if (!principal) {
    decision.status = absl::UnauthenticatedError("unknown ops token");
    return decision;
  }
  decision.principal = principal->name;
  decision.role = principal->role;
  return decision;
}

OpsAuthDecision OpsAuthorizer::Check(
    absl::string_view method_path,
    const std::vector<absl::string_view>& authorization,
    absl::string_view cert_subject) const {
  const OpsAccess access = RequiredAccess(method_path);
  if (access == OpsAccess::kOpen) {
    OpsAuthDecision open;
    open.principal =
        cert_subject.empty() ? "anonymous" : std::string(cert_subject);
    return open;
  }
  OpsAuthDecision decision = Identify(authorization, cert_subject);
  if (!decision.status.ok() || !decision.role) return decision;
  if (access == OpsAccess::kAdmin && *decision.role != OpsRole::kAdmin) {
    absl::string_view method = method_path;
    absl::ConsumePrefix(&method, "/");
    OpsAuthDecision denied;
    denied.status = absl::PermissionDeniedError(absl::StrCat(
        "\"", decision.principal, "\" has the ", OpsRoleName(*decision.role),
        " role; ", method, " needs admin"));
    return denied;
  }
  return decision;
}

absl::StatusOr<std::unique_ptr<OpsTokensFile>> OpsTokensFile::Load(
    std::string path) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) return contents.status();
  absl::StatusOr<OpsTokenTable> table = ParseFile(path, *contents);
  if (!table.ok()) return table.status();
  return std::unique_ptr<OpsTokensFile>(
      new OpsTokensFile(std::move(path), Digest(*contents),
                        OpsAuthorizer::WithTokens(*std::move(table))));
}

absl::StatusOr<bool> OpsTokensFile::Reload() {
  absl::StatusOr<std::string> contents = ReadFile(path_);
  if (!contents.ok()) return contents.status();
  const std::array<uint8_t, 32> digest = Digest(*contents);
  if (digest == digest_ || digest == rejected_) return false;
  absl::StatusOr<OpsTokenTable> table = ParseFile(path_, *contents);
  if (!table.ok()) {
    rejected_ = digest;
    return table.status();
  }
  authorizer_->ReplaceTokens(*std::move(table));
  digest_ = digest;
  return true;
}

}  // namespace gss
