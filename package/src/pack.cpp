// Pack: a model folder and its PackageSpec into a ModelPack OCI layout.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "package_internal.h"
#include "weightgate/core/hash.h"
#include "weightgate/core/progress.h"
#include "weightgate/package/package.h"

namespace wg::package {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

bool IsTarPath(const std::string& p) {
  return p.size() >= 4 && p.compare(p.size() - 4, 4, ".tar") == 0;
}

// ModelPack's model config. No timestamps (createdAt is optional and would make two
// packs of the same folder differ).
std::string ConfigJson(const PackageSpec& s, const std::vector<std::string>& diff_ids) {
  ojson d = ojson::object();
  d["name"] = s.name;
  if (!s.version.empty()) d["version"] = s.version;
  if (!s.model.family.empty()) d["family"] = s.model.family;
  if (!s.description.empty()) d["description"] = s.description;
  if (!s.authors.empty()) d["authors"] = s.authors;
  if (!s.license.empty()) d["licenses"] = ojson::array({s.license});
  ojson c = ojson::object();
  auto put = [&](const char* k, const std::string& v) {
    if (!v.empty()) c[k] = v;
  };
  put("architecture", s.model.architecture);
  put("format", s.model.format);
  put("paramSize", s.model.param_size);
  put("precision", s.model.precision);
  put("quantization", s.model.quantization);
  ojson fs_ = ojson::object();
  fs_["type"] = "layers";
  fs_["diffIds"] = diff_ids;
  ojson root = ojson::object();
  root["descriptor"] = d;
  root["config"] = c;
  root["modelfs"] = fs_;
  return root.dump();
}

}  // namespace

