// LayoutReader: an OCI image layout in a folder or in an uncompressed tar.
//
// Both forms hand out blobs as spans of memory-mapped files: a folder's blob files, or
// the tar itself (libarchive reads the tar from the map, and an entry's data offset is
// where libarchive's zero-copy data pointer lies in it). Every check that makes a
// package safe to open happens here, once, before any caller sees a blob.
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "weightgate/core/hash.h"
#include "weightgate/package/oci_layout.h"

namespace wg::oci {
namespace {

constexpr uint64_t kChunk = 8 << 20;
constexpr uint64_t kMaxSmallFile = 16 << 20;  // index.json, oci-layout

std::string BlobName(const std::string& digest) {
  return "blobs/sha256/" + digest.substr(digest.find(':') + 1);
}

std::string Describe(const Descriptor& d, const std::string& what) {
  return what.empty() ? "blob " + d.digest : what + " (blob " + d.digest + ")";
}

Status CheckLayoutVersion(std::string_view text, const std::string& where) {
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("imageLayoutVersion") ||
      !j["imageLayoutVersion"].is_string())
    return Error::Malformed("not an OCI layout marker")
        .File(where)
        .Expected(std::string(kOciLayoutContent));
  std::string v = j["imageLayoutVersion"].get<std::string>();
  if (v != "1.0.0")
    return Error::Unsupported("unsupported OCI layout version")
        .File(where)
        .Expected("1.0.0")
        .Found(v);
  return Ok();
}

Status CheckBlobSize(const Descriptor& d, uint64_t actual, const std::string& file,
                     const std::string& what) {
  if (actual != d.size)
    return Error::Mismatch("blob size disagrees with its descriptor")
        .File(file)
        .Field(Describe(d, what))
        .Expected(std::to_string(d.size) + " bytes")
        .Found(std::to_string(actual) + " bytes");
  return Ok();
}

// ---- folder ----

class FolderReader final : public LayoutReader {
 public:
  static Result<std::unique_ptr<LayoutReader>> Open(const std::string& dir) {
    auto r = std::unique_ptr<FolderReader>(new FolderReader());
    r->path_ = dir;
    WG_ASSIGN_OR_RETURN(std::string marker, r->ReadRegular(std::string(kOciLayoutFile)));
    WG_TRY(CheckLayoutVersion(marker, r->Join(std::string(kOciLayoutFile))));
    WG_ASSIGN_OR_RETURN(std::string index, r->ReadRegular(std::string(kIndexFile)));
    WG_ASSIGN_OR_RETURN(r->index_, Index::Parse(index, r->Join(std::string(kIndexFile))));
    return std::unique_ptr<LayoutReader>(std::move(r));
  }

  bool is_tar() const override { return false; }

