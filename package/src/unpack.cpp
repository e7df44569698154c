// Unpack: a model package into a folder, verifying every blob while it is written.
//
// Everything that can be checked without reading file contents is checked before the
// first byte is written (manifest, config digest, paths, duplicates, blob presence and
// sizes); digests are checked while streaming. Output goes to a temporary folder beside
// the destination, renamed into place at the end: a failed or interrupted unpack leaves
// no destination folder (only, after a crash, a hidden .NAME.wg-unpack-* folder).
// Every write, fsync and rename goes through the core FileSystem seam (core/file.h).
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>

#include "package_internal.h"
#include "weightgate/core/file.h"
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
    if (!keep && !path.empty()) (void)FileSystem::Default().RemoveAll(path);
  }
};

// Model files keep exact modes whatever the umask, and are written back as they go.
constexpr WritableFileOptions kModelFile{0644, true};

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

  FileSystem& fsys = FileSystem::Default();
  fs::path out(options.output);
  fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  WG_TRY(CreateDirs(parent.string(), fsys));
  std::random_device rd;
  TempDirGuard tmp;
  std::string tmp_path = (parent / ("." + out.filename().string() + ".wg-unpack-" +
                                    std::to_string(::getpid()) + "-" + std::to_string(rd())))
                             .string();
  WG_TRY(fsys.CreateDir(tmp_path));
  tmp.path = tmp_path;

  Progress progress("unpack", total);
  std::set<std::string> made_dirs;
  for (const auto& p : plan) {
    fs::path dest = fs::path(tmp.path) / p.path;
    if (p.path.find('/') != std::string::npos) {
      WG_TRY(CreateDirs(dest.parent_path().string(), fsys));
      for (size_t s = p.path.find('/'); s != std::string::npos; s = p.path.find('/', s + 1))
        made_dirs.insert(tmp.path + "/" + p.path.substr(0, s));
    }
    // NewWritableFile creates exclusively: a symbolic link planted in the temporary folder
    // is refused, never followed.
    WG_ASSIGN_OR_RETURN(auto file, fsys.NewWritableFile(dest.string(), kModelFile));
    uint64_t at = 0;
    WG_TRY(reader->Stream(
        p.d,
        [&](Bytes b) -> Status {
          WG_TRY(file->WriteAt(at, b));
          at += b.size();
          return Ok();
        },
        &progress, p.what));
    WG_TRY(file->Sync());
    WG_TRY(file->Close());
  }
  progress.Finish();
  // Deepest folders first, so each one's entry is durable in its (later synced) parent.
  for (auto d = made_dirs.rbegin(); d != made_dirs.rend(); ++d) WG_TRY(fsys.SyncDir(*d));
  WG_TRY(fsys.SyncDir(tmp.path));
  WG_TRY(fsys.RenameNoReplace(tmp.path, options.output));
  tmp.keep = true;
  WG_TRY(fsys.SyncDir(parent.string()));
  UnpackResult r;
  r.files = plan.size();
  r.bytes = total;
  return r;
}

}  // namespace wg::package
