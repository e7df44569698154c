#include "weightgate/core/file.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <openssl/crypto.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <vector>

#include "write_behind.h"

namespace wg {
namespace {

constexpr size_t kWriteBuffer = 4 << 20;

Status WriteAllAt(int fd, const uint8_t* p, uint64_t n, uint64_t at, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, std::min<uint64_t>(n, 1 << 30), static_cast<off_t>(at));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Error::FromErrno("write", path);
    }
    if (w == 0) return Error::Io("write returned 0 bytes").File(path);
    p += w;
    at += static_cast<uint64_t>(w);
    n -= static_cast<uint64_t>(w);
  }
  return Ok();
}

class PosixWritableFile final : public WritableFile {
 public:
  // `size`: bytes already in the file (a reopened one); appends continue after them.
  PosixWritableFile(std::string path, int fd, const WritableFileOptions& options, uint64_t size = 0)
      : path_(std::move(path)),
        fd_(fd),
        append_at_(size),
        end_(size),
        secret_(options.mode != 0 && (options.mode & 077) == 0) {
    if (options.write_behind) wb_.emplace(fd);
  }
  ~PosixWritableFile() override {
    Wipe();
    if (fd_ >= 0) ::close(fd_);
  }
  Status Append(Bytes data) override {
    if (buf_.size() + data.size() <= kWriteBuffer) {
      if (buf_.capacity() < kWriteBuffer) buf_.reserve(kWriteBuffer);
      buf_.insert(buf_.end(), data.begin(), data.end());
      return Ok();
    }
    WG_TRY(Flush());
    if (data.size() < kWriteBuffer) {
      buf_.insert(buf_.end(), data.begin(), data.end());
      return Ok();
    }
    WG_TRY(Write(append_at_, data));
    append_at_ += data.size();
    return Ok();
  }
  Status WriteAt(uint64_t offset, Bytes data) override {
    WG_TRY(Flush());
    return Write(offset, data);
  }
  Status Truncate(uint64_t size) override {
    WG_TRY(Flush());
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return Error::FromErrno("truncate", path_);
    end_ = size;
    append_at_ = size;
    return Ok();
  }
  Result<bool> CloneFrom(const std::string& source) override {
    int src = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    if (src < 0) return Error::FromErrno("cannot open", source);
    struct stat st {};
    bool cloned = ::fstat(src, &st) == 0 && ::ioctl(fd_, FICLONE, src) == 0;
    int err = errno;
    ::close(src);
    if (cloned) {
      end_ = append_at_ = static_cast<uint64_t>(st.st_size);
      return true;
    }
    // Out of space or a failing disk is an error; anything else means "cannot clone here".
    if (err == ENOSPC || err == EDQUOT || err == EIO) {
      errno = err;
      return Error::FromErrno("clone of " + source, path_);
    }
    return false;
  }
  Status Sync() override {
    WG_TRY(Flush());
    if (::fsync(fd_) != 0) return Error::FromErrno("fsync", path_);
    return Ok();
  }
  Status Close() override {
    if (fd_ < 0) return Ok();
    Status flushed = Flush();
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0 && flushed.ok()) return Error::FromErrno("close", path_);
    return flushed;
  }
  uint64_t Size() const override { return std::max(end_, append_at_ + buf_.size()); }

 private:
  Status Flush() {
    if (buf_.empty()) return Ok();
    Status s = Write(append_at_, Bytes(buf_.data(), buf_.size()));
    append_at_ += buf_.size();
    Wipe();
    buf_.clear();
    return s;
  }
  // A secret file's bytes (a private key) do not linger in freed memory.
  void Wipe() {
    if (secret_ && !buf_.empty()) OPENSSL_cleanse(buf_.data(), buf_.size());
  }
  Status Write(uint64_t at, Bytes data) {
    WG_TRY(WriteAllAt(fd_, data.data(), data.size(), at, path_));
    end_ = std::max(end_, at + data.size());
    if (wb_) wb_->Written(at, data.size());
    return Ok();
  }
  std::string path_;
  int fd_;
  uint64_t append_at_;  // where the buffered bytes go
  uint64_t end_;        // largest end written so far
  bool secret_;
  std::vector<uint8_t> buf_;
  std::optional<internal::WriteBehind> wb_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path, const WritableFileOptions& options) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Error::FromErrno("cannot create file", path);
    if (options.mode != 0 && ::fchmod(fd, options.mode) != 0) {
      Error e = Error::FromErrno("chmod", path);
      ::close(fd);
      ::unlink(path.c_str());
      return e;
    }
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd, options));
  }
  Result<std::unique_ptr<WritableFile>> ReopenWritableFile(
      const std::string& path, const WritableFileOptions& options) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return Error::FromErrno("cannot open file to continue it", path);
    struct stat st {};
    Status checked = Ok();
    if (::fstat(fd, &st) != 0)
      checked = Error::FromErrno("stat", path);
    else if (!S_ISREG(st.st_mode))
      checked = Error::Io("not a regular file").File(path);
    else if (options.mode != 0 && ::fchmod(fd, options.mode) != 0)
      checked = Error::FromErrno("chmod", path);
    if (!checked.ok()) {
      ::close(fd);
      return std::move(checked).error();
    }
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(path, fd, options, static_cast<uint64_t>(st.st_size)));
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Error::FromErrno("rename to " + to, from);
    return Ok();
  }
  Status RenameNoReplace(const std::string& from, const std::string& to) override {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0)
      return Error::FromErrno("cannot move into place (does it exist already?)", to);
    return Ok();
  }
  Status Exchange(const std::string& a, const std::string& b) override {
    if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) != 0)
      return Error::FromErrno("cannot exchange with " + a, b);
    return Ok();
  }
  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Error::FromErrno("unlink", path);
    return Ok();
  }
  Status RemoveAll(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return Error::Io("cannot remove: " + ec.message()).File(path);
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
    if (::mkdir(dir.c_str(), 0755) == 0) return Ok();
    int err = errno;
    struct stat st {};
    if (err == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Ok();
    errno = err;
    return Error::FromErrno("mkdir", dir);
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

void FileSystem::SetDefaultForTesting(FileSystem* fs) {
  g_test_fs.store(fs);
}

AtomicFile::AtomicFile(FileSystem& fs, std::string final_path, std::string temp_path,
                       std::unique_ptr<WritableFile> file)
    : fs_(fs),
      final_path_(std::move(final_path)),
      temp_path_(std::move(temp_path)),
      file_(std::move(file)) {}

Result<std::unique_ptr<AtomicFile>> AtomicFile::Create(const std::string& final_path,
                                                       FileSystem& fs,
                                                       const WritableFileOptions& options) {
  std::filesystem::path p(final_path);
  if (p.filename().empty()) return Error::Usage("output path names a directory").File(final_path);
  std::random_device rd;
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".wg-tmp-%d-%08x", static_cast<int>(::getpid()), rd());
  std::string temp = (p.parent_path() / ("." + p.filename().string() + suffix)).string();
  WG_ASSIGN_OR_RETURN(auto file, fs.NewWritableFile(temp, options));
  return std::unique_ptr<AtomicFile>(new AtomicFile(fs, final_path, temp, std::move(file)));
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    if (file_) (void)file_->Close();
    (void)fs_.Remove(temp_path_);
  }
}

