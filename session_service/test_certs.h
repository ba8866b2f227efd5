// Throwaway X.509 material for tests of TLS and mTLS: a CA made at test time
// and certificates it signs (P-256 keys, valid for a day, PEM strings).
#ifndef SESSION_SERVICE_TEST_CERTS_H_
#define SESSION_SERVICE_TEST_CERTS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gss::testing {

struct CertAndKey {
  std::string cert_pem;
  std::string key_pem;
};

class TestCa {
 public:
  // A new self-signed CA whose subject is "CN=<common_name>,O=gss-test".
  static absl::StatusOr<TestCa> Create(const std::string& common_name);

  const std::string& cert_pem() const { return ca_.cert_pem; }

  // A certificate for both server and client use with the subject
  // "CN=<common_name>,O=gss-test" and the names localhost and 127.0.0.1.
  absl::StatusOr<CertAndKey> Issue(const std::string& common_name) const;

 private:
  explicit TestCa(CertAndKey ca) : ca_(std::move(ca)) {}
  CertAndKey ca_;
};

// Writes `contents` to `path` (replacing it).
absl::Status WriteTestFile(const std::string& path,
                           const std::string& contents);

}  // namespace gss::testing

#endif  // SESSION_SERVICE_TEST_CERTS_H_
