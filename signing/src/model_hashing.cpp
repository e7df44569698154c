#include "weightgate/signing/model_hashing.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "weightgate/core/hash_files.h"

namespace wg::signing {
namespace fs = std::filesystem;
const std::vector<std::string>& GitIgnorePaths() {
  static const std::vector<std::string> kPaths = {".git", ".gitattributes", ".github",
                                                  ".gitignore"};
  return kPaths;
}

bool IsIgnored(std::string_view name, const std::vector<std::string>& ignore_paths) {
  for (const auto& p : ignore_paths) {
    if (p.empty()) continue;
    if (p == ".") return true;
    if (name.size() >= p.size() && name.compare(0, p.size(), p) == 0 &&
        (name.size() == p.size() || name[p.size()] == '/'))
      return true;
  }
  return false;
}

Result<std::vector<ModelFile>> ListModelFiles(const std::string& root,
                                              const std::vector<std::string>& ignore_paths,
                                              bool allow_symlinks) {
  std::error_code ec;
  auto root_status = fs::symlink_status(root, ec);
  if (ec) return Error::Io("cannot read the model folder: " + ec.message()).File(root);
  if (fs::is_symlink(root_status) && !allow_symlinks)
    return Error::Unsafe("the model folder is a symbolic link").File(root);
  if (!fs::is_directory(fs::status(root, ec)))
    return Error::Usage("not a folder").File(root).Expected("a model folder");

  std::vector<ModelFile> files;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  if (ec) return Error::Io("cannot list the model folder: " + ec.message()).File(root);
  for (; it != end; it.increment(ec)) {
    if (ec) return Error::Io("cannot list the model folder: " + ec.message()).File(root);
    const fs::path& p = it->path();
    std::string name = p.lexically_relative(root).generic_string();
    if (IsIgnored(name, ignore_paths)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) it.disable_recursion_pending();
      continue;
    }
    auto st = it->symlink_status(ec);
    if (ec) return Error::Io("cannot stat: " + ec.message()).File(p.string());
    if (fs::is_symlink(st)) {
      if (!allow_symlinks)
        return Error::Unsafe("symbolic link in the model (refused unless symlinks are allowed)")
            .File(p.string());
      auto target = fs::status(p, ec);
      if (ec || !fs::is_regular_file(target))
        return Error::Unsupported("symbolic link to something other than a regular file")
            .File(p.string());
    } else if (fs::is_directory(st)) {
      continue;
    } else if (!fs::is_regular_file(st)) {
      return Error::Unsafe("special file (socket, FIFO or device) in the model").File(p.string());
    }
    uint64_t size = fs::file_size(p, ec);
    if (ec) return Error::Io("cannot stat: " + ec.message()).File(p.string());
    files.push_back({std::move(name), p.string(), size});
  }
  std::sort(files.begin(), files.end(),
            [](const ModelFile& a, const ModelFile& b) { return PathLess(a.name, b.name); });
  return files;
}

Result<ModelManifest> HashModelFiles(std::string model_name, const std::vector<ModelFile>& files,
                                     const Serialization& serialization) {
  if (serialization.method == SerializationMethod::kShards && serialization.shard_size == 0)
    return Error::Usage("shard size must be positive").Field("shard_size");
  // Whole files are hashed to their end as found at hashing time; shards are cut from the
  // size seen while listing, and HashFileRanges refuses a shard past a file's current end.
  std::vector<FileRange> ranges;
  std::vector<const ModelFile*> owner;
  for (const auto& f : files) {
    uint64_t base = f.span ? f.offset : 0;
    if (serialization.method == SerializationMethod::kFiles) {
      ranges.push_back({f.path, base, f.span ? f.size : UINT64_MAX});
      owner.push_back(&f);
      continue;
    }
    for (uint64_t start = 0; start < f.size; start += serialization.shard_size) {
      ranges.push_back(
          {f.path, base + start, std::min(f.size - start, serialization.shard_size)});
      owner.push_back(&f);
    }
  }
  WG_ASSIGN_OR_RETURN(std::vector<Digest> digests, HashFileRanges(ranges, serialization.hash));

  ModelManifest m;
  m.model_name = std::move(model_name);
  m.serialization = serialization;
  std::string algorithm = serialization.ResourceAlgorithm();
  m.resources.reserve(ranges.size());
  for (size_t i = 0; i < ranges.size(); ++i) {
    WG_ASSIGN_OR_RETURN(std::string path, NormaliseResourcePath(owner[i]->name));
    Resource r;
    r.path = std::move(path);
    r.is_shard = serialization.method == SerializationMethod::kShards;
    uint64_t base = owner[i]->span ? owner[i]->offset : 0;
    r.start = r.is_shard ? ranges[i].offset - base : 0;
    r.end = r.is_shard ? ranges[i].offset - base + ranges[i].length : 0;
    r.algorithm = algorithm;
    r.digest.assign(digests[i].bytes.begin(), digests[i].bytes.end());
    m.resources.push_back(std::move(r));
  }
  m.Sort();
  return m;
}

Result<ModelManifest> HashModelFolder(const std::string& root, const Serialization& serialization) {
  WG_ASSIGN_OR_RETURN(
      auto files, ListModelFiles(root, serialization.ignore_paths, serialization.allow_symlinks));
  std::string name = fs::absolute(fs::path(root)).lexically_normal().filename().string();
  if (name.empty())
    name = fs::absolute(fs::path(root)).lexically_normal().parent_path().filename().string();
  return HashModelFiles(std::move(name), files, serialization);
}

}  // namespace wg::signing
