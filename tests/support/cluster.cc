// Starts and restarts the session_service + gateway pair for end-to-end
// tests: port 0 everywhere, ports learned from the processes' port files.
#include "tests/support/cluster.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace gss::testing {
namespace {

std::string FromEnvironment(const char* variable, const char* fallback) {
  const char* value = std::getenv(variable);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// Defaults first, then extra flags; a default is dropped when an extra flag
// sets the same name.
std::vector<std::string> MergeFlags(
    const std::vector<std::pair<std::string, std::string>>& defaults,
    const std::vector<std::string>& extras) {
  std::vector<std::string> flags;
  for (const auto& [name, value] : defaults) {
    const std::string prefix = absl::StrCat("--", name, "=");
    bool overridden = false;
    for (const std::string& extra : extras) {
      if (absl::StartsWith(extra, prefix) || extra == absl::StrCat("--", name))
        overridden = true;
    }
    if (!overridden) flags.push_back(absl::StrCat(prefix, value));
  }
  flags.insert(flags.end(), extras.begin(), extras.end());
  return flags;
}

// A token as an operator would make one (openssl rand -hex 16).
std::string RandomToken(absl::string_view prefix) {
  absl::BitGen random;
  std::string bytes(16, '\0');
  for (char& c : bytes) c = static_cast<char>(absl::Uniform<uint8_t>(random));
  return absl::StrCat(prefix, absl::BytesToHexString(bytes));
}

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream file(path, std::ios::trunc);
  file << contents;
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

std::string SessionServiceBinary() {
  return FromEnvironment("GSS_SESSION_SERVICE_BINARY",
                         GSS_SESSION_SERVICE_BINARY);
}

std::string GatewayBinary() {
  return FromEnvironment("GSS_GATEWAY_BINARY", GSS_GATEWAY_BINARY);
}

Cluster::Cluster(ClusterOptions options)
    : options_(std::move(options)), dir_(MakeTestTempDir("cluster")) {}

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Start(
    ClusterOptions options) {
  auto cluster = std::unique_ptr<Cluster>(new Cluster(std::move(options)));
  absl::Status started = cluster->WriteOpsTokens();
  if (!started.ok()) return started;
  started = cluster->StartService();
  if (!started.ok()) return started;
  if (cluster->options_.start_gateway) {
    started = cluster->StartGateway();
    if (!started.ok()) return started;
    if (cluster->options_.wait_for_attach) {
      started = cluster->WaitForGatewayAttached(absl::Seconds(15));
      if (!started.ok()) {
        return absl::Status(
            started.code(),
            absl::StrCat(started.message(), "\n", cluster->LogTails()));
      }
    }
  }
  return cluster;
}

Cluster::~Cluster() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const bool failed =
      info != nullptr && info->result() != nullptr && info->result()->Failed();
  if (failed) {
    std::cerr << "=== process logs under " << dir_ << "\n" << LogTails();
  }
  if (gateway_) gateway_->Kill();
  if (service_) service_->Kill();
  // Logs are kept for failed tests, or when GSS_E2E_KEEP_LOGS is set.
  if (!failed && std::getenv("GSS_E2E_KEEP_LOGS") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

absl::Status Cluster::WriteOpsTokens() {
  admin_token_ = RandomToken("admin-");
  reader_token_ = RandomToken("reader-");
  ops_tokens_file_ = absl::StrCat(dir_, "/ops.tokens");
  for (const auto& [path, contents] :
       std::vector<std::pair<std::string, std::string>>{
           {ops_tokens_file_,
            absl::StrCat("# role principal token\nadmin ", kClusterAdmin, " ",
                         admin_token_, "\nreader ", kClusterReader, " ",
                         reader_token_, "\n")},
           {admin_token_file(), admin_token_ + "\n"},
           {reader_token_file(), reader_token_ + "\n"}}) {
    if (absl::Status status = WriteFile(path, contents); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

std::string Cluster::ops_address() const {
  return absl::StrCat("127.0.0.1:", ops_port_);
}

std::string Cluster::LogTails() const {
  std::string text;
  for (const auto& process : retired_) text += process->LogTail();
  if (service_) text += service_->LogTail();
  if (gateway_) text += gateway_->LogTail();
  return text;
}

absl::StatusOr<std::map<std::string, int>> Cluster::AwaitPortFile(
    Process& process, const std::string& path) {
  absl::StatusOr<std::string> contents = absl::NotFoundError("");
  const bool written = WaitFor(
      [&] {
        contents = ReadFileToString(path);
        return contents.ok() || !process.Running();
      },
      options_.startup_timeout);
  if (!contents.ok()) {
    std::string why =
        written ? absl::StrCat(process.name(), " exited (",
                               process.exit_status()->ToString(),
                               ") before writing ", path)
                : absl::StrCat(process.name(), " wrote no ", path, " within ",
                               absl::FormatDuration(options_.startup_timeout));
    return absl::UnavailableError(absl::StrCat(why, "\n", process.LogTail()));
  }
  return ParsePortFile(*contents);
}

absl::Status Cluster::StartService(
    const std::vector<std::string>& extra_flags) {
  if (service_ && service_->Running()) {
    return absl::FailedPreconditionError("session_service already running");
  }
  if (service_) retired_.push_back(std::move(service_));
  ++service_starts_;
  const std::string port_file =
      absl::StrCat(dir_, "/service.", service_starts_, ".ports");
  std::vector<std::string> extras = options_.service_flags;
  extras.insert(extras.end(), extra_flags.begin(), extra_flags.end());
  // A restart keeps the link port: the gateway is configured with it.
  std::vector<std::pair<std::string, std::string>> defaults = {
      {"link_address", absl::StrCat("127.0.0.1:", link_port_)},
      {"ops_address", "127.0.0.1:0"},
      {"metrics_address", "127.0.0.1:0"},
      {"port_file", port_file},
      {"authenticator", "dev"},
  };
  // The ops API checks tokens, as in production, unless the test opens it.
  const bool ops_open = std::find(extras.begin(), extras.end(),
                                  "--ops_auth=none") != extras.end();
  if (!ops_open) defaults.emplace_back("ops_tokens_file", ops_tokens_file_);
  Process::Options process_options{
      .binary = SessionServiceBinary(),
      .args = MergeFlags(defaults, extras),
      .log_dir = dir_,
      .name = absl::StrCat("session_service.", service_starts_)};
  absl::StatusOr<std::unique_ptr<Process>> process =
      Process::Start(std::move(process_options));
  if (!process.ok()) return process.status();
  service_ = *std::move(process);
  absl::StatusOr<std::map<std::string, int>> ports =
      AwaitPortFile(*service_, port_file);
  if (!ports.ok()) return ports.status();
  if (!ports->contains("link") || !ports->contains("ops")) {
    return absl::InternalError(
        absl::StrCat("service port file lacks link= or ops=: ", port_file));
  }
  link_port_ = ports->at("link");
  ops_port_ = ports->at("ops");
  service_metrics_port_ = ports->contains("metrics") ? ports->at("metrics") : 0;
  OpsClientOptions credentials = options_.ops_tls;
  credentials.token = ops_open ? "" : admin_token_;
  ops_ = std::make_unique<OpsClient>(ops_address(), std::move(credentials));
  return absl::OkStatus();
}

absl::Status Cluster::StartGateway(
    const std::vector<std::string>& extra_flags) {
  if (gateway_ && gateway_->Running()) {
    return absl::FailedPreconditionError("gateway already running");
  }
  if (gateway_) retired_.push_back(std::move(gateway_));
  ++gateway_starts_;
  const std::string port_file =
      absl::StrCat(dir_, "/gateway.", gateway_starts_, ".ports");
  std::vector<std::string> extras = options_.gateway_flags;
  extras.insert(extras.end(), extra_flags.begin(), extra_flags.end());
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"game_address", absl::StrCat("127.0.0.1:", game_port_)},
      {"service_address", absl::StrCat("127.0.0.1:", link_port_)},
      {"gateway_id", "1"},
      {"metrics_address", "127.0.0.1:0"},
      {"port_file", port_file},
  };
  Process::Options process_options{
      .binary = GatewayBinary(),
      .args = MergeFlags(defaults, extras),
      .log_dir = dir_,
      .name = absl::StrCat("gateway.", gateway_starts_)};
  absl::StatusOr<std::unique_ptr<Process>> process =
      Process::Start(std::move(process_options));
  if (!process.ok()) return process.status();
  gateway_ = *std::move(process);
  absl::StatusOr<std::map<std::string, int>> ports =
      AwaitPortFile(*gateway_, port_file);
  if (!ports.ok()) return ports.status();
  if (!ports->contains("game")) {
    return absl::InternalError(
        absl::StrCat("gateway port file lacks game=: ", port_file));
  }
  game_port_ = ports->at("game");
  gateway_metrics_port_ = ports->contains("metrics") ? ports->at("metrics") : 0;
  return absl::OkStatus();
}

absl::StatusOr<ExitStatus> Cluster::StopService(absl::Duration timeout) {
  if (!service_) return absl::FailedPreconditionError("no session_service");
  if (service_->Running()) {
    absl::Status signalled = service_->Signal(SIGTERM);
    if (!signalled.ok()) return signalled;
  }
  return service_->WaitForExit(timeout);
}

absl::StatusOr<ExitStatus> Cluster::StopGateway(absl::Duration timeout) {
  if (!gateway_) return absl::FailedPreconditionError("no gateway");
  if (gateway_->Running()) {
    absl::Status signalled = gateway_->Signal(SIGTERM);
    if (!signalled.ok()) return signalled;
  }
  return gateway_->WaitForExit(timeout);
}

void Cluster::KillService() {
  if (service_) service_->Kill();
}

void Cluster::KillGateway() {
  if (gateway_) gateway_->Kill();
}

absl::Status Cluster::WaitForGatewayAttached(absl::Duration timeout,
                                             uint32_t count) {
  absl::StatusOr<ops::v1::ServerInfo> info = absl::UnknownError("not asked");
  const bool attached = WaitFor(
      [&] {
        info = ops_->GetServerInfo();
        return info.ok() && info->gateways_attached() >= count;
      },
      timeout, absl::Milliseconds(10));
  if (attached) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat(
      "gateway not attached within ", absl::FormatDuration(timeout),
      "; last GetServerInfo: ",
      info.ok() ? info->ShortDebugString() : info.status().ToString()));
}

}  // namespace gss::testing
