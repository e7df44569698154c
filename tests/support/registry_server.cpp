#include "support/registry_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace wg::test {
namespace {

std::string SlurpFd(int fd) {
  std::string s;
  char buf[65536];
  ssize_t n;
  ::lseek(fd, 0, SEEK_SET);
  while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

std::string PythonBinary() {
  std::string venv = WG_PYTHON;
  if (::access(venv.c_str(), X_OK) == 0) return venv;
  return "/usr/bin/python3";
}

}  // namespace

CliResult RunCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                     int timeout_s) {
  CliResult r;
  char out_tmpl[] = "/tmp/wg-cmd-out-XXXXXX";
  char err_tmpl[] = "/tmp/wg-cmd-err-XXXXXX";
  int out_fd = ::mkstemp(out_tmpl), err_fd = ::mkstemp(err_tmpl);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    std::vector<std::string> copy = argv;
    for (auto& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::_Exit(127);
  }
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = SlurpFd(out_fd);
  r.err = SlurpFd(err_fd);
  ::close(out_fd);
  ::close(err_fd);
  ::unlink(out_tmpl);
  ::unlink(err_tmpl);
  return r;
}

bool HaveProgram(const std::string& name) {
  return RunCommand({"sh", "-c", "command -v " + name + " >/dev/null"}).exit_code == 0;
}

int FreeLoopbackPort() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

bool ChildProcess::Start(const std::vector<std::string>& argv, const std::string& log_path) {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::setpgid(0, 0);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(log, 1);
    ::dup2(log, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    std::vector<char*> args;
    std::vector<std::string> copy = argv;
    for (auto& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::_Exit(127);
  }
  ::setpgid(pid, pid);
  pid_ = pid;
  return true;
}

void ChildProcess::Stop() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 250; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      ::kill(-pid_, SIGKILL);  // anything the leader left in its group
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(-pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

bool WaitForHttp(const std::string& url, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = RunCommand({"curl", "-s", "-k", "-o", "/dev/null", "--max-time", "2", url}, {}, 5);
    if (r.exit_code == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

RegistryServer::RegistryServer(Options options) {
  if (!HaveProgram("docker-registry")) {
    error_ =
        "docker-registry is not installed (Debian package docker-registry; scripts/install-deps "
        "--with-test)";
    return;
  }
  std::string auth;
  if (!options.htpasswd_user.empty()) {
    if (!HaveProgram("htpasswd")) {
      error_ = "htpasswd is not installed (Debian package apache2-utils)";
      return;
    }
    auto r = RunCommand(
        {"htpasswd", "-Bbc", dir_ / "htpasswd", options.htpasswd_user, options.htpasswd_password});
    if (r.exit_code != 0) {
      error_ = "htpasswd failed: " + r.err;
      return;
    }
    auth =
        "auth:\n  htpasswd:\n    realm: weightgate-test\n    path: " + (dir_ / "htpasswd") + "\n";
  }
  std::string tls;
  if (options.tls) {
    auto r = RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                         "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=127.0.0.1",
                         "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1", "-keyout",
                         dir_ / "key.pem", "-out", dir_ / "cert.pem"});
    if (r.exit_code != 0) {
      error_ = "openssl could not make a test certificate: " + r.err;
      return;
    }
    tls = "  tls:\n    certificate: " + (dir_ / "cert.pem") + "\n    key: " + (dir_ / "key.pem") +
          "\n";
  }
  // A port picked by the kernel can be taken in between; try a few.
  for (int tries = 0; tries < 3 && !ok_; ++tries) {
    port_ = FreeLoopbackPort();
    std::ofstream(dir_ / "config.yml") << "version: 0.1\n"
                                          "log:\n  level: error\n  accesslog:\n    disabled: true\n"
                                          "storage:\n  filesystem:\n    rootdirectory: "
                                       << (dir_ / "data")
                                       << "\n  delete:\n    enabled: true\n"
                                          "http:\n  addr: 127.0.0.1:"
                                       << port_ << "\n  secret: weightgate-test-secret\n"
                                       << tls << auth;
    if (!proc_.Start({"docker-registry", "serve", dir_ / "config.yml"}, dir_ / "registry.log"))
      continue;
    ok_ = WaitForHttp((options.tls ? "https://" : "http://") + host() + "/v2/");
    if (!ok_) proc_.Stop();
  }
  if (!ok_) {
    std::ifstream log(dir_ / "registry.log");
    std::stringstream ss;
    ss << log.rdbuf();
    error_ = "docker-registry did not answer on 127.0.0.1: " + ss.str();
  }
}

RegistryServer::~RegistryServer() {
  proc_.Stop();
}

std::filesystem::path RegistryServer::BlobDataPath(const std::string& digest) const {
  std::string hex = digest.substr(7);
  return dir_.path() / "data/docker/registry/v2/blobs/sha256" / hex.substr(0, 2) / hex / "data";
}

FaultyProxy::FaultyProxy(const std::string& upstream, const std::vector<std::string>& flags) {
  port_ = FreeLoopbackPort();
  std::vector<std::string> argv = {
      PythonBinary(), std::string(WG_SOURCE_DIR) + "/tests/support/faulty_proxy.py",
      "--port",       std::to_string(port_),
      "--upstream",   upstream};
  argv.insert(argv.end(), flags.begin(), flags.end());
  if (!proc_.Start(argv, dir_ / "proxy.log")) return;
  ok_ = WaitForHttp("http://" + host() + "/healthz");
}

FaultyProxy::~FaultyProxy() {
  proc_.Stop();
}

std::string FaultyProxy::Log() const {
  std::ifstream log(dir_ / "proxy.log");
  std::stringstream ss;
  ss << log.rdbuf();
  return ss.str();
}

}  // namespace wg::test
