// GoogleTest assertions for absl::Status and absl::StatusOr (Abseil
// 20220623 ships no status matchers), shared by the end-to-end tests.
#ifndef TESTS_SUPPORT_TEST_MACROS_H_
#define TESTS_SUPPORT_TEST_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace gss::testing {

inline const absl::Status& ToStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& ToStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace gss::testing

#define GSS_TEST_CONCAT_INNER(a, b) a##b
#define GSS_TEST_CONCAT(a, b) GSS_TEST_CONCAT_INNER(a, b)

#define ASSERT_OK(expr)                                              \
  do {                                                               \
    const absl::Status gss_status_ = ::gss::testing::ToStatus(expr); \
    ASSERT_TRUE(gss_status_.ok()) << #expr << ": " << gss_status_;   \
  } while (false)

#define EXPECT_OK(expr)                                              \
  do {                                                               \
    const absl::Status gss_status_ = ::gss::testing::ToStatus(expr); \
    EXPECT_TRUE(gss_status_.ok()) << #expr << ": " << gss_status_;   \
  } while (false)

// ASSERT_OK_AND_ASSIGN(auto x, Foo()): fails the test on an error status.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr)                                   \
  GSS_ASSERT_OK_AND_ASSIGN_IMPL(GSS_TEST_CONCAT(gss_status_or_, __LINE__), \
                                lhs, rexpr)
#define GSS_ASSERT_OK_AND_ASSIGN_IMPL(var, lhs, rexpr)     \
  auto var = (rexpr);                                      \
  ASSERT_TRUE(var.ok()) << #rexpr << ": " << var.status(); \
  lhs = *std::move(var)

#endif  // TESTS_SUPPORT_TEST_MACROS_H_