Result<PackResult> Pack(const std::string& model_dir, const PackageSpec& spec_in,
                        const PackOptions& options) {
  PackageSpec spec = spec_in;
  if (spec.name.empty()) return Error::Usage("package name missing");
  if (options.output.empty()) return Error::Usage("no output path given (-o)");
  std::sort(spec.files.begin(), spec.files.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  uint64_t total = 0;
  for (size_t i = 0; i < spec.files.size(); ++i) {
    const auto& f = spec.files[i];
    Status ok = CheckRelativePath(f.path);
    if (!ok.ok()) return std::move(ok).error().Field("files: " + f.path);
    if (i > 0 && spec.files[i - 1].path == f.path)
      return Error::Usage("file listed twice").Field(f.path);
    struct stat st {};
    std::string full = (fs::path(model_dir) / f.path).string();
    if (::stat(full.c_str(), &st) != 0) return Error::FromErrno("cannot read model file", full);
    if (!S_ISREG(st.st_mode)) return Error::Usage("not a regular file").File(full);
    total += static_cast<uint64_t>(st.st_size);
  }
  if (spec.files.empty()) return Error::Usage("nothing to pack: the manifest lists no files");

  oci::WriterOptions wo;
  wo.tar = IsTarPath(options.output);
  wo.mtime = oci::SourceDateEpoch();
  wo.reflink = options.reflink;
  WG_ASSIGN_OR_RETURN(auto writer, oci::LayoutWriter::Create(options.output, wo));

  oci::Manifest m;
  m.artifact_type = std::string(oci::kModelArtifactType);
  std::vector<std::string> diff_ids;
  {
    Progress progress("pack", total);
    for (const auto& f : spec.files) {
      std::string full = (fs::path(model_dir) / f.path).string();
      WG_ASSIGN_OR_RETURN(auto d, writer->AddFile(full, RoleMediaType(f.role), &progress));
      d.annotations[std::string(oci::kAnnotationFilepath)] = f.path;
      d.annotations[std::string(oci::kAnnotationTitle)] = f.path;
      d.annotations[std::string(oci::kAnnotationRole)] = RoleName(f.role);
      diff_ids.push_back(d.digest);  // raw layers: the uncompressed layer is the file
      m.layers.push_back(std::move(d));
    }
    progress.Finish();
  }
  for (const auto& x : options.extra_layers) {
    WG_ASSIGN_OR_RETURN(auto d, writer->AddBytes(x.content, x.media_type));
    if (!x.title.empty()) d.annotations[std::string(oci::kAnnotationTitle)] = x.title;
    m.layers.push_back(std::move(d));
  }
  WG_ASSIGN_OR_RETURN(m.config, writer->AddBytes(ConfigJson(spec, diff_ids), oci::kModelConfig));
  m.annotations["org.opencontainers.image.title"] = spec.name;
  if (!spec.version.empty()) m.annotations["org.opencontainers.image.version"] = spec.version;
  return internal::FinishPackage(*writer, m, options.tag.empty() ? spec.version : options.tag,
                                 total, spec.files.size());
}

namespace internal {

Result<PackResult> FinishPackage(oci::LayoutWriter& writer, const oci::Manifest& m,
                                 const std::string& tag, uint64_t total, size_t files) {
  WG_ASSIGN_OR_RETURN(auto md, writer.AddBytes(m.Serialize(), oci::kOciManifest));
  md.artifact_type = m.artifact_type;
  if (!tag.empty()) md.annotations[std::string(oci::kAnnotationRefName)] = tag;
  oci::Index index;
  index.manifests.push_back(md);
  WG_TRY(writer.Commit(index));
  PackResult r;
  r.manifest = md;
  r.total_bytes = total;
  r.files = files;
  return r;
}

}  // namespace internal

namespace {

// A small file of a layout folder: atomic, mode 0644 whatever the umask.
Status WriteLayoutFile(const std::string& path, std::string_view content) {
  WG_ASSIGN_OR_RETURN(auto f, AtomicFile::Create(path, FileSystem::Default(), {0644, false}));
  WG_TRY(f->Append(content));
  return f->Commit();
}

// Stores a small blob in a layout folder (atomically; an existing blob is the same bytes).
// `created` collects the blobs this call added, for removal if the attach fails.
Result<oci::Descriptor> PutFolderBlob(const std::string& package, std::string_view content,
                                      std::string_view media_type,
                                      std::vector<std::string>* created) {
  oci::Descriptor d;
  d.media_type = std::string(media_type);
  d.digest = HashBytes(HashAlgo::kSha256,
                       Bytes(reinterpret_cast<const uint8_t*>(content.data()), content.size()))
                 .Prefixed();
  d.size = content.size();
  std::string path = (fs::path(package) / "blobs" / "sha256" / d.digest.substr(7)).string();
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    created->push_back(path);
    WG_TRY(WriteLayoutFile(path, content));
  }
  return d;
}

// A layout folder gains the layer in place: the new blob and manifest are written beside the
// others and index.json is replaced atomically, so readers see the old package or the new one,
// and the model blobs are neither copied nor read again. Blobs only the old manifest used
// are removed afterwards; blobs this attach added are removed if it fails before index.json
// changed, so a failed attach leaves the folder as it was.
Result<oci::Descriptor> AttachInFolder(const std::string& package, oci::Manifest m,
                                       std::vector<oci::Descriptor> keep,
                                       const oci::Descriptor& old_md, const ExtraLayer& layer) {
  FileSystem& fsys = FileSystem::Default();
  std::vector<std::string> created;
  bool index_replaced = false;
  struct Undo {
    FileSystem& fsys;
    const std::vector<std::string>& created;
    const bool& done;
    ~Undo() {
      if (!done)
        for (const auto& p : created) (void)fsys.Remove(p);
    }
  } undo{fsys, created, index_replaced};
  std::vector<oci::Descriptor> old_layers = m.layers;
  WG_ASSIGN_OR_RETURN(auto d, PutFolderBlob(package, layer.content, layer.media_type, &created));
  if (!layer.title.empty()) d.annotations[std::string(oci::kAnnotationTitle)] = layer.title;
  keep.push_back(d);
  m.layers = std::move(keep);
  WG_ASSIGN_OR_RETURN(auto md, PutFolderBlob(package, m.Serialize(), oci::kOciManifest, &created));
  md.artifact_type = m.artifact_type;
  std::string tag = old_md.Annotation(oci::kAnnotationRefName);
  if (!tag.empty()) md.annotations[std::string(oci::kAnnotationRefName)] = tag;
  oci::Index index;
  index.manifests.push_back(md);
  // The new blobs are durable before index.json names them.
  WG_TRY(fsys.SyncDir((fs::path(package) / "blobs" / "sha256").string()));
  auto index_file =
      AtomicFile::Create((fs::path(package) / oci::kIndexFile).string(), fsys, {0644, false});
  if (!index_file.ok()) return std::move(index_file).error();
  WG_TRY((*index_file)->Append(index.Serialize()));
  Status committed = (*index_file)->Commit();
  index_replaced = (*index_file)->committed();
  WG_TRY(committed);
  std::set<std::string> live = {md.digest, m.config.digest};
  for (const auto& l : m.layers) live.insert(l.digest);
  std::vector<std::string> stale = {old_md.digest};
  for (const auto& l : old_layers) stale.push_back(l.digest);
  for (const auto& s : stale)
    if (!live.count(s) && oci::ValidateDigest(s).ok())
      (void)fsys.Remove((fs::path(package) / "blobs" / "sha256" / s.substr(7)).string());
  return md;
}

}  // namespace

