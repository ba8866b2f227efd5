#include "session_service/ops_credentials.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/grpc_security_constants.h>
#include <grpc/slice.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace gss {
namespace {

struct TlsPem {
  std::string cert_chain;
  std::string private_key;
  std::string client_ca;  // Empty: no client certificates asked for.
};

absl::StatusOr<std::string> ReadPemFile(const std::string& flag,
                                        const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path));
  }
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioDeleter> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioDeleter>(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::unique_ptr<X509, X509Deleter> FirstCertificate(const std::string& pem) {
  auto bio = MemoryBio(pem);
  return std::unique_ptr<X509, X509Deleter>(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// Reads and checks the files, so that a wrong one stops the start with a
// reason instead of a listener that fails every handshake.
absl::StatusOr<TlsPem> LoadTls(const OpsTlsOptions& tls) {
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "ops_tls_cert_file and ops_tls_key_file go together");
  }
  if (!tls.client_ca_file.empty() && tls.cert_file.empty()) {
    return absl::InvalidArgumentError(
        "ops_tls_client_ca_file needs ops_tls_cert_file and "
        "ops_tls_key_file (mTLS is TLS that also checks the client)");
  }
  TlsPem pem;
  absl::StatusOr<std::string> cert =
      ReadPemFile("ops_tls_cert_file", tls.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key =
      ReadPemFile("ops_tls_key_file", tls.key_file);
  if (!key.ok()) return key.status();
  ERR_clear_error();
  std::unique_ptr<X509, X509Deleter> leaf = FirstCertificate(*cert);
  if (leaf == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ops_tls_cert_file: no PEM certificate in ", tls.cert_file));
  }
  auto key_bio = MemoryBio(*key);
  std::unique_ptr<EVP_PKEY, KeyDeleter> private_key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (private_key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "ops_tls_key_file: no unencrypted PEM private key in ", tls.key_file));
  }
  if (X509_check_private_key(leaf.get(), private_key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("ops_tls_key_file: ", tls.key_file,
                     " is not the key of the certificate in ", tls.cert_file));
  }
  pem.cert_chain = *std::move(cert);
  pem.private_key = *std::move(key);
  if (!tls.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca =
        ReadPemFile("ops_tls_client_ca_file", tls.client_ca_file);
    if (!ca.ok()) return ca.status();
    if (FirstCertificate(*ca) == nullptr) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat("ops_tls_client_ca_file: no PEM certificate in ",
                       tls.client_ca_file));
    }
    pem.client_ca = *std::move(ca);
  }
  return pem;
}

absl::string_view View(const grpc_slice& slice) {
  return absl::string_view(
      reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slice)),
      GRPC_SLICE_LENGTH(slice));
}

std::string FirstProperty(const grpc_auth_context* context, const char* name) {
  grpc_auth_property_iterator it =
      grpc_auth_context_find_properties_by_name(context, name);
  const grpc_auth_property* property = grpc_auth_property_iterator_next(&it);
  if (property == nullptr) return "";
  return std::string(property->value, property->value_length);
}

struct ProcessorState {
  std::shared_ptr<const OpsAuthorizer> authorizer;
  AuditLog audit;
};

// Runs inside gRPC for every call on the ops listener, before the call
// reaches any service; the check is quick, so it answers at once.
void ProcessMetadata(void* state_ptr, grpc_auth_context* context,
                     const grpc_metadata* metadata, size_t count,
                     grpc_process_auth_metadata_done_cb done, void* user_data) {
  const auto& state = *static_cast<const ProcessorState*>(state_ptr);
  absl::string_view path;
  std::vector<absl::string_view> authorization;
  for (size_t i = 0; i < count; ++i) {
    const absl::string_view key = View(metadata[i].key);
    if (key == ":path") {
      path = View(metadata[i].value);
    } else if (key == "authorization") {
      authorization.push_back(View(metadata[i].value));
    }
  }
  const std::string cert_subject =
      FirstProperty(context, GRPC_X509_SUBJECT_PROPERTY_NAME);
  const OpsAuthDecision decision =
      state.authorizer->Check(path, authorization, cert_subject);
  if (!decision.status.ok()) {
    if (absl::IsPermissionDenied(decision.status) && state.audit) {
      state.audit(absl::StrFormat("audit: denied method=%s reason=\"%s\"",
                                  absl::CHexEscape(path),
                                  absl::CHexEscape(decision.status.message())));
    }
    const std::string message(decision.status.message());
    done(user_data, nullptr, 0, nullptr, 0,
         static_cast<grpc_status_code>(decision.status.code()),
         message.c_str());
    return;
  }
  // Nothing is added to `context`: it is the connection's, not the call's.
  // The token stays in the metadata, for IdentifyOpsCaller.
  done(user_data, nullptr, 0, nullptr, 0, GRPC_STATUS_OK, nullptr);
}

