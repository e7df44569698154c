// Unpack: a model package into a folder, verifying every blob while it is written.
//
// Everything that can be checked without reading file contents is checked before the
// first byte is written (manifest, config digest, paths, duplicates, blob presence and
// sizes); digests are checked while streaming. Output goes to a temporary folder beside
// the destination, renamed into place at the end: a failed or interrupted unpack leaves
// no destination folder (only, after a crash, a hidden .NAME.wg-unpack-* folder).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>

#include "package_internal.h"
#include "weightgate/core/progress.h"

namespace wg::package {
namespace {

namespace fs = std::filesystem;

struct Planned {
  oci::Descriptor d;
  std::string path;
  std::string what;  // "layer 3 (tok512.bin)"
};

// Removes the temporary folder unless released.
struct TempDirGuard {
  std::string path;
  bool keep = false;
  ~TempDirGuard() {
    if (!keep && !path.empty()) {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  }
};

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error::FromErrno("open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0 && errno != EINVAL) return Error::FromErrno("fsync directory", dir);
  return Ok();
}

Status WriteAll(int fd, Bytes b, const std::string& path) {
  const uint8_t* p = b.data();
  size_t n = b.size();
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Error::FromErrno("write", path);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Ok();
}

}  // namespace

Result<UnpackResult> Unpack(const std::string& package, const UnpackOptions& options) {
  if (options.output.empty()) return Error::Usage("no output folder given (-o)");
  std::error_code ec;
  if (fs::symlink_status(options.output, ec).type() != fs::file_type::not_found)
    return Error::Usage("output already exists; remove it or choose another folder")
        .File(options.output);
  WG_ASSIGN_OR_RETURN(auto reader, oci::LayoutReader::Open(package));
  WG_ASSIGN_OR_RETURN(auto m, reader->ReadManifest(options.ref));
  if (!internal::IsModelManifest(m))
    return Error::Unsupported("not a model package (artifactType and config are not ModelPack's)")
        .File(package)
        .Expected(std::string(oci::kModelArtifactType))
        .Found(m.artifact_type.empty() ? m.config.media_type : m.artifact_type);
  {
    auto config = reader->ReadVerified(m.config, "config");
    if (!config.ok()) return std::move(config).error();
  }

  // Plan and check everything before writing anything.
  std::vector<Planned> plan;
  std::set<std::string> paths, dirs;
  uint64_t total = 0;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const auto& d = m.layers[i];
    auto c = internal::ClassifyLayer(d);
    std::string path = d.Annotation(oci::kAnnotationFilepath);
    std::string what = "layer " + std::to_string(i) + (path.empty() ? "" : " (" + path + ")");
    if (c.kind != internal::LayerKind::kModelFile) continue;  // policy, signature, ...
    if (!c.raw)
      return Error::Unsupported("archive layers are not supported yet; only .raw layers")
          .File(package)
          .Field(what)
          .Found(d.media_type);
    if (path.empty())
      return Error::Malformed("layer has no " + std::string(oci::kAnnotationFilepath) +
                              " annotation")
          .File(package)
          .Field(what);
    Status safe = CheckRelativePath(path);
    if (!safe.ok()) return std::move(safe).error().File(package).Field(what);
    if (!options.only.empty() && !options.only.count(*RoleFromName(c.role))) continue;
    if (!paths.insert(path).second)
      return Error::Unsafe("two layers write the same path").File(package).Field(what);
    // A file may not also be a folder of another layer ("a" and "a/b").
    for (size_t s = path.find('/'); s != std::string::npos; s = path.find('/', s + 1))
      dirs.insert(path.substr(0, s));
    WG_TRY(reader->Blob(d, what));  // present, regular, size as declared
    total += d.size;
    plan.push_back({d, path, what});
  }
  for (const auto& p : plan)
    if (dirs.count(p.path))
      return Error::Unsafe("a layer's path is another layer's folder").File(package).Field(p.what);

  fs::path out(options.output);
  fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  fs::create_directories(parent, ec);
  if (ec) return Error::Io("cannot create folder: " + ec.message()).File(parent.string());
  std::random_device rd;
  TempDirGuard tmp;
  tmp.path = (parent / ("." + out.filename().string() + ".wg-unpack-" + std::to_string(::getpid()) +
                        "-" + std::to_string(rd())))
                 .string();
  if (::mkdir(tmp.path.c_str(), 0755) != 0) return Error::FromErrno("mkdir", tmp.path);

  Progress progress("unpack", total);
  std::set<std::string> made_dirs;
  for (const auto& p : plan) {
    fs::path dest = fs::path(tmp.path) / p.path;
    if (dest.has_parent_path()) {
      fs::create_directories(dest.parent_path(), ec);
      if (ec) return Error::Io("cannot create folder: " + ec.message()).File(dest.parent_path());
      made_dirs.insert(dest.parent_path().string());
    }
    int fd = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return Error::FromErrno("cannot create", dest.string());
    Status s = reader->Stream(
        p.d, [&](Bytes b) { return WriteAll(fd, b, dest.string()); }, &progress, p.what);
    if (s.ok() && ::fchmod(fd, 0644) != 0) s = Error::FromErrno("chmod", dest.string());
    if (s.ok() && ::fsync(fd) != 0) s = Error::FromErrno("fsync", dest.string());
    ::close(fd);
    WG_TRY(s);
  }
  progress.Finish();
  for (const auto& d : made_dirs) WG_TRY(SyncDir(d));
  WG_TRY(SyncDir(tmp.path));
  if (::renameat2(AT_FDCWD, tmp.path.c_str(), AT_FDCWD, options.output.c_str(), RENAME_NOREPLACE) !=
      0)
    return Error::FromErrno("cannot move the unpacked folder into place", options.output);
  tmp.keep = true;
  WG_TRY(SyncDir(parent.string()));
  UnpackResult r;
  r.files = plan.size();
  r.bytes = total;
  return r;
}

}  // namespace wg::package
