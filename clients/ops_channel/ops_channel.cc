#include "clients/ops_channel/ops_channel.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/create_channel.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace gss {
namespace {

absl::StatusOr<std::string> ReadWholeFile(absl::string_view what,
                                          const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", what, " ", path));
  }
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

}  // namespace

absl::StatusOr<std::string> ReadOpsTokenFile(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadWholeFile("token file", path);
  if (!contents.ok()) return contents.status();
  const absl::string_view token = absl::StripAsciiWhitespace(*contents);
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file ", path, " is empty"));
  }
  if (token.find_first_of("\r\n") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token file ", path, " has more than one line; it holds one token"));
  }
  return std::string(token);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> OpsChannelCredentials(
    const OpsClientOptions& options) {
  if (!options.tls()) return grpc::InsecureChannelCredentials();
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs both --tls_cert_file and --tls_key_file");
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.tls_ca_file.empty()) {
    absl::StatusOr<std::string> ca =
        ReadWholeFile("TLS CA file", options.tls_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert =
        ReadWholeFile("TLS certificate file", options.tls_cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key =
        ReadWholeFile("TLS key file", options.tls_key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateOpsChannel(
    const std::string& target, const OpsClientOptions& options,
    grpc::ChannelArguments arguments) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      OpsChannelCredentials(options);
  if (!credentials.ok()) return credentials.status();
  if (!options.tls_server_name.empty()) {
    arguments.SetSslTargetNameOverride(options.tls_server_name);
  }
  return grpc::CreateCustomChannel(target, *credentials, arguments);
}

void AddOpsToken(grpc::ClientContext& context, absl::string_view token) {
  if (token.empty()) return;
  context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
}

}  // namespace gss
