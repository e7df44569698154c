#include "weightgate/core/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

namespace wg {
namespace {

constexpr size_t kWriteBuffer = 4 << 20;

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {
    buf_.reserve(kWriteBuffer);
  }
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Append(Bytes data) override {
    size_ += data.size();
    if (buf_.size() + data.size() <= kWriteBuffer) {
      buf_.insert(buf_.end(), data.begin(), data.end());
      return Ok();
    }
    WG_TRY(Flush());
    if (data.size() >= kWriteBuffer) return WriteAll(data.data(), data.size());
    buf_.insert(buf_.end(), data.begin(), data.end());
    return Ok();
  }
  Status Sync() override {
    WG_TRY(Flush());
    if (::fsync(fd_) != 0) return Error::FromErrno("fsync", path_);
    return Ok();
  }
  Status Close() override {
    WG_TRY(Flush());
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Error::FromErrno("close", path_);
    return Ok();
  }
  uint64_t Size() const override { return size_; }

 private:
  Status Flush() {
    if (buf_.empty()) return Ok();
    Status s = WriteAll(buf_.data(), buf_.size());
    buf_.clear();
    return s;
  }
  Status WriteAll(const uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return Error::FromErrno("write", path_);
      }
      if (w == 0) return Error::Io("write returned 0 bytes").File(path_);
      p += w;
      n -= static_cast<size_t>(w);
    }
    return Ok();
  }
  std::string path_;
  int fd_;
  uint64_t size_ = 0;
  std::vector<uint8_t> buf_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Error::FromErrno("cannot create file", path);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Error::FromErrno("rename to " + to, from);
    return Ok();
  }
  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Error::FromErrno("unlink", path);
    return Ok();
  }
  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Error::FromErrno("open directory", dir);
    int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0 && errno != EINVAL) return Error::FromErrno("fsync directory", dir);
    return Ok();
  }
  Status CreateDir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Error::FromErrno("mkdir", dir);
    return Ok();
  }
};

std::atomic<FileSystem*> g_test_fs{nullptr};

std::string ParentDir(const std::string& path) {
  std::filesystem::path p(path);
  std::string parent = p.parent_path().string();
  return parent.empty() ? "." : parent;
}

}  // namespace

FileSystem& FileSystem::Default() {
  static PosixFileSystem posix;
  FileSystem* fs = g_test_fs.load();
  return fs ? *fs : posix;
}

void FileSystem::SetDefaultForTesting(FileSystem* fs) { g_test_fs.store(fs); }

AtomicFile::AtomicFile(FileSystem& fs, std::string final_path, std::string temp_path,
                       std::unique_ptr<WritableFile> file)
    : fs_(fs),
      final_path_(std::move(final_path)),
      temp_path_(std::move(temp_path)),
      file_(std::move(file)) {}

Result<std::unique_ptr<AtomicFile>> AtomicFile::Create(const std::string& final_path,
                                                       FileSystem& fs) {
  std::filesystem::path p(final_path);
  if (p.filename().empty()) return Error::Usage("output path names a directory").File(final_path);
  std::random_device rd;
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".wg-tmp-%d-%08x", static_cast<int>(::getpid()), rd());
  std::string temp = (p.parent_path() / ("." + p.filename().string() + suffix)).string();
  WG_ASSIGN_OR_RETURN(auto file, fs.NewWritableFile(temp));
  return std::unique_ptr<AtomicFile>(new AtomicFile(fs, final_path, temp, std::move(file)));
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    if (file_) (void)file_->Close();
    (void)fs_.Remove(temp_path_);
  }
}

Status AtomicFile::Append(Bytes data) { return file_->Append(data); }

Status AtomicFile::Append(std::string_view text) {
  return file_->Append(Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Status AtomicFile::AppendZeros(uint64_t n) {
  static const uint8_t kZeros[4096] = {};
  while (n > 0) {
    uint64_t k = n < sizeof kZeros ? n : sizeof kZeros;
    WG_TRY(file_->Append(Bytes(kZeros, k)));
    n -= k;
  }
  return Ok();
}

Status AtomicFile::Commit() {
  WG_TRY(file_->Sync());
  WG_TRY(file_->Close());
  WG_TRY(fs_.Rename(temp_path_, final_path_));
  committed_ = true;
  return fs_.SyncDir(ParentDir(final_path_));
}

Result<std::shared_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::FromErrno("cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = Error::FromErrno("stat", path);
    ::close(fd);
    return e;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error::Usage("not a regular file").File(path);
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      Error e = Error::FromErrno("mmap", path);
      ::close(fd);
      return e;
    }
    data = static_cast<const uint8_t*>(m);
  }
  ::close(fd);
  return std::shared_ptr<MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_ && size_ > 0) ::munmap(const_cast<uint8_t*>(data_), size_);
}

namespace {
void PageRange(uint64_t size, uint64_t offset, uint64_t length, bool inner, uint64_t* begin,
               uint64_t* end) {
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t b = offset, e = offset + length;
  if (e > size) e = size;
  if (inner) {
    b = (b + page - 1) / page * page;  // never drop a page that holds unconsumed bytes
    e = e / page * page;
  } else {
    b = b / page * page;
  }
  *begin = b;
  *end = e > b ? e : b;
}
}  // namespace

void MappedFile::Release(uint64_t offset, uint64_t length) const {
  if (!data_) return;
  uint64_t b, e;
  PageRange(size_, offset, length, /*inner=*/true, &b, &e);
  if (e > b) ::madvise(const_cast<uint8_t*>(data_) + b, e - b, MADV_DONTNEED);
}

void MappedFile::WillNeed(uint64_t offset, uint64_t length) const {
  if (!data_) return;
  uint64_t b, e;
  PageRange(size_, offset, length, /*inner=*/false, &b, &e);
  if (e > b) ::madvise(const_cast<uint8_t*>(data_) + b, e - b, MADV_WILLNEED);
}

Result<std::string> ReadSmallFile(const std::string& path, uint64_t max_bytes) {
  WG_ASSIGN_OR_RETURN(auto mf, MappedFile::Open(path));
  if (mf->size() > max_bytes)
    return Error::Malformed("file too large to be read whole")
        .File(path)
        .Expected("at most " + std::to_string(max_bytes) + " bytes")
        .Found(std::to_string(mf->size()) + " bytes");
  return std::string(reinterpret_cast<const char*>(mf->bytes().data()), mf->size());
}

Status WriteFileAtomically(const std::string& path, std::string_view content, FileSystem& fs) {
  WG_ASSIGN_OR_RETURN(auto out, AtomicFile::Create(path, fs));
  WG_TRY(out->Append(content));
  return out->Commit();
}

}  // namespace wg
