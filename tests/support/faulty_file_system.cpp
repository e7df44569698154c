#include "faulty_file_system.h"

#include <cerrno>

namespace wg::test {
namespace {

class FaultyWritableFile final : public WritableFile {
 public:
  FaultyWritableFile(FaultyFileSystem& fs, std::unique_ptr<WritableFile> real, std::string path)
      : fs_(fs), real_(std::move(real)), path_(std::move(path)) {}

  Status Append(Bytes data) override {
    bool short_write = ShortWriteNext(data);
    Status s = fs_.Tick("write", path_);
    if (!s.ok()) {
      if (short_write) (void)real_->Append(data.first(data.size() / 2));
      return s;
    }
    return real_->Append(data);
  }
  Status WriteAt(uint64_t offset, Bytes data) override {
    bool short_write = ShortWriteNext(data);
    Status s = fs_.Tick("write at " + std::to_string(offset), path_);
    if (!s.ok()) {
      if (short_write) (void)real_->WriteAt(offset, data.first(data.size() / 2));
      return s;
    }
    return real_->WriteAt(offset, data);
  }
  Status Truncate(uint64_t size) override {
    WG_TRY(fs_.Tick("truncate", path_));
    return real_->Truncate(size);
  }
  Result<bool> CloneFrom(const std::string& source) override {
    WG_TRY(fs_.Tick("clone", path_));
    return real_->CloneFrom(source);
  }
  Status Sync() override {
    WG_TRY(fs_.Tick("fsync", path_));
    return fs_.real_syncs() ? real_->Sync() : Ok();  // Close() still writes what is buffered
  }
  Status Close() override {
    WG_TRY(fs_.Tick("close", path_));
    return real_->Close();
  }
  uint64_t Size() const override { return real_->Size(); }

 private:
  bool ShortWriteNext(Bytes data) const {
    return fs_.NextFails() && fs_.fault() == Fault::kShortWrite && data.size() > 1;
  }
  FaultyFileSystem& fs_;
  std::unique_ptr<WritableFile> real_;
  std::string path_;
};

}  // namespace

Status FaultyFileSystem::Tick(const std::string& what, const std::string& path) {
  uint64_t op = ops_++;
  if (op != fail_at_) return Ok();
  injected_ = true;
  errno = fault_ == Fault::kIo ? EIO : ENOSPC;
  return Error::FromErrno("injected fault: " + what + " #" + std::to_string(op), path);
}

Result<std::unique_ptr<WritableFile>> FaultyFileSystem::NewWritableFile(
    const std::string& path, const WritableFileOptions& options) {
  WG_ASSIGN_OR_RETURN(auto real, target().NewWritableFile(path, options));
  return std::unique_ptr<WritableFile>(new FaultyWritableFile(*this, std::move(real), path));
}

Result<std::unique_ptr<WritableFile>> FaultyFileSystem::ReopenWritableFile(
    const std::string& path, const WritableFileOptions& options) {
  WG_ASSIGN_OR_RETURN(auto real, target().ReopenWritableFile(path, options));
  return std::unique_ptr<WritableFile>(new FaultyWritableFile(*this, std::move(real), path));
}

Status FaultyFileSystem::Rename(const std::string& from, const std::string& to) {
  WG_TRY(Tick("rename", to));
  return target().Rename(from, to);
}

Status FaultyFileSystem::RenameNoReplace(const std::string& from, const std::string& to) {
  WG_TRY(Tick("rename", to));
  return target().RenameNoReplace(from, to);
}

Status FaultyFileSystem::Exchange(const std::string& a, const std::string& b) {
  WG_TRY(Tick("exchange", b));
  return target().Exchange(a, b);
}

Status FaultyFileSystem::SyncDir(const std::string& dir) {
  WG_TRY(Tick("fsync directory", dir));
  return real_syncs_ ? target().SyncDir(dir) : Ok();
}

Status FaultyFileSystem::CreateDir(const std::string& dir) {
  WG_TRY(Tick("mkdir", dir));
  return target().CreateDir(dir);
}

ScopedFaultyFileSystem::ScopedFaultyFileSystem(uint64_t fail_at, Fault fault)
    : fs_(FileSystem::Default(), fail_at, fault) {
  FileSystem::SetDefaultForTesting(&fs_);
}

ScopedFaultyFileSystem::~ScopedFaultyFileSystem() {
  FileSystem::SetDefaultForTesting(nullptr);
}

}  // namespace wg::test