void DestroyState(void* state) { delete static_cast<ProcessorState*>(state); }

class OpsServerCredentials final : public grpc::ServerCredentials {
 public:
  OpsServerCredentials(std::shared_ptr<const OpsAuthorizer> authorizer,
                       std::optional<TlsPem> tls, AuditLog audit)
      : authorizer_(std::move(authorizer)),
        tls_(std::move(tls)),
        audit_(std::move(audit)) {}

  // The ops check is this class's own processor; another one would replace
  // the method-to-role table, so it is refused.
  void SetAuthMetadataProcessor(
      const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {
    std::fprintf(
        stderr, "ops credentials: SetAuthMetadataProcessor is not supported\n");
    std::abort();
  }

 private:
  int AddPortToServer(const std::string& address,
                      grpc_server* server) override {
    grpc_server_credentials* credentials = nullptr;
    if (tls_) {
      grpc_ssl_pem_key_cert_pair pair = {tls_->private_key.c_str(),
                                         tls_->cert_chain.c_str()};
      credentials = grpc_ssl_server_credentials_create_ex(
          tls_->client_ca.empty() ? nullptr : tls_->client_ca.c_str(), &pair, 1,
          tls_->client_ca.empty()
              ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
              : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY,
          nullptr);
    } else {
      credentials = grpc_insecure_server_credentials_create();
    }
    if (credentials == nullptr) return 0;
    // The credentials own the state and destroy it with themselves (the
    // listener holds them while it lives).
    grpc_auth_metadata_processor processor;
    processor.process = &ProcessMetadata;
    processor.destroy = &DestroyState;
    processor.state = new ProcessorState{authorizer_, audit_};
    grpc_server_credentials_set_auth_metadata_processor(credentials, processor);
    const int port =
        grpc_server_add_http2_port(server, address.c_str(), credentials);
    grpc_server_credentials_release(credentials);
    return port;
  }

  const std::shared_ptr<const OpsAuthorizer> authorizer_;
  const std::optional<TlsPem> tls_;
  const AuditLog audit_;
};

}  // namespace

AuditLog StderrAuditLog() {
  return [](absl::string_view line) { absl::FPrintF(stderr, "%s\n", line); };
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
MakeOpsServerCredentials(std::shared_ptr<const OpsAuthorizer> authorizer,
                         const OpsTlsOptions& tls, AuditLog audit) {
  if (authorizer == nullptr) {
    return absl::InvalidArgumentError("the ops listener needs an authorizer");
  }
  std::optional<TlsPem> pem;
  if (tls.enabled() || !tls.client_ca_file.empty()) {
    absl::StatusOr<TlsPem> loaded = LoadTls(tls);
    if (!loaded.ok()) return loaded.status();
    pem = *std::move(loaded);
  }
  return std::make_shared<OpsServerCredentials>(
      std::move(authorizer), std::move(pem), std::move(audit));
}

std::string PeerAddressFromGrpc(absl::string_view grpc_peer) {
  for (absl::string_view scheme : {"ipv4:", "ipv6:"}) {
    if (absl::ConsumePrefix(&grpc_peer, scheme)) break;
  }
  return std::string(grpc_peer);
}

OpsCaller IdentifyOpsCaller(const grpc::ServerContext& context,
                            const OpsAuthorizer& authorizer) {
  OpsCaller caller;
  caller.address = PeerAddressFromGrpc(context.peer());
  if (const std::shared_ptr<const grpc::AuthContext> auth =
          context.auth_context();
      auth != nullptr) {
    const std::vector<grpc::string_ref> subjects =
        auth->FindPropertyValues(GRPC_X509_SUBJECT_PROPERTY_NAME);
    if (!subjects.empty()) {
      caller.cert_subject.assign(subjects.front().data(),
                                 subjects.front().size());
    }
  }
  std::vector<absl::string_view> authorization;
  const auto [begin, end] =
      context.client_metadata().equal_range(grpc::string_ref("authorization"));
  for (auto it = begin; it != end; ++it) {
    authorization.emplace_back(it->second.data(), it->second.size());
  }
  const OpsAuthDecision decision =
      authorizer.Identify(authorization, caller.cert_subject);
  caller.principal = decision.status.ok() ? decision.principal : "unidentified";
  if (decision.role) caller.role = std::string(OpsRoleName(*decision.role));
  return caller;
}

}  // namespace gss
