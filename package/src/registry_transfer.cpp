// PushPackage / PullPackage: the package layout on one side, a registry on the other.
#include "weightgate/package/registry_transfer.h"

#include <filesystem>
#include <set>

#include "weightgate/core/file.h"
#include "weightgate/package/oci_layout.h"
#include "write_batcher.h"

namespace wg::package {
namespace {

namespace fs = std::filesystem;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string BlobPath(const std::string& root, const std::string& digest) {
  return (fs::path(root) / "blobs" / "sha256" / digest.substr(7)).string();
}

}  // namespace

std::string PullStagingPath(const std::string& out_path) {
  fs::path p = fs::absolute(fs::path(out_path)).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return (p.parent_path() / ("." + p.filename().string() + ".pull")).string();
}

Result<PushResult> PushPackage(const std::string& package_path, const ImageReference& ref,
                               const RegistryOptions& options, const std::string& local_tag) {
  WG_ASSIGN_OR_RETURN(auto reader, oci::LayoutReader::Open(package_path));
  oci::Descriptor mdesc;
  WG_ASSIGN_OR_RETURN(oci::Manifest manifest, reader->ReadManifest(local_tag, &mdesc));
  // The manifest's own bytes, verified: re-serialising could change its digest.
  WG_ASSIGN_OR_RETURN(std::string manifest_bytes, reader->ReadVerified(mdesc, "manifest"));
  if (!ref.digest.empty() && ref.digest != mdesc.digest)
    return Error::Mismatch("the reference names another manifest digest than the package holds")
        .File(package_path)
        .Expected(ref.digest)
        .Found(mdesc.digest);

  std::vector<std::pair<oci::Descriptor, std::string>> blobs;
  blobs.emplace_back(manifest.config, "config");
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    std::string path = manifest.layers[i].Annotation(oci::kAnnotationFilepath);
    blobs.emplace_back(manifest.layers[i],
                       "layer " + std::to_string(i) + (path.empty() ? "" : " (" + path + ")"));
  }
  PushResult result;
  std::set<std::string> seen;
  for (const auto& [d, what] : blobs)
    if (seen.insert(d.digest).second) result.blob_bytes += d.size;

  WG_ASSIGN_OR_RETURN(auto client, RegistryClient::Create(ref.ApiHost(), options));
  client->BeginProgress("push " + ref.ToString(), result.blob_bytes);
  seen.clear();
  for (const auto& [d, what] : blobs) {
    if (!seen.insert(d.digest).second) continue;  // a blob named twice goes once
    WG_ASSIGN_OR_RETURN(oci::BlobData data, reader->Blob(d, what));
    Status s =
        client->PushBlob(ref.repository, d.digest, data.file->path(), data.offset, data.size);
    if (!s.ok()) return std::move(s).error().Field(what);
  }
  client->EndProgress();
  std::string target = ref.tag.empty() ? mdesc.digest : ref.tag;
  std::string media_type =
      mdesc.media_type.empty() ? std::string(oci::kOciManifest) : mdesc.media_type;
  WG_ASSIGN_OR_RETURN(result.manifest_digest,
                      client->PushManifest(ref.repository, target, media_type, manifest_bytes));
  result.manifest_size = manifest_bytes.size();
  result.stats = client->stats();
  return result;
}