  std::vector<std::string> BlobDigests() const override {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(Join("blobs/sha256"), ec)) {
      std::string d = "sha256:" + e.path().filename().string();
      if (ValidateDigest(d).ok() && e.is_regular_file() && !e.is_symlink()) out.push_back(d);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  bool HasBlob(const std::string& digest) const override {
    if (!ValidateDigest(digest).ok()) return false;
    struct stat st {};
    return ::lstat(Join(BlobName(digest)).c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }

  Result<BlobData> Blob(const Descriptor& d, const std::string& what) const override {
    Status valid = ValidateDigest(d.digest);
    if (!valid.ok()) return std::move(valid).error().File(path_).Field(Describe(d, what));
    std::string file = Join(BlobName(d.digest));
    struct stat st {};
    if (::lstat(file.c_str(), &st) != 0)
      return Error::Malformed("blob missing from the package").File(path_).Field(Describe(d, what));
    if (!S_ISREG(st.st_mode))
      return Error::Unsafe("blob is not a regular file (link or device refused)")
          .File(file)
          .Field(Describe(d, what));
    WG_TRY(CheckBlobSize(d, static_cast<uint64_t>(st.st_size), file, what));
    WG_ASSIGN_OR_RETURN(auto mf, MappedFile::Open(file));
    WG_TRY(CheckBlobSize(d, mf->size(), file, what));  // changed since lstat
    BlobData b;
    b.file = std::move(mf);
    b.size = d.size;
    return b;
  }

 private:
  std::string Join(const std::string& rel) const {
    return (std::filesystem::path(path_) / rel).string();
  }

  Result<std::string> ReadRegular(const std::string& rel) const {
    std::string file = Join(rel);
    struct stat st {};
    if (::lstat(file.c_str(), &st) != 0)
      return Error::Malformed("not an OCI layout: " + rel + " missing").File(path_);
    if (!S_ISREG(st.st_mode)) return Error::Unsafe("not a regular file").File(file);
    return ReadSmallFile(file, kMaxSmallFile);
  }
};

// ---- tar ----

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

class TarReader final : public LayoutReader {
 public:
  static Result<std::unique_ptr<LayoutReader>> Open(const std::string& path) {
    auto r = std::unique_ptr<TarReader>(new TarReader());
    r->path_ = path;
    WG_ASSIGN_OR_RETURN(r->map_, MappedFile::Open(path));
    WG_TRY(r->Scan());
    auto marker = r->entries_.find(std::string(kOciLayoutFile));
    if (marker == r->entries_.end())
      return Error::Malformed("not an OCI layout tar: no oci-layout entry").File(path);
    WG_TRY(CheckLayoutVersion(r->Text(marker->second), path + ": oci-layout"));
    auto index = r->entries_.find(std::string(kIndexFile));
    if (index == r->entries_.end())
      return Error::Malformed("not an OCI layout tar: no index.json entry").File(path);
    if (index->second.size > kMaxSmallFile)
      return Error::Malformed("index.json too large")
          .File(path)
          .Expected("at most " + std::to_string(kMaxSmallFile) + " bytes");
    WG_ASSIGN_OR_RETURN(r->index_, Index::Parse(r->Text(index->second), path + ": index.json"));
    return std::unique_ptr<LayoutReader>(std::move(r));
  }

  bool is_tar() const override { return true; }

  std::vector<std::string> BlobDigests() const override {
    std::vector<std::string> out;
    for (const auto& [name, e] : entries_)
      if (name.rfind("blobs/sha256/", 0) == 0) out.push_back("sha256:" + name.substr(13));
    return out;  // map order = sorted
  }

  bool HasBlob(const std::string& digest) const override {
    return ValidateDigest(digest).ok() && entries_.count(BlobName(digest)) > 0;
  }

  Result<BlobData> Blob(const Descriptor& d, const std::string& what) const override {
    Status valid = ValidateDigest(d.digest);
    if (!valid.ok()) return std::move(valid).error().File(path_).Field(Describe(d, what));
    auto it = entries_.find(BlobName(d.digest));
    if (it == entries_.end())
      return Error::Malformed("blob missing from the package").File(path_).Field(Describe(d, what));
    WG_TRY(CheckBlobSize(d, it->second.size, path_ + ": " + it->first, what));
    BlobData b;
    b.file = map_;
    b.offset = it->second.offset;
    b.size = it->second.size;
    return b;
  }

 private:
  struct Entry {
    uint64_t offset = 0;
    uint64_t size = 0;
  };

  std::string_view Text(const Entry& e) const {
    return {reinterpret_cast<const char*>(map_->bytes().data()) + e.offset, e.size};
  }

  Error TarError(archive* a, const std::string& what) const {
    const char* msg = archive_error_string(a);
    return Error::Malformed(what + (msg ? std::string(": ") + msg : std::string()))
        .File(path_)
        .Offset(static_cast<uint64_t>(archive_read_header_position(a)));
  }

  // Walks every header once: refuses what a layout never holds, records where each
  // regular file's data lies in the map, and detects truncation.
  Status Scan() {
    std::unique_ptr<archive, ArchiveDeleter> a(archive_read_new());
    archive_read_support_format_tar(a.get());
    const uint8_t* base = map_->bytes().data();
    uint64_t total = map_->size();
    if (total == 0) return Error::Malformed("empty file is not an OCI layout tar").File(path_);
    if (archive_read_open_memory(a.get(), base, total) != ARCHIVE_OK)
      return TarError(a.get(), "not a tar archive");
    std::set<std::string> seen;
    for (;;) {
      archive_entry* e = nullptr;
      int rc = archive_read_next_header(a.get(), &e);
      if (rc == ARCHIVE_EOF) break;
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
        return TarError(a.get(), seen.empty() ? "not a tar archive" : "corrupt or truncated tar");
      const char* raw = archive_entry_pathname(e);
      std::string name = raw ? raw : "";
      std::string shown = "tar entry '" + name + "'";
      uint64_t header_at = static_cast<uint64_t>(archive_read_header_position(a.get()));
      while (name.rfind("./", 0) == 0) name.erase(0, 2);
      while (!name.empty() && name.back() == '/') name.pop_back();
      if (archive_entry_hardlink(e))
        return Error::Unsafe("hard link entry refused").File(path_).Offset(header_at).Field(shown);
      mode_t type = archive_entry_filetype(e);
      if (type == AE_IFLNK)
        return Error::Unsafe("symbolic link entry refused")
            .File(path_)
            .Offset(header_at)
            .Field(shown);
      if (type != AE_IFREG && type != AE_IFDIR)
        return Error::Unsafe("device, fifo or other special entry refused")
            .File(path_)
            .Offset(header_at)
            .Field(shown);
      if (name.empty() && type == AE_IFREG)
        return Error::Unsafe("entry with an empty name").File(path_).Offset(header_at);
      if (name.find("..") != std::string::npos || (raw && raw[0] == '/') ||
          name.find('\\') != std::string::npos)
        return Error::Unsafe("entry name escapes the layout")
            .File(path_)
            .Offset(header_at)
            .Field(shown);
      if (!seen.insert(name).second)
        return Error::Unsafe("duplicate entry").File(path_).Offset(header_at).Field(shown);
      if (type == AE_IFDIR) continue;
      if (archive_entry_sparse_count(e) > 0)
        return Error::Unsupported("sparse entry").File(path_).Offset(header_at).Field(shown);
      if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0)
        return Error::Malformed("entry without a size").File(path_).Offset(header_at).Field(shown);
      Entry ent;
      ent.size = static_cast<uint64_t>(archive_entry_size(e));
      // The data: libarchive hands out pointers into the map; they must be one run.
      uint64_t got = 0;
      bool first = true;
      for (;;) {
        const void* buf = nullptr;
        size_t n = 0;
        la_int64_t off = 0;
        int drc = archive_read_data_block(a.get(), &buf, &n, &off);
        if (drc == ARCHIVE_EOF) break;
        if (drc != ARCHIVE_OK && drc != ARCHIVE_WARN)
          return TarError(a.get(), "truncated or corrupt data in " + shown);
        if (n == 0) continue;
        const uint8_t* p = static_cast<const uint8_t*>(buf);
        if (p < base || p + n > base + total)
          return Error::Unsupported("tar data not in place (compressed tar?)")
              .File(path_)
              .Field(shown);
        uint64_t at = static_cast<uint64_t>(p - base);
        if (first) {
          ent.offset = at;
          first = false;
        } else if (at != ent.offset + got || static_cast<uint64_t>(off) != got) {
          return Error::Unsupported("tar entry data not contiguous").File(path_).Field(shown);
        }
        got += n;
      }
      if (got != ent.size)
        return Error::Malformed("tar truncated inside an entry")
            .File(path_)
            .Offset(header_at)
            .Field(shown)
            .Expected(std::to_string(ent.size) + " bytes")
            .Found(std::to_string(got) + " bytes");
      if (name.rfind("blobs/", 0) == 0) {
        if (name.rfind("blobs/sha256/", 0) != 0 ||
            !ValidateDigest("sha256:" + name.substr(13)).ok())
          return Error::Malformed("blob entry not named by a sha256 digest")
              .File(path_)
              .Offset(header_at)
              .Field(shown);
      }
      entries_[name] = ent;
    }
    return Ok();
  }

  std::shared_ptr<MappedFile> map_;
  std::map<std::string, Entry> entries_;
};

}  // namespace

Result<std::unique_ptr<LayoutReader>> LayoutReader::Open(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Error::FromErrno("cannot open package", path);
  if (S_ISDIR(st.st_mode)) return FolderReader::Open(path);
  return TarReader::Open(path);
}

Result<std::string> LayoutReader::ReadVerified(const Descriptor& d, const std::string& what,
                                               uint64_t max_bytes) const {
  if (d.size > max_bytes)
    return Error::Malformed("blob too large to read whole")
        .File(path_)
        .Field(Describe(d, what))
        .Expected("at most " + std::to_string(max_bytes) + " bytes")
        .Found(std::to_string(d.size));
  std::string out;
  out.reserve(d.size);
  WG_TRY(Stream(
      d,
      [&](Bytes b) {
        out.append(reinterpret_cast<const char*>(b.data()), b.size());
        return Ok();
      },
      nullptr, what));
  return out;
}

Status LayoutReader::Stream(const Descriptor& d, const BlobSink& sink, Progress* progress,
                            const std::string& what) const {
  WG_ASSIGN_OR_RETURN(BlobData b, Blob(d, what));
  auto hasher = Hasher::Create(HashAlgo::kSha256);
  for (uint64_t off = 0; off < b.size; off += kChunk) {
    uint64_t n = std::min(kChunk, b.size - off);
    b.file->WillNeed(b.offset + off + n, kChunk);
    Bytes chunk = b.file->bytes().subspan(b.offset + off, n);
    hasher->Update(chunk);
    WG_TRY(sink(chunk));
    if (progress) progress->Add(n);
    b.file->Release(b.offset + off, n);
  }
  std::string actual = hasher->Finish().Prefixed();
  if (actual != d.digest)
    return Error::Mismatch("blob content does not match its digest (tampered or corrupt)")
        .File(path_)
        .Field(Describe(d, what))
        .Expected(d.digest)
        .Found(actual);
  return Ok();
}

Result<Manifest> LayoutReader::ReadManifest(const std::string& ref, Descriptor* descriptor) const {
  const Descriptor* chosen = nullptr;
  if (!ref.empty()) {
    for (const auto& m : index_.manifests)
      if (m.Annotation(kAnnotationRefName) == ref) chosen = &m;
    if (!chosen) return Error::Usage("no manifest tagged '" + ref + "' in the index").File(path_);
  } else if (index_.manifests.size() == 1) {
    chosen = &index_.manifests[0];
  } else {
    for (const auto& m : index_.manifests)
      if (m.artifact_type == kModelArtifactType) {
        if (chosen)
          return Error::Usage("index lists several model manifests; name one by its tag")
              .File(path_);
        chosen = &m;
      }
    if (!chosen)
      return Error::Malformed("index lists no model manifest")
          .File(path_)
          .Field("index.json")
          .Found(std::to_string(index_.manifests.size()) + " manifests");
  }
  if (chosen->media_type != kOciManifest)
    return Error::Unsupported("index entry is not an OCI image manifest")
        .File(path_)
        .Field("index.json")
        .Expected(std::string(kOciManifest))
        .Found(chosen->media_type);
  WG_ASSIGN_OR_RETURN(std::string text, ReadVerified(*chosen, "manifest", 4 << 20));
  if (descriptor) *descriptor = *chosen;
  return Manifest::Parse(text, path_ + ": manifest " + chosen->digest);
}

}  // namespace wg::oci
