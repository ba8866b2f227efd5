// Reads Prometheus' text exposition format as the tests need it: every
// sample with its labels, the number of distinct series, and sums over a
// metric filtered by labels.
#ifndef TESTS_SUPPORT_PROMETHEUS_TEXT_H_
#define TESTS_SUPPORT_PROMETHEUS_TEXT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gss::testing {

struct PrometheusSample {
  std::string name;  // With any _bucket/_sum/_count suffix.
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the samples of a /metrics body; comment lines are skipped. A line
// that is not a sample is an error naming it.
absl::StatusOr<std::vector<PrometheusSample>> ParsePrometheusText(
    absl::string_view text);

// Samples whose name starts with `prefix` (e.g. "gss_"): each is one series.
int CountSeries(const std::vector<PrometheusSample>& samples,
                absl::string_view prefix);

// The sum of the samples named `name` whose labels include every pair of
// `labels`; 0 when none match.
double SumSamples(const std::vector<PrometheusSample>& samples,
                  absl::string_view name,
                  const std::map<std::string, std::string>& labels = {});

// GETs /metrics from 127.0.0.1:`port` and parses it.
absl::StatusOr<std::vector<PrometheusSample>> ScrapeMetrics(int port);

}  // namespace gss::testing

#endif  // TESTS_SUPPORT_PROMETHEUS_TEXT_H_