namespace {

// An index (what `oras` or a multi-platform push may put behind a tag) is followed to the one
// model manifest it lists: the manifest whose artifactType is ModelPack's, else its only
// manifest. Several candidates are ambiguous; the error lists their digests to pull by.
Result<FetchedManifest> ResolveIndex(RegistryClient& client, const ImageReference& ref,
                                     const FetchedManifest& fetched) {
  WG_ASSIGN_OR_RETURN(oci::Index index,
                      oci::Index::Parse(fetched.bytes, ref.ToString() + " index"));
  std::vector<const oci::Descriptor*> models, manifests;
  for (const auto& d : index.manifests) {
    if (d.media_type != oci::kOciManifest) continue;
    manifests.push_back(&d);
    if (d.artifact_type == oci::kModelArtifactType) models.push_back(&d);
  }
  const auto& candidates = models.empty() ? manifests : models;
  if (candidates.size() != 1) {
    std::string found;
    for (const auto* d : candidates) found += (found.empty() ? "" : ", ") + d->digest;
    return Error::Unsupported(candidates.empty()
                                  ? "the index lists no OCI image manifest to pull"
                                  : "the index lists several manifests; pull one by digest")
        .Field(ref.ToString())
        .Expected("one model manifest (artifactType " + std::string(oci::kModelArtifactType) + ")")
        .Found(found.empty() ? std::to_string(index.manifests.size()) + " other entries" : found);
  }
  WG_ASSIGN_OR_RETURN(FetchedManifest m,
                      client.PullManifest(ref.repository, candidates[0]->digest));
  if (m.digest != candidates[0]->digest)
    return Error::Mismatch("manifest digest differs from the index entry")
        .Field(ref.ToString())
        .Expected(candidates[0]->digest)
        .Found(m.digest);
  return m;
}

Result<PullResult> PullInto(const ImageReference& ref, const std::string& out_path,
                            const std::string& staging, const RegistryOptions& options) {
  std::error_code ec;
  bool tar = EndsWith(out_path, ".tar");

  WG_ASSIGN_OR_RETURN(auto client, RegistryClient::Create(ref.ApiHost(), options));
  WG_ASSIGN_OR_RETURN(FetchedManifest fetched,
                      client->PullManifest(ref.repository, ref.ManifestRef()));
  if (!ref.digest.empty() && fetched.digest != ref.digest)
    return Error::Mismatch("manifest digest differs from the reference")
        .Expected(ref.digest)
        .Found(fetched.digest);
  if (fetched.media_type == oci::kOciIndex) {
    WG_ASSIGN_OR_RETURN(fetched, ResolveIndex(*client, ref, fetched));
  }
  if (!fetched.media_type.empty() && fetched.media_type != oci::kOciManifest)
    return Error::Unsupported("only OCI image manifests can be pulled as a package")
        .Field(ref.ToString())
        .Expected(std::string(oci::kOciManifest))
        .Found(fetched.media_type);
  // Parsing validates every descriptor: sha256 digests only, so no name can leave blobs/.
  WG_ASSIGN_OR_RETURN(oci::Manifest manifest,
                      oci::Manifest::Parse(fetched.bytes, ref.ToString() + " manifest"));

  // Layers, then config, then manifest: the order pack writes, so that pulling a packed .tar
  // gives back the same bytes.
  std::vector<oci::Descriptor> blobs;
  std::set<std::string> seen;
  for (const auto& d : manifest.layers)
    if (seen.insert(d.digest).second) blobs.push_back(d);
  if (seen.insert(manifest.config.digest).second) blobs.push_back(manifest.config);
  PullResult result;
  for (const auto& d : blobs) result.blob_bytes += d.size;

  oci::Descriptor mdesc;
  mdesc.media_type = std::string(oci::kOciManifest);
  mdesc.digest = fetched.digest;
  mdesc.size = fetched.bytes.size();
  mdesc.artifact_type = manifest.artifact_type;
  if (!ref.tag.empty()) mdesc.annotations[std::string(oci::kAnnotationRefName)] = ref.tag;
  oci::Index index;
  index.manifests.push_back(mdesc);

  if (tar) {
    // Straight into the tar: each blob is written and hashed once, as it arrives (a staging
    // folder would write every byte twice). The tar is built under a temporary name, so a
    // failed pull leaves nothing; within one pull a dropped connection resumes by Range.
    oci::WriterOptions wo;
    wo.tar = true;
    WG_ASSIGN_OR_RETURN(auto writer, oci::LayoutWriter::Create(out_path, wo));
    client->BeginProgress("pull " + ref.ToString(), result.blob_bytes);
    for (const auto& d : blobs) {
      WG_ASSIGN_OR_RETURN(auto blob, writer->BeginBlob(d.size, d.media_type, d.digest));
      WriteBatcher batch([&](Bytes b) { return blob->Write(b); }, d.size);
      WG_TRY(client->PullBlobStream(ref.repository, d.digest, d.size,
                                    [&](Bytes b) { return batch.Add(b); }));
      WG_TRY(batch.Flush());
      Result<oci::Descriptor> added = blob->Finish();
      if (!added.ok()) return std::move(added).error().Field(ref.repository + "@" + d.digest);
    }
    client->EndProgress();
    WG_ASSIGN_OR_RETURN(oci::Descriptor added, writer->AddBytes(fetched.bytes, oci::kOciManifest));
    (void)added;
    WG_TRY(writer->Commit(index));
  } else {
    FileSystem& fsys = FileSystem::Default();
    const std::string blob_dir = (fs::path(staging) / "blobs" / "sha256").string();
    WG_TRY(CreateDirs(blob_dir, fsys));
    client->BeginProgress("pull " + ref.ToString(), result.blob_bytes);
    for (const auto& d : blobs)
      WG_TRY(client->PullBlob(ref.repository, d.digest, static_cast<int64_t>(d.size),
                              BlobPath(staging, d.digest)));
    client->EndProgress();
    // Leftovers of an earlier, different pull into the same output do not belong here.
    seen.insert(fetched.digest);
    std::vector<std::string> leftovers;
    for (const auto& e : fs::directory_iterator(blob_dir, ec))
      if (!seen.count("sha256:" + e.path().filename().string()))
        leftovers.push_back(e.path().string());
    for (const auto& p : leftovers) WG_TRY(fsys.RemoveAll(p));
    WG_TRY(WriteFileAtomically(BlobPath(staging, fetched.digest), fetched.bytes));
    WG_TRY(WriteFileAtomically((fs::path(staging) / oci::kOciLayoutFile).string(),
                               oci::kOciLayoutContent));
    WG_TRY(WriteFileAtomically((fs::path(staging) / oci::kIndexFile).string(), index.Serialize()));
    WG_TRY(fsys.SyncDir(blob_dir));
    WG_TRY(fsys.SyncDir((fs::path(staging) / "blobs").string()));
    WG_TRY(fsys.SyncDir(staging));
    // Never over anything that appeared meanwhile, not even an empty folder.
    Status moved = fsys.RenameNoReplace(staging, out_path);
    if (!moved.ok() && fs::exists(fs::symlink_status(out_path, ec)))
      return Error::Io("output appeared while pulling; staging kept").File(out_path).Found(staging);
    WG_TRY(moved);
    WG_TRY(fsys.SyncDir(fs::path(fs::absolute(out_path)).parent_path().string()));
  }
  result.manifest_digest = fetched.digest;
  result.stats = client->stats();
  return result;
}

}  // namespace

Result<PullResult> PullPackage(const ImageReference& ref, const std::string& out_path,
                               const RegistryOptions& options) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(out_path, ec)))
    return Error::Usage("output already exists; remove it or choose another path").File(out_path);
  std::string staging = PullStagingPath(out_path);
  auto r = PullInto(ref, out_path, staging, options);
  // A transfer that failed (network, disk) keeps its staging folder so the next pull resumes;
  // content that is wrong (digest, malformed manifest, missing blob) is not worth keeping.
  if (!r.ok() && r.error().code() != ErrorCode::kIo) (void)FileSystem::Default().RemoveAll(staging);
  return r;
}

}  // namespace wg::package
