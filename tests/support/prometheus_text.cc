#include "tests/support/prometheus_text.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/support/http_get.h"

namespace gss::testing {
namespace {

// Parses `{a="x",b="y"}` (quotes may hold escaped characters).
absl::Status ParseLabels(absl::string_view text,
                         std::map<std::string, std::string>& labels) {
  size_t i = 0;
  while (i < text.size()) {
    const size_t eq = text.find('=', i);
    if (eq == absl::string_view::npos || eq + 1 >= text.size() ||
        text[eq + 1] != '"') {
      return absl::InvalidArgumentError(absl::StrCat("bad labels: ", text));
    }
    std::string key(absl::StripAsciiWhitespace(text.substr(i, eq - i)));
    std::string value;
    size_t j = eq + 2;
    for (; j < text.size() && text[j] != '"'; ++j) {
      if (text[j] == '\\' && j + 1 < text.size()) ++j;
      value.push_back(text[j]);
    }
    if (j >= text.size()) {
      return absl::InvalidArgumentError(absl::StrCat("bad labels: ", text));
    }
    labels[std::move(key)] = std::move(value);
    i = j + 1;
    if (i < text.size() && text[i] == ',') ++i;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<PrometheusSample>> ParsePrometheusText(
    absl::string_view text) {
  std::vector<PrometheusSample> samples;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    PrometheusSample sample;
    absl::string_view rest;
    const size_t brace = line.find('{');
    const size_t space = line.find(' ');
    if (brace != absl::string_view::npos && brace < space) {
      const size_t close = line.rfind('}');
      if (close == absl::string_view::npos || close < brace) {
        return absl::InvalidArgumentError(absl::StrCat("bad sample: ", line));
      }
      sample.name = std::string(line.substr(0, brace));
      absl::Status labels =
          ParseLabels(line.substr(brace + 1, close - brace - 1), sample.labels);
      if (!labels.ok()) return labels;
      rest = line.substr(close + 1);
    } else if (space != absl::string_view::npos) {
      sample.name = std::string(line.substr(0, space));
      rest = line.substr(space);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("bad sample: ", line));
    }
    // The value, then an optional timestamp.
    std::vector<absl::string_view> fields =
        absl::StrSplit(absl::StripAsciiWhitespace(rest), ' ');
    const std::string value(fields[0]);
    char* end = nullptr;
    sample.value = std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size()) {
      return absl::InvalidArgumentError(absl::StrCat("bad value: ", line));
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

int CountSeries(const std::vector<PrometheusSample>& samples,
                absl::string_view prefix) {
  int count = 0;
  for (const PrometheusSample& sample : samples) {
    if (absl::StartsWith(sample.name, prefix)) ++count;
  }
  return count;
}

double SumSamples(const std::vector<PrometheusSample>& samples,
                  absl::string_view name,
                  const std::map<std::string, std::string>& labels) {
  double sum = 0;
  for (const PrometheusSample& sample : samples) {
    if (sample.name != name) continue;
    bool match = true;
    for (const auto& [key, value] : labels) {
      auto it = sample.labels.find(key);
      if (it == sample.labels.end() || it->second != value) {
        match = false;
        break;
      }
    }
    if (match) sum += sample.value;
  }
  return sum;
}

absl::StatusOr<std::vector<PrometheusSample>> ScrapeMetrics(int port) {
  absl::StatusOr<std::string> body = HttpGetBody(port, "/metrics");
  if (!body.ok()) return body.status();
  return ParsePrometheusText(*body);
}

}  // namespace gss::testing
