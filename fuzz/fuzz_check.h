// Invariant checks for the fuzz targets: a failed check prints what broke and
// aborts, which libFuzzer and the corpus driver both report as a crash.
#ifndef FUZZ_FUZZ_CHECK_H_
#define FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

// Unlike assert(), stays on in optimised builds: the release tree runs the
// corpus too.
#define FUZZ_CHECK(condition)                                         \
  do {                                                                \
    if (!(condition)) {                                               \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
                   __LINE__, #condition);                             \
      std::abort();                                                   \
    }                                                                 \
  } while (false)

#endif  // FUZZ_FUZZ_CHECK_H_
