#include "support/test_util.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace wg::test {

std::string TestData(const std::string& rel) {
  return std::string(WG_TESTDATA_DIR) + "/" + rel;
}
std::string SourcePath(const std::string& rel) {
  return std::string(WG_SOURCE_DIR) + "/" + rel;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "wg-test-XXXXXX").string();
  char* p = ::mkdtemp(tmpl.data());
  if (!p) std::abort();
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                              std::istreambuf_iterator<char>());
}

void WriteAll(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

namespace {
std::string Slurp(int fd) {
  std::string s;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}
}  // namespace

CliResult RunCli(const std::vector<std::string>& args) {
  CliResult r;
  char out_tmpl[] = "/tmp/wg-cli-out-XXXXXX";
  char err_tmpl[] = "/tmp/wg-cli-err-XXXXXX";
  int out_fd = ::mkstemp(out_tmpl), err_fd = ::mkstemp(err_tmpl);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    std::vector<char*> argv;
    std::string bin = WG_BINARY;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    std::_Exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  ::lseek(out_fd, 0, SEEK_SET);
  ::lseek(err_fd, 0, SEEK_SET);
  r.out = Slurp(out_fd);
  r.err = Slurp(err_fd);
  ::close(out_fd);
  ::close(err_fd);
  ::unlink(out_tmpl);
  ::unlink(err_tmpl);
  return r;
}

std::string CopyStoriesModel(const std::string& dir) {
  std::filesystem::create_directories(dir);
  for (const char* name : {"stories260K.bin", "tok512.bin"})
    std::filesystem::copy_file(TestData(std::string("models/stories260K/") + name),
                               dir + "/" + name);
  return dir;
}

std::string ReadText(const std::string& path) {
  std::vector<uint8_t> b = ReadAll(path);
  return std::string(b.begin(), b.end());
}

bool DirIsEmpty(const std::filesystem::path& dir) {
  return std::filesystem::is_empty(dir);
}

std::map<std::string, std::vector<uint8_t>> ReadTree(const std::filesystem::path& dir) {
  std::map<std::string, std::vector<uint8_t>> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      out[std::filesystem::relative(e.path(), dir).generic_string()] = ReadAll(e.path().string());
  return out;
}

}  // namespace wg::test
