// LayoutWriter: writes an OCI image layout as a folder or as one tar, deterministically
// and atomically, hashing every blob in the same pass that copies it.
//
// Every byte, fsync and rename goes through the core FileSystem seam (core/file.h), so
// tests fail each one in turn (tests/fault_injection_test.cpp).
//
// Folder: blobs go to a temporary folder beside the output, which is renamed into place
// on Commit. A file is cloned (reflink) when the file system can (no data is copied;
// the clone is then read once to hash it), otherwise its memory map is hashed and
// written piece by piece. Hard links are never used: they would share the inode with
// the source, so a later edit to the source would silently change the package.
//
// Tar: a blob's name is its digest, which is known only after its bytes have passed, so
// each blob entry is written with a placeholder name of the same length and its header
// rewritten in place afterwards. libarchive produces every header (pax-restricted: plain
// ustar unless a size or name needs pax records); the writer streams the data itself
// from the source's map, so nothing is buffered. A blob already present (same digest) is
// truncated away again.
#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>
#include <set>

#include "overlapped_hasher.h"
#include "pieces.h"
#include "weightgate/core/hash.h"
#include "weightgate/package/oci_layout.h"

namespace wg::oci {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kBlock = 512;

std::string TempSibling(const std::string& final_path, const char* tag) {
  fs::path p(final_path);
  std::random_device rd;
  char suffix[48];
  std::snprintf(suffix, sizeof suffix, ".wg-%s-%d-%08x", tag, static_cast<int>(::getpid()), rd());
  return (p.parent_path() / ("." + p.filename().string() + suffix)).string();
}

std::string ParentOf(const std::string& path) {
  std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// Blobs and package files: exact modes whatever the umask, written back as they go.
constexpr WritableFileOptions kBlobFile{0644, true};

Result<std::unique_ptr<WritableFile>> CreateBlobFile(const std::string& path) {
  return FileSystem::Default().NewWritableFile(path, kBlobFile);
}

// Moves `from` to `to`; without `replace` refuses to overwrite anything at `to`.
Status MoveIntoPlace(const std::string& from, const std::string& to, bool replace, bool is_dir) {
  FileSystem& fsys = FileSystem::Default();
  if (!replace) {
    WG_TRY(fsys.RenameNoReplace(from, to));
  } else if (is_dir && fs::exists(to)) {
    // A folder cannot be renamed over a non-empty one: swap them, then drop the old.
    WG_TRY(fsys.Exchange(from, to));
    (void)fsys.RemoveAll(from);
  } else {
    WG_TRY(fsys.Rename(from, to));
  }
  return fsys.SyncDir(ParentOf(to));
}

Status CheckOutputFree(const std::string& path, const WriterOptions& o) {
  if (fs::path(path).filename().empty())
    return Error::Usage("output path names no file or folder").File(path);
  std::error_code ec;
  if (!o.replace && fs::symlink_status(path, ec).type() != fs::file_type::not_found)
    return Error::Usage("output already exists; remove it or choose another path").File(path);
  return Ok();
}

Status CheckFinish(uint64_t size, uint64_t written, const std::string& expected,
                   const std::string& actual, const std::string& where) {
  if (written != size)
    return Error::Mismatch("blob size differs from the size announced")
        .File(where)
        .Expected(std::to_string(size) + " bytes")
        .Found(std::to_string(written) + " bytes");
  if (!expected.empty() && expected != actual)
    return Error::Mismatch("blob content does not match its digest")
        .File(where)
        .Expected(expected)
        .Found(actual);
  return Ok();
}

// Bytes from a source file, mapped; hashed and handed to `write` piece by piece.
Status CopyHashing(const MappedFile& src, Hasher* h, Progress* progress,
                   const std::function<Status(Bytes)>& write) {
  std::optional<internal::OverlappedHasher> overlap;
  if (h && write) overlap.emplace(h);
  return internal::ForEachPiece(src, 0, src.size(), [&](Bytes piece) -> Status {
    if (overlap) {
      WG_TRY(overlap->HashAndWrite(piece, [&] { return write(piece); }));
    } else {
      if (h) h->Update(piece);
      if (write) WG_TRY(write(piece));
    }
    if (progress) progress->Add(piece.size());
    return Ok();
  });
}

// ---- folder ----

class FolderWriter;

class FolderBlobWriter final : public BlobWriter {
 public:
  FolderBlobWriter(FolderWriter* owner, std::string tmp, std::unique_ptr<WritableFile> file,
                   uint64_t size, std::string mt, std::string expected)
      : owner_(owner),
        tmp_(std::move(tmp)),
        file_(std::move(file)),
        size_(size),
        mt_(std::move(mt)),
        expected_(std::move(expected)),
        hasher_(Hasher::Create(HashAlgo::kSha256)) {}
  ~FolderBlobWriter() override {
    file_.reset();
    if (!done_) (void)FileSystem::Default().Remove(tmp_);
  }
  Status Write(Bytes data) override {
    if (written_ + data.size() > size_)
      return Error::Mismatch("blob longer than announced")
          .File(tmp_)
          .Expected(std::to_string(size_) + " bytes");
    WG_TRY(overlap_.HashAndWrite(data, [&] { return file_->WriteAt(written_, data); }));
    written_ += data.size();
    return Ok();
  }
  Result<Descriptor> Finish() override;

 private:
  FolderWriter* owner_;
  std::string tmp_;
  std::unique_ptr<WritableFile> file_;
  uint64_t size_;
  std::string mt_;
  std::string expected_;
  std::unique_ptr<Hasher> hasher_;
  internal::OverlappedHasher overlap_{hasher_.get()};
  uint64_t written_ = 0;
  bool done_ = false;
};

class FolderWriter final : public LayoutWriter {
 public:
  static Result<std::unique_ptr<LayoutWriter>> Create(const std::string& path,
                                                      const WriterOptions& o) {
    WG_TRY(CheckOutputFree(path, o));
    auto w = std::unique_ptr<FolderWriter>(new FolderWriter());
    w->final_ = path;
    w->opts_ = o;
    w->tmp_ = TempSibling(path, "tmp");
    WG_TRY(CreateDirs(w->tmp_ + "/blobs/sha256"));
    return std::unique_ptr<LayoutWriter>(std::move(w));
  }
  ~FolderWriter() override {
    if (!committed_) (void)FileSystem::Default().RemoveAll(tmp_);
  }

  Result<Descriptor> AddFile(const std::string& src, std::string_view media_type,
                             Progress* progress) override {
    WG_ASSIGN_OR_RETURN(auto map, MappedFile::Open(src));
    std::string tmp = NextIncoming();
    WG_ASSIGN_OR_RETURN(auto file, CreateBlobFile(tmp));
    auto h = Hasher::Create(HashAlgo::kSha256);
    Status s = [&]() -> Status {
      if (opts_.reflink) {
        WG_ASSIGN_OR_RETURN(bool cloned, file->CloneFrom(src));
        if (cloned) {
          reflinked_ += map->size();
          // Hash what the package holds (the clone), not the source, which could change.
          WG_ASSIGN_OR_RETURN(auto clone, MappedFile::Open(tmp));
          if (clone->size() != map->size())
            return Error::Io("source changed while it was cloned").File(src);
          WG_TRY(CopyHashing(*clone, h.get(), progress, nullptr));
          return file->Sync();
        }
      }
      uint64_t at = 0;
      WG_TRY(CopyHashing(*map, h.get(), progress, [&](Bytes b) -> Status {
        WG_TRY(file->WriteAt(at, b));
        at += b.size();
        return Ok();
      }));
      return file->Sync();
    }();
    if (s.ok()) s = file->Close();
    file.reset();
    if (!s.ok()) {
      (void)FileSystem::Default().Remove(tmp);
      return std::move(s).error().File(src);
    }
    return Place(tmp, h->Finish().Prefixed(), map->size(), media_type);
  }

  Result<Descriptor> AddBytes(std::string_view data, std::string_view media_type) override {
    WG_ASSIGN_OR_RETURN(auto bw, BeginBlob(data.size(), media_type, ""));
    WG_TRY(bw->Write(Bytes(reinterpret_cast<const uint8_t*>(data.data()), data.size())));
    return bw->Finish();
  }

  Result<std::unique_ptr<BlobWriter>> BeginBlob(uint64_t size, std::string_view media_type,
                                                std::string expected_digest) override {
    if (!expected_digest.empty()) WG_TRY(ValidateDigest(expected_digest));
    std::string tmp = NextIncoming();
    WG_ASSIGN_OR_RETURN(auto file, CreateBlobFile(tmp));
    return std::unique_ptr<BlobWriter>(new FolderBlobWriter(
        this, tmp, std::move(file), size, std::string(media_type), std::move(expected_digest)));
  }

  Status Commit(const Index& index) override {
    WG_TRY(WriteSmall(std::string(kOciLayoutFile), kOciLayoutContent));
    WG_TRY(WriteSmall(std::string(kIndexFile), index.Serialize()));
    FileSystem& fsys = FileSystem::Default();
    WG_TRY(fsys.SyncDir(tmp_ + "/blobs/sha256"));
    WG_TRY(fsys.SyncDir(tmp_ + "/blobs"));
    WG_TRY(fsys.SyncDir(tmp_));
    WG_TRY(MoveIntoPlace(tmp_, final_, opts_.replace, true));
    committed_ = true;
    return Ok();
  }

  // Moves a finished temporary blob to its digest name (or drops it if already there).
  Result<Descriptor> Place(const std::string& tmp, const std::string& digest, uint64_t size,
                           std::string_view media_type) {
    FileSystem& fsys = FileSystem::Default();
    std::string dest = tmp_ + "/blobs/sha256/" + digest.substr(7);
    if (fs::exists(dest)) {
      (void)fsys.Remove(tmp);
    } else {
      Status moved = fsys.Rename(tmp, dest);
      if (!moved.ok()) {
        (void)fsys.Remove(tmp);
        return std::move(moved).error();
      }
    }
    Descriptor d;
    d.media_type = std::string(media_type);
    d.digest = digest;
    d.size = size;
    return d;
  }

 private:
  std::string NextIncoming() { return tmp_ + "/blobs/sha256/.incoming-" + std::to_string(next_++); }
  Status WriteSmall(const std::string& rel, std::string_view content) {
    WG_ASSIGN_OR_RETURN(auto file, CreateBlobFile(tmp_ + "/" + rel));
    WG_TRY(file->Append(Bytes(reinterpret_cast<const uint8_t*>(content.data()), content.size())));
    WG_TRY(file->Sync());
    return file->Close();
  }

  std::string final_, tmp_;
  WriterOptions opts_;
  bool committed_ = false;
  uint64_t next_ = 0;
  uint64_t reflinked_ = 0;
};

Result<Descriptor> FolderBlobWriter::Finish() {
  std::string actual = hasher_->Finish().Prefixed();
  WG_TRY(CheckFinish(size_, written_, expected_, actual, tmp_));
  WG_TRY(file_->Sync());
  WG_TRY(file_->Close());
  file_.reset();
  done_ = true;
  return owner_->Place(tmp_, actual, size_, mt_);
}

// ---- tar ----

// One tar header (pax records included when needed) as libarchive writes it.
Result<std::string> TarHeader(const std::string& name, uint64_t size, bool dir, int64_t mtime) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_per_block(a, 0);
  auto write_cb = [](archive*, void* ctx, const void* buf, size_t n) -> la_ssize_t {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
  archive_entry_set_perm(e, dir ? 0755 : 0644);
  archive_entry_set_size(e, dir ? 0 : static_cast<la_int64_t>(size));
  archive_entry_set_mtime(e, mtime, 0);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  int rc = archive_write_open(a, &out, nullptr, write_cb, nullptr);
  if (rc == ARCHIVE_OK) rc = archive_write_header(a, e);
  std::string err =
      rc == ARCHIVE_OK ? "" : (archive_error_string(a) ? archive_error_string(a) : "?");
  archive_entry_free(e);
  archive_write_fail(a);  // the entry's data is written by the caller: close nothing
  archive_write_free(a);
  if (!err.empty()) return Error::Io("libarchive cannot write a tar header: " + err).File(name);
  if (out.size() % kBlock != 0) return Error::Io("tar header not block aligned").File(name);
  return out;
}

class TarWriter;

class TarBlobWriter final : public BlobWriter {
 public:
  TarBlobWriter(TarWriter* owner, uint64_t size, std::string mt, std::string expected)
      : owner_(owner),
        size_(size),
        mt_(std::move(mt)),
        expected_(std::move(expected)),
        hasher_(Hasher::Create(HashAlgo::kSha256)) {}
  ~TarBlobWriter() override;
  Status Write(Bytes data) override;
  Result<Descriptor> Finish() override;

 private:
  friend class TarWriter;
  TarWriter* owner_;
  uint64_t size_;
  std::string mt_;
  std::string expected_;
  std::unique_ptr<Hasher> hasher_;
  internal::OverlappedHasher overlap_{hasher_.get()};
  uint64_t written_ = 0;
  bool done_ = false;
};

class TarWriter final : public LayoutWriter {
 public:
  static Result<std::unique_ptr<LayoutWriter>> Create(const std::string& path,
                                                      const WriterOptions& o) {
    WG_TRY(CheckOutputFree(path, o));
    auto w = std::unique_ptr<TarWriter>(new TarWriter());
    w->final_ = path;
    w->opts_ = o;
    w->tmp_ = TempSibling(path, "tmp");
    WG_ASSIGN_OR_RETURN(w->file_, CreateBlobFile(w->tmp_));
    w->created_ = true;
    WG_TRY(w->SmallEntry(std::string(kOciLayoutFile), kOciLayoutContent));
    WG_TRY(w->DirEntry("blobs/"));
    WG_TRY(w->DirEntry("blobs/sha256/"));
    return std::unique_ptr<LayoutWriter>(std::move(w));
  }
  ~TarWriter() override {
    file_.reset();
    if (created_ && !committed_) (void)FileSystem::Default().Remove(tmp_);
  }

  Result<Descriptor> AddFile(const std::string& src, std::string_view media_type,
                             Progress* progress) override {
    WG_ASSIGN_OR_RETURN(auto map, MappedFile::Open(src));
    WG_ASSIGN_OR_RETURN(auto bw, BeginBlob(map->size(), media_type, ""));
    Status s =
        CopyHashing(*map, nullptr, progress, [&](Bytes b) -> Status { return bw->Write(b); });
    if (!s.ok()) return std::move(s).error().File(src);
    return bw->Finish();
  }

  Result<Descriptor> AddBytes(std::string_view data, std::string_view media_type) override {
    WG_ASSIGN_OR_RETURN(auto bw, BeginBlob(data.size(), media_type, ""));
    WG_TRY(bw->Write(Bytes(reinterpret_cast<const uint8_t*>(data.data()), data.size())));
    return bw->Finish();
  }

  Result<std::unique_ptr<BlobWriter>> BeginBlob(uint64_t size, std::string_view media_type,
                                                std::string expected_digest) override {
    if (broken_) return Error::Io("an earlier blob failed; the tar cannot continue").File(tmp_);
    if (open_blob_) return Error::Usage("one blob at a time in a tar").File(tmp_);
    if (!expected_digest.empty()) WG_TRY(ValidateDigest(expected_digest));
    WG_ASSIGN_OR_RETURN(std::string header, TarHeader(Placeholder(), size, false, opts_.mtime));
    entry_start_ = pos_;
    WG_TRY(Append(header));
    data_start_ = pos_;
    open_blob_ = true;
    return std::unique_ptr<BlobWriter>(
        new TarBlobWriter(this, size, std::string(media_type), std::move(expected_digest)));
  }

  Status Commit(const Index& index) override {
    if (broken_ || open_blob_)
      return Error::Io("tar left incomplete by an earlier error").File(tmp_);
    WG_TRY(SmallEntry(std::string(kIndexFile), index.Serialize()));
    std::string eof(2 * kBlock, '\0');  // end-of-archive marker
    WG_TRY(Append(eof));
    WG_TRY(file_->Sync());
    Status closed = file_->Close();
    file_.reset();
    WG_TRY(closed);
    WG_TRY(MoveIntoPlace(tmp_, final_, opts_.replace, false));
    committed_ = true;
    return Ok();
  }

  // ---- used by TarBlobWriter ----
  Status BlobData(Bytes data) {
    Status s = file_->WriteAt(pos_, data);
    if (!s.ok()) broken_ = true;
    pos_ += data.size();
    return s;
  }
  Result<Descriptor> FinishBlob(TarBlobWriter& b) {
    open_blob_ = false;
    std::string actual = b.hasher_->Finish().Prefixed();
    Status ok = CheckFinish(b.size_, b.written_, b.expected_, actual, tmp_);
    if (!ok.ok()) {
      Rewind();
      return std::move(ok).error();
    }
    Descriptor d;
    d.media_type = b.mt_;
    d.digest = actual;
    d.size = b.size_;
    if (!written_.insert(actual).second) {  // same bytes already stored: drop this copy
      Rewind();
      return d;
    }
    WG_TRY(Pad());
    WG_ASSIGN_OR_RETURN(std::string header,
                        TarHeader("blobs/sha256/" + actual.substr(7), b.size_, false, opts_.mtime));
    if (header.size() != data_start_ - entry_start_) {
      broken_ = true;
      return Error::Io("tar header length changed when its name was filled in").File(tmp_);
    }
    Status named = file_->WriteAt(
        entry_start_, Bytes(reinterpret_cast<const uint8_t*>(header.data()), header.size()));
    if (!named.ok()) {
      broken_ = true;
      return std::move(named).error();
    }
    return d;
  }
  void AbandonBlob() {
    open_blob_ = false;
    Rewind();
  }

 private:
  static std::string Placeholder() { return "blobs/sha256/" + std::string(64, '0'); }
  void Rewind() {
    pos_ = entry_start_;
    if (!file_->Truncate(pos_).ok()) broken_ = true;
  }
  Status Append(std::string_view bytes) {
    Status s =
        file_->WriteAt(pos_, Bytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    if (!s.ok()) broken_ = true;
    pos_ += bytes.size();
    return s;
  }
  Status Pad() {
    uint64_t rem = pos_ % kBlock;
    if (rem == 0) return Ok();
    return Append(std::string(kBlock - rem, '\0'));
  }
  Status SmallEntry(const std::string& name, std::string_view content) {
    WG_ASSIGN_OR_RETURN(std::string header, TarHeader(name, content.size(), false, opts_.mtime));
    WG_TRY(Append(header));
    WG_TRY(Append(content));
    return Pad();
  }
  Status DirEntry(const std::string& name) {
    WG_ASSIGN_OR_RETURN(std::string header, TarHeader(name, 0, true, opts_.mtime));
    return Append(header);
  }

  std::string final_, tmp_;
  WriterOptions opts_;
  std::unique_ptr<WritableFile> file_;
  uint64_t pos_ = 0;
  uint64_t entry_start_ = 0, data_start_ = 0;
  bool open_blob_ = false;
  bool broken_ = false;
  bool created_ = false;
  bool committed_ = false;
  std::set<std::string> written_;
};

TarBlobWriter::~TarBlobWriter() {
  if (!done_) owner_->AbandonBlob();
}

Status TarBlobWriter::Write(Bytes data) {
  if (done_) return Error::Usage("blob already finished");
  if (written_ + data.size() > size_)
    return Error::Mismatch("blob longer than announced").Expected(std::to_string(size_) + " bytes");
  written_ += data.size();
  return overlap_.HashAndWrite(data, [&] { return owner_->BlobData(data); });
}

Result<Descriptor> TarBlobWriter::Finish() {
  if (done_) return Error::Usage("blob already finished");
  done_ = true;
  return owner_->FinishBlob(*this);
}

}  // namespace

Result<std::unique_ptr<LayoutWriter>> LayoutWriter::Create(const std::string& path,
                                                           const WriterOptions& options) {
  if (options.tar) return TarWriter::Create(path, options);
  return FolderWriter::Create(path, options);
}

}  // namespace wg::oci
