// A real OCI registry for tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1 at
// a free port, storing into a temporary folder, optionally behind htpasswd Basic auth; and
// tests/support/faulty_proxy.py in front of it to inject 503s, dropped connections and a
// Bearer token flow. Each runs in its own process group, killed whole when the object dies.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "support/test_util.h"

namespace wg::test {

// Runs argv (no shell) and returns its exit code and output; env entries "K=V" are added.
CliResult RunCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                     int timeout_s = 120);
// Whether an executable is on PATH.
bool HaveProgram(const std::string& name);
int FreeLoopbackPort();

// A child process in its own process group.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess() { Stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  bool Start(const std::vector<std::string>& argv, const std::string& log_path);
  void Stop();  // SIGTERM to the group, SIGKILL after 5 s; reaps
  bool running() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

// Waits until GET url answers (any HTTP status) or timeout; false on timeout.
bool WaitForHttp(const std::string& url, int timeout_ms = 15000);

class RegistryServer {
 public:
  struct Options {
    std::string htpasswd_user;  // non-empty: Basic auth with this user/password (bcrypt)
    std::string htpasswd_password;
    bool tls = false;  // serve https with a fresh self-signed certificate for 127.0.0.1
  };
  RegistryServer() : RegistryServer(Options{}) {}
  explicit RegistryServer(Options options);
  ~RegistryServer();
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  // The self-signed certificate (PEM) when tls was asked for.
  std::string ca_file() const { return dir_ / "cert.pem"; }
  // Storage root: docker/registry/v2/blobs/sha256/<ab>/<hex>/data
  std::filesystem::path BlobDataPath(const std::string& digest) const;

 private:
  TempDir dir_;
  ChildProcess proc_;
  int port_ = 0;
  bool ok_ = false;
  std::string error_;
};

// tests/support/faulty_proxy.py in front of a registry.
class FaultyProxy {
 public:
  // flags: e.g. {"--fail-503", "2"}, {"--drop-blob-get", "1"}, {"--bearer", "user:pass"}
  FaultyProxy(const std::string& upstream_host, const std::vector<std::string>& flags);
  ~FaultyProxy();
  bool ok() const { return ok_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  // Lines the proxy logged ("FAULT 503 PATCH /v2/...", "TOKEN ...").
  std::string Log() const;

 private:
  TempDir dir_;
  ChildProcess proc_;
  int port_ = 0;
  bool ok_ = false;
};

}  // namespace wg::test
