#include "session_service/test_certs.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

namespace gss::testing {
namespace {

struct Deleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  void operator()(X509* cert) const { X509_free(cert); }
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter>;
using Cert = std::unique_ptr<X509, Deleter>;
using Bio = std::unique_ptr<BIO, Deleter>;

std::atomic<long> next_serial{1};

absl::Status Fail(absl::string_view what) {
  return absl::InternalError(absl::StrCat("test certificate: ", what));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::StatusOr<std::string> ToPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(bio.get(), cert) != 1) return Fail("PEM of cert");
  return BioText(bio.get());
}

absl::StatusOr<std::string> ToPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                               nullptr) != 1) {
    return Fail("PEM of key");
  }
  return BioText(bio.get());
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid,
                          const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension =
      X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr) return Fail(absl::StrCat("extension ", value));
  const int added = X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
  return added == 1 ? absl::OkStatus() : Fail("add extension");
}

// A certificate for `key` named `common_name`, signed by `issuer_key`;
// `issuer` null makes it self-signed.
absl::StatusOr<Cert> MakeCert(const std::string& common_name, EVP_PKEY* key,
                              X509* issuer, EVP_PKEY* issuer_key, bool ca) {
  Cert cert(X509_new());
  if (cert == nullptr) return Fail("X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), next_serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("gss-test"),
                             -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  const std::pair<int, const char*> extensions_ca[] = {
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_key_usage, "critical,keyCertSign,cRLSign"},
      {NID_subject_key_identifier, "hash"},
  };
  const std::pair<int, const char*> extensions_leaf[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
      {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
      {NID_authority_key_identifier, "keyid"},
  };
  for (const auto& [nid, value] : ca ? absl::MakeConstSpan(extensions_ca)
                                     : absl::MakeConstSpan(extensions_leaf)) {
    if (absl::Status status = AddExtension(cert.get(), signer, nid, value);
        !status.ok()) {
      return status;
    }
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) {
    return Fail("X509_sign");
  }
  return cert;
}

absl::StatusOr<CertAndKey> Pems(X509* cert, EVP_PKEY* key) {
  absl::StatusOr<std::string> cert_pem = ToPem(cert);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ToPem(key);
  if (!key_pem.ok()) return key_pem.status();
  return CertAndKey{*std::move(cert_pem), *std::move(key_pem)};
}

}  // namespace

absl::StatusOr<TestCa> TestCa::Create(const std::string& common_name) {
  Key key(EVP_EC_gen("P-256"));
  if (key == nullptr) return Fail("EC key");
  absl::StatusOr<Cert> cert =
      MakeCert(common_name, key.get(), nullptr, key.get(), /*ca=*/true);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<CertAndKey> pems = Pems(cert->get(), key.get());
  if (!pems.ok()) return pems.status();
  return TestCa(*std::move(pems));
}

absl::StatusOr<CertAndKey> TestCa::Issue(const std::string& common_name) const {
  Bio ca_cert_bio(BIO_new_mem_buf(ca_.cert_pem.data(),
                                  static_cast<int>(ca_.cert_pem.size())));
  Cert ca_cert(PEM_read_bio_X509(ca_cert_bio.get(), nullptr, nullptr, nullptr));
  Bio ca_key_bio(BIO_new_mem_buf(ca_.key_pem.data(),
                                 static_cast<int>(ca_.key_pem.size())));
  Key ca_key(
      PEM_read_bio_PrivateKey(ca_key_bio.get(), nullptr, nullptr, nullptr));
  if (ca_cert == nullptr || ca_key == nullptr) return Fail("read CA");
  Key key(EVP_EC_gen("P-256"));
  if (key == nullptr) return Fail("EC key");
  absl::StatusOr<Cert> cert = MakeCert(common_name, key.get(), ca_cert.get(),
                                       ca_key.get(), /*ca=*/false);
  if (!cert.ok()) return cert.status();
  return Pems(cert->get(), key.get());
}

absl::Status WriteTestFile(const std::string& path,
                           const std::string& contents) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << contents;
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace gss::testing
