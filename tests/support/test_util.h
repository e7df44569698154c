// Helpers shared by the C++ tests: paths to the shared test data, scratch folders,
// and running the weightgate binary as a user would.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace wg::test {

// ../shared/testdata/<rel>
std::string TestData(const std::string& rel);
// A path under the source tree (examples/models/...).
std::string SourcePath(const std::string& rel);

// A fresh folder removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::vector<uint8_t> ReadAll(const std::string& path);
void WriteAll(const std::string& path, const std::vector<uint8_t>& bytes);
void WriteText(const std::string& path, const std::string& text);
std::string ReadText(const std::string& path);

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs build/bin/weightgate with args (no shell; arguments passed as-is).
CliResult RunCli(const std::vector<std::string>& args);

// A model folder holding the real stories260K llama2.c checkpoint and its tokenizer
// (stories260K.bin, tok512.bin), created at `dir`; returns `dir`.
std::string CopyStoriesModel(const std::string& dir);

// The folder has no entries (used to prove a failed verb left nothing behind).
bool DirIsEmpty(const std::filesystem::path& dir);

// Every regular file under dir, relative path -> bytes (to compare whole folders).
std::map<std::string, std::vector<uint8_t>> ReadTree(const std::filesystem::path& dir);

}  // namespace wg::test