Status AtomicFile::Append(Bytes data) {
  return file_->Append(data);
}

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
  return CommitWith(true);
}

Status AtomicFile::CommitNoReplace() {
  return CommitWith(false);
}

Status AtomicFile::CommitWith(bool replace) {
  WG_TRY(file_->Sync());
  WG_TRY(file_->Close());
  WG_TRY(replace ? fs_.Rename(temp_path_, final_path_)
                 : fs_.RenameNoReplace(temp_path_, final_path_));
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

Status WriteKeyFiles(const std::string& name, std::string& private_pem, std::string_view public_pem,
                     FileSystem& fs) {
  struct WipeOnExit {
    std::string& s;
    ~WipeOnExit() { OPENSSL_cleanse(s.data(), s.size()); }
  } wipe{private_pem};
  const std::string key_path = name + ".key", pub_path = name + ".pub";
  for (const auto& p : {key_path, pub_path}) {
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::symlink_status(p, ec)))
      return Error::Usage("refusing to overwrite an existing key file").File(p);
  }
  WG_ASSIGN_OR_RETURN(auto key, AtomicFile::Create(key_path, fs, {0600, false}));
  WG_TRY(key->Append(private_pem));
  Status s = key->CommitNoReplace();
  if (s.ok()) {
    auto pub = AtomicFile::Create(pub_path, fs);
    if (!pub.ok()) {
      s = std::move(pub).error();
    } else {
      s = (*pub)->Append(public_pem);
      if (s.ok()) s = (*pub)->CommitNoReplace();
      if (!s.ok() && (*pub)->committed()) (void)fs.Remove(pub_path);
    }
  }
  // Half a key pair is no key pair: the private key goes if the public one could not follow.
  if (!s.ok() && key->committed()) (void)fs.Remove(key_path);
  return s;
}

Status CreateDirs(const std::string& dir, FileSystem& fs) {
  std::filesystem::path whole(dir);
  std::filesystem::path sofar;
  for (const auto& part : whole) {
    sofar /= part;
    if (part.empty() || part == "/" || part == "." || part == "..") continue;
    struct stat st {};
    if (::stat(sofar.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
    WG_TRY(fs.CreateDir(sofar.string()));
  }
  return Ok();
}

Status WriteFileAtomically(const std::string& path, std::string_view content, FileSystem& fs) {
  WG_ASSIGN_OR_RETURN(auto out, AtomicFile::Create(path, fs));
  WG_TRY(out->Append(content));
  return out->Commit();
}

}  // namespace wg
