// File access: one seam for every write, memory maps for every read.
//
// All output in weightgate goes through FileSystem so that tests can inject faults
// (ENOSPC, short writes, a crash between write and rename) at any write of any verb.
// Inputs are memory-mapped read-only: parsers see a bounded byte span and never a
// length they have not checked against it.
//
// Thread safety: FileSystem::Default() is safe to use from any thread. A WritableFile,
// AtomicFile or MappedFile object is used from one thread at a time; the bytes of a
// MappedFile may be read from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "weightgate/core/error.h"

namespace wg {

using Bytes = std::span<const uint8_t>;

// How NewWritableFile creates a file.
struct WritableFileOptions {
  // Non-zero: the file gets exactly these permission bits, whatever the umask (package
  // contents must not depend on who ran the tool). Zero: 0644 less the umask.
  uint32_t mode = 0;
  // Starts write-back of each written range right away, so the disk works while the next
  // bytes are produced and the final fsync finds little left to do (pack, unpack).
  bool write_behind = false;
};

// A file open for writing. Appends are buffered and continue where the last append
// stopped; WriteAt writes at an absolute offset (after flushing the buffer), so a
// writer may go back and fill in a header. Sync() flushes and fsyncs.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(Bytes data) = 0;
  virtual Status WriteAt(uint64_t offset, Bytes data) = 0;
  // Cuts (or extends with zeros) the file to `size` bytes; appends continue from the end.
  virtual Status Truncate(uint64_t size) = 0;
  // Makes this still-empty file share the blocks of `source` (a reflink: no data copied).
  // false, not an error, where the file system cannot; an error only where it tried and
  // failed (out of space, I/O error).
  virtual Result<bool> CloneFrom(const std::string& source) = 0;
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
  // Bytes in the file as written through this object (the largest end written).
  virtual uint64_t Size() const = 0;
};

// Every write of every verb goes through here. Cleanup (Remove, RemoveAll) must succeed
// even after a failure, so a fault-injecting file system never fails those.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // The real file system. Tests may swap it with SetDefaultForTesting.
  static FileSystem& Default();
  static void SetDefaultForTesting(FileSystem* fs);  // nullptr restores the real one

  // Creates a new file; fails if anything (a symbolic link included) is at `path`.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path, const WritableFileOptions& options = {}) = 0;
  // Opens a regular file to continue it (creating it empty if absent), keeping its bytes:
  // Size() starts at its current size and appends continue from there (a download that
  // resumes where an interrupted one stopped). A symbolic link at `path` is refused.
  virtual Result<std::unique_ptr<WritableFile>> ReopenWritableFile(
      const std::string& path, const WritableFileOptions& options = {}) = 0;
  // Renames, replacing a file at `to`.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Renames; fails if anything is at `to` (two writers never overwrite each other).
  virtual Status RenameNoReplace(const std::string& from, const std::string& to) = 0;
  // Swaps two paths atomically (replacing a non-empty folder with another).
  virtual Status Exchange(const std::string& a, const std::string& b) = 0;
  virtual Status Remove(const std::string& path) = 0;
  // Removes a file or a folder with everything in it; absent is not an error.
  virtual Status RemoveAll(const std::string& path) = 0;
  // fsyncs a directory so that a rename inside it survives a crash.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Creates one folder; an existing folder is not an error.
  virtual Status CreateDir(const std::string& dir) = 0;
};

// Forwards every call to another FileSystem; fault-injecting test file systems derive
// from it and override only what they fail.
class FileSystemWrapper : public FileSystem {
 public:
  explicit FileSystemWrapper(FileSystem& target) : target_(target) {}
  FileSystem& target() { return target_; }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path, const WritableFileOptions& options = {}) override {
    return target_.NewWritableFile(path, options);
  }
  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(
      const std::string& path, const WritableFileOptions& options = {}) override {
    return target_.ReopenWritableFile(path, options);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return target_.Rename(from, to);
  }
  Status RenameNoReplace(const std::string& from, const std::string& to) override {
    return target_.RenameNoReplace(from, to);
  }
  Status Exchange(const std::string& a, const std::string& b) override {
    return target_.Exchange(a, b);
  }
  Status Remove(const std::string& path) override { return target_.Remove(path); }
  Status RemoveAll(const std::string& path) override { return target_.RemoveAll(path); }
  Status SyncDir(const std::string& dir) override { return target_.SyncDir(dir); }
  Status CreateDir(const std::string& dir) override { return target_.CreateDir(dir); }

 private:
  FileSystem& target_;
};

// Creates `dir` and any missing parents (mkdir -p) through `fs`.
Status CreateDirs(const std::string& dir, FileSystem& fs = FileSystem::Default());

// A file that appears at its final path complete or not at all. Bytes go to a
// temporary name in the same directory; Commit() fsyncs and renames it into place.
// Destroying an uncommitted AtomicFile removes the temporary file.
class AtomicFile {
 public:
  // `options.mode` 0600 makes a secret file (a private key): the temporary is created
  // with those bits, so the bytes never exist with looser permissions.
  static Result<std::unique_ptr<AtomicFile>> Create(const std::string& final_path,
                                                    FileSystem& fs = FileSystem::Default(),
                                                    const WritableFileOptions& options = {});
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  Status Append(Bytes data);
  Status Append(std::string_view text);
  Status AppendZeros(uint64_t n);
  uint64_t Size() const { return file_->Size(); }
  const std::string& path() const { return final_path_; }
  // Replaces whatever is at the final path.
  Status Commit();
  // Fails, leaving what is there untouched, if anything appeared at the final path.
  Status CommitNoReplace();
  // The file is at its final path (Commit can fail after that, syncing the folder).
  bool committed() const { return committed_; }

 private:
  AtomicFile(FileSystem& fs, std::string final_path, std::string temp_path,
             std::unique_ptr<WritableFile> file);
  Status CommitWith(bool replace);
  FileSystem& fs_;
  std::string final_path_;
  std::string temp_path_;
  std::unique_ptr<WritableFile> file_;
  bool committed_ = false;
};

// A read-only memory map of a whole file.
class MappedFile {
 public:
  static Result<std::shared_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  Bytes bytes() const { return {data_, size_}; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Tells the kernel the range has been consumed so its pages leave this process's
  // resident set: streaming over a 100 GB file keeps RSS flat. The bytes stay readable.
  void Release(uint64_t offset, uint64_t length) const;
  // Hints that the range will be read soon, sequentially.
  void WillNeed(uint64_t offset, uint64_t length) const;

 private:
  MappedFile(std::string path, const uint8_t* data, uint64_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_;
  uint64_t size_;
};

// Reads a small whole file (JSON index, config) into memory, refusing anything over max_bytes.
Result<std::string> ReadSmallFile(const std::string& path, uint64_t max_bytes = 64 << 20);
// Writes a small file atomically.
Status WriteFileAtomically(const std::string& path, std::string_view content,
                           FileSystem& fs = FileSystem::Default());

// Writes NAME.key (mode 0600, from `private_pem`, which is wiped afterwards) and NAME.pub:
// both or neither, and never over an existing file.
Status WriteKeyFiles(const std::string& name, std::string& private_pem, std::string_view public_pem,
                     FileSystem& fs = FileSystem::Default());

}  // namespace wg