Result<oci::Descriptor> AttachLayer(const std::string& package, const ExtraLayer& layer,
                                    const std::string& expected_manifest) {
  WG_ASSIGN_OR_RETURN(auto reader, oci::LayoutReader::Open(package));
  if (reader->index().manifests.size() != 1)
    return Error::Unsupported("attaching a layer needs an index with exactly one manifest")
        .File(package);
  oci::Descriptor old_md;
  WG_ASSIGN_OR_RETURN(auto m, reader->ReadManifest("", &old_md));
  if (!expected_manifest.empty() && old_md.digest != expected_manifest)
    return Error::Mismatch("the package changed while the layer was being made")
        .File(package)
        .Field("index.json: manifest")
        .Expected(expected_manifest)
        .Found(old_md.digest);
  // Attestations accumulate (one per place a package was checked); every other weightgate
  // layer replaces the one before it.
  const bool several = layer.media_type == oci::kWeightgateAttestation;
  const std::string new_digest =
      HashBytes(HashAlgo::kSha256,
                Bytes(reinterpret_cast<const uint8_t*>(layer.content.data()), layer.content.size()))
          .Prefixed();
  std::vector<oci::Descriptor> keep;
  for (const auto& l : m.layers)
    if (l.media_type != layer.media_type || (several && l.digest != new_digest)) keep.push_back(l);
  if (!reader->is_tar()) {
    reader.reset();
    return AttachInFolder(package, std::move(m), std::move(keep), old_md, layer);
  }
  oci::WriterOptions wo;
  wo.tar = true;
  wo.mtime = oci::SourceDateEpoch();
  wo.replace = true;
  WG_ASSIGN_OR_RETURN(auto writer, oci::LayoutWriter::Create(package, wo));
  std::vector<oci::Descriptor> blobs = keep;
  blobs.push_back(m.config);
  std::set<std::string> copied;
  for (const auto& b : blobs) {
    if (!copied.insert(b.digest).second) continue;
    WG_ASSIGN_OR_RETURN(auto bw, writer->BeginBlob(b.size, b.media_type, b.digest));
    WG_TRY(reader->Stream(b, [&](Bytes chunk) { return bw->Write(chunk); }));
    WG_TRY(bw->Finish());
  }
  WG_ASSIGN_OR_RETURN(auto d, writer->AddBytes(layer.content, layer.media_type));
  if (!layer.title.empty()) d.annotations[std::string(oci::kAnnotationTitle)] = layer.title;
  keep.push_back(d);
  m.layers = std::move(keep);
  reader.reset();  // the old package's maps are released before it is replaced
  WG_ASSIGN_OR_RETURN(auto r, internal::FinishPackage(
                                  *writer, m, old_md.Annotation(oci::kAnnotationRefName), 0, 0));
  return r.manifest;
}

}  // namespace wg::package
