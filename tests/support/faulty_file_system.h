// A FileSystem that fails one chosen operation, for fault injection through the core
// file seam (core/file.h): install it with FileSystem::SetDefaultForTesting (see
// ScopedFaultyFileSystem) and every write in the process goes through it.
//
// Operations are numbered from 0 in the order they happen: each Append, WriteAt,
// Truncate, CloneFrom, Sync, Close, Rename, RenameNoReplace, Exchange, SyncDir and
// CreateDir. The chosen one fails like a full disk:
//   kEnospc      the operation writes nothing and fails with ENOSPC;
//   kShortWrite  an Append or WriteAt writes the first half of its bytes, then fails with
//                ENOSPC (what write(2) does when the disk fills mid-call); other
//                operations behave as kEnospc;
//   kIo          fails with EIO (a dying disk; fsync errors are reported this way).
// Remove and RemoveAll are never failed: cleanup after a failure must still happen.
#pragma once

#include <cstdint>
#include <string>

#include "weightgate/core/file.h"

namespace wg::test {

enum class Fault { kEnospc, kShortWrite, kIo };

class FaultyFileSystem final : public FileSystemWrapper {
 public:
  // fail_at: the operation index to fail; UINT64_MAX never fails (counts only).
  FaultyFileSystem(FileSystem& real, uint64_t fail_at, Fault fault)
      : FileSystemWrapper(real), fail_at_(fail_at), fault_(fault) {}

  Result<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path, const WritableFileOptions& options = {}) override;
  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(
      const std::string& path, const WritableFileOptions& options = {}) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status RenameNoReplace(const std::string& from, const std::string& to) override;
  Status Exchange(const std::string& a, const std::string& b) override;
  Status SyncDir(const std::string& dir) override;
  Status CreateDir(const std::string& dir) override;

  // Sync and SyncDir still count (and fail when chosen) but no longer reach the disk: for
  // tests that run a verb hundreds of times and check what it leaves, not its durability
  // (a pull's fsyncs, waiting on a disk shared with other jobs, made its test 2-3x slower).
  void SkipRealSyncs() { real_syncs_ = false; }
  bool real_syncs() const { return real_syncs_; }

  uint64_t operations() const { return ops_; }  // operations seen so far
  bool injected() const { return injected_; }   // the fault happened

  // Counts one operation; returns the error to report if this is the one to fail.
  Status Tick(const std::string& what, const std::string& path);
  Fault fault() const { return fault_; }
  bool NextFails() const { return ops_ == fail_at_; }

 private:
  uint64_t fail_at_;
  Fault fault_;
  uint64_t ops_ = 0;
  bool injected_ = false;
  bool real_syncs_ = true;
};

// Installs a FaultyFileSystem as the default for the scope's lifetime.
class ScopedFaultyFileSystem {
 public:
  ScopedFaultyFileSystem(uint64_t fail_at, Fault fault);
  ~ScopedFaultyFileSystem();
  FaultyFileSystem& fs() { return fs_; }

 private:
  FaultyFileSystem fs_;
};

}  // namespace wg::test
