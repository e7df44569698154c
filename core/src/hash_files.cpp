// HashFileRanges: maps the files once, checks every range against its file, then hashes.
#include "weightgate/core/hash_files.h"

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>
#include <optional>

#include "weightgate/core/file.h"
#include "weightgate/core/hash_engine.h"
#include "weightgate/core/thread_pool.h"

namespace wg {
namespace {

// Pages are handed back to the kernel every this many bytes of a range.
constexpr uint64_t kReleaseWindow = 64ull << 20;

struct Job {
  const MappedFile* file;
  uint64_t offset;
  uint64_t length;
  Bytes bytes() const { return file->bytes().subspan(offset, length); }
};

// Streams one range through a hasher in windows, releasing each window's pages after use.
Digest HashJob(const Job& job, HashAlgo algo, ThreadPool* tree_pool) {
  std::unique_ptr<Hasher> h = algo == HashAlgo::kBlake3
                                  ? NewBlake3Hasher(SimdLevel::kAuto, tree_pool)
                                  : Hasher::Create(algo);
  for (uint64_t done = 0; done < job.length;) {
    uint64_t n = std::min(kReleaseWindow, job.length - done);
    job.file->WillNeed(job.offset + done, n);
    h->Update(job.bytes().subspan(done, n));
    job.file->Release(job.offset + done, n);
    done += n;
  }
  return h->Finish();
}

}  // namespace

Result<std::vector<Digest>> HashFileRanges(std::span<const FileRange> ranges, HashAlgo algo,
                                           unsigned threads) {
  std::map<std::string, std::shared_ptr<MappedFile>> files;
  std::vector<Job> jobs;
  jobs.reserve(ranges.size());
  for (const FileRange& r : ranges) {
    auto& f = files[r.path];
    if (!f) {
      WG_ASSIGN_OR_RETURN(f, MappedFile::Open(r.path));
    }
    uint64_t size = f->size();
    if (r.offset > size)
      return Error::Malformed("byte range starts past the end of the file")
          .File(r.path)
          .Offset(r.offset)
          .Expected("offset <= " + std::to_string(size))
          .Found(std::to_string(r.offset));
    uint64_t length = r.length == UINT64_MAX ? size - r.offset : r.length;
    if (length > size - r.offset)
      return Error::Malformed("byte range reaches past the end of the file")
          .File(r.path)
          .Offset(r.offset)
          .Expected("end <= " + std::to_string(size))
          .Found(std::to_string(r.offset) + " + " + std::to_string(length));
    jobs.push_back({f.get(), r.offset, length});
  }

  std::optional<ThreadPool> own_pool;
  ThreadPool* pool = &ThreadPool::Shared();
  if (threads != 0 && threads != pool->size()) pool = &own_pool.emplace(threads);

  // Largest first, so that the last ranges to finish are short ones.
  std::vector<size_t> order(jobs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return jobs[a].length > jobs[b].length; });

  std::vector<Digest> out(jobs.size());
  (void)pool->ParallelFor(order.size(), [&](size_t k) {
    out[order[k]] = HashJob(jobs[order[k]], algo, nullptr);
    return Ok();
  });
  return out;
}

Result<Digest> HashFile(const std::string& path, HashAlgo algo) {
  FileRange r{path};
  WG_ASSIGN_OR_RETURN(auto v, HashFileRanges(std::span<const FileRange>(&r, 1), algo));
  return v[0];
}

}  // namespace wg
