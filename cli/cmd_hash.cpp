// weightgate hash PATH... [--algo sha256|blake3] [--shard-size N] [--json]: a hidden verb that
// prints the digest of every file (or every shard of every file) the way the signing verbs
// compute them, so the hashing engine can be checked and timed against sha256sum and b3sum.
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "command.h"
#include "weightgate/core/hash_files.h"

namespace wg::cli {
namespace {

struct HashOptions {
  std::vector<std::string> paths;
  std::string algo = "sha256";
  uint64_t shard_size = 0;
  unsigned threads = 0;
  bool json = false;
};

// Files named on the command line as given; folders walked recursively, sorted by path.
Result<std::vector<std::string>> ListFiles(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (fs::recursive_directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) found.push_back(it->path().string());
      if (ec) return Error::FromErrno("cannot list", p);
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(p);
    }
  }
  return files;
}

int RunHash(const HashOptions& o) {
  auto algo = HashAlgoFromName(o.algo);
  if (!algo)
    return ReportError(
        Error::Usage("unknown hash algorithm").Expected("sha256|blake3").Found(o.algo));
  auto files = ListFiles(o.paths);
  if (!files.ok()) return ReportError(files.error());
  std::vector<FileRange> ranges;
  std::vector<std::string> names;
  for (const auto& f : *files) {
    std::error_code ec;
    uint64_t size = std::filesystem::file_size(f, ec);
    if (ec) return ReportError(Error::Io("cannot stat: " + ec.message()).File(f));
    if (o.shard_size == 0) {
      ranges.push_back({f});
      names.push_back(f);
      continue;
    }
    for (uint64_t off = 0; off == 0 || off < size; off += o.shard_size) {
      uint64_t len = std::min(o.shard_size, size - off);
      ranges.push_back({f, off, len});
      names.push_back(f + ":" + std::to_string(off) + ":" + std::to_string(off + len));
      if (size == 0) break;
    }
  }
  auto digests = HashFileRanges(ranges, *algo, o.threads);
  if (!digests.ok()) return ReportError(digests.error());
  if (o.json) {
    nlohmann::json j{{"algorithm", o.algo}, {"entries", nlohmann::json::array()}};
    for (size_t i = 0; i < names.size(); ++i)
      j["entries"].push_back({{"name", names[i]}, {"digest", (*digests)[i].Hex()}});
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    for (size_t i = 0; i < names.size(); ++i)
      std::printf("%s  %s\n", (*digests)[i].Hex().c_str(), names[i].c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterHash(CLI::App& app, const GlobalOptions& global, Runner* run) {
  auto o = std::make_shared<HashOptions>();
  auto* cmd = app.add_subcommand("hash", "Print the digest of every file or shard (diagnostics)");
  cmd->group("");  // hidden: a developer tool, not part of the documented interface
  cmd->add_option("paths", o->paths, "Files or folders")->required();
  cmd->add_option("--algo", o->algo, "sha256 or blake3")
      ->check(CLI::IsMember({"sha256", "blake3"}));
  cmd->add_option("--shard-size", o->shard_size, "Hash each file in shards of this many bytes")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--threads", o->threads, "Threads (0 = every core)");
  cmd->add_flag("--json", o->json, "One JSON document on stdout");
  cmd->callback([run, o] { *run = [o] { return RunHash(*o); }; });
}

}  // namespace wg::cli
