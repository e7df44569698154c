// BLAKE3's tree: chunk chaining values, subtrees, the streaming hasher, engine dispatch.
//
// Tree shape (specification §2.1): the left subtree holds the largest power-of-two number of
// chunks that leaves at least one byte for the right. Two facts make fast code easy here:
//  * a power-of-two run of whole chunks that starts at a multiple of its size is a complete
//    subtree, so it can be hashed anywhere (another thread, a SIMD lane) and pushed as one CV;
//  * merging a list of sibling CVs level by level, carrying an odd last one up unchanged,
//    builds exactly that left-heavy tree.
// The streaming hasher keeps the last chunk back until Finish(), so the only node that can be
// the root is built in Finish() and every earlier merge can happen eagerly.
#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "blake3_internal.h"
#include "weightgate/core/hash_engine.h"
#include "weightgate/core/thread_pool.h"

namespace wg {
namespace {

using namespace blake3;

// Chunks hashed per leaf batch: enough to fill 16 SIMD lanes twice.
constexpr size_t kLeafBatchChunks = 32;
// Size of the subtrees the streaming hasher hands to threads.
constexpr size_t kParallelSubtreeChunks = 1024;  // 1 MiB
// Subtrees per parallel round: bounds the CVs held while threads run.
constexpr size_t kParallelRound = 64;

HashManyFn PickHashMany(SimdLevel simd) {
  if (simd == SimdLevel::kAuto) simd = BestSimdLevel();
  if (!CpuSupports(simd)) simd = SimdLevel::kPortable;
  switch (simd) {
    case SimdLevel::kAvx512:
      return HashManyAvx512;
    case SimdLevel::kAvx2:
      return HashManyAvx2;
    default:
      return HashManyPortable;
  }
}

void WordsToBytes(const uint32_t w[8], uint8_t out[32]) {
  for (int i = 0; i < 8; ++i)
    for (int b = 0; b < 4; ++b) out[4 * i + b] = static_cast<uint8_t>(w[i] >> (8 * b));
}

// One parent node: compress(IV, left || right) with PARENT (and ROOT when it is the root).
void ParentCv(const uint8_t left[32], const uint8_t right[32], uint8_t extra_flags,
              uint8_t out[32]) {
  uint8_t block[kBlockLen];
  std::memcpy(block, left, 32);
  std::memcpy(block + 32, right, 32);
  uint32_t cv[8];
  std::memcpy(cv, kIv, sizeof cv);
  CompressPortable(cv, block, kBlockLen, 0, kParent | extra_flags);
  WordsToBytes(cv, out);
}

// The CV (or, with kRoot, the root output) of one chunk of 0..1024 bytes.
void ChunkOutput(const uint8_t* in, size_t len, uint64_t counter, uint8_t extra_flags,
                 uint8_t out[32]) {
  uint32_t cv[8];
  std::memcpy(cv, kIv, sizeof cv);
  size_t blocks = std::max<size_t>(1, (len + kBlockLen - 1) / kBlockLen);
  for (size_t b = 0; b < blocks; ++b) {
    uint8_t block[kBlockLen] = {};
    size_t n = std::min(kBlockLen, len - b * kBlockLen);
    if (n) std::memcpy(block, in + b * kBlockLen, n);
    uint8_t flags = (b == 0 ? kChunkStart : 0) | (b + 1 == blocks ? kChunkEnd | extra_flags : 0);
    CompressPortable(cv, block, static_cast<uint8_t>(n), counter, flags);
  }
  WordsToBytes(cv, out);
}

// Merges n >= 2 sibling CVs one level up: pairs become parents, an odd last CV is carried.
size_t ReduceLevel(uint8_t* cvs, size_t n, HashManyFn hash_many) {
  const uint8_t* pairs[kLeafBatchChunks / 2];
  size_t parents = n / 2;
  for (size_t i = 0; i < parents; ++i) pairs[i] = cvs + 64 * i;
  uint8_t out[kLeafBatchChunks / 2 * 32];
  hash_many(pairs, parents, 1, 0, false, kParent, 0, 0, out);
  std::memcpy(cvs, out, 32 * parents);
  if (n % 2) std::memcpy(cvs + 32 * parents, cvs + 32 * (n - 1), 32);
  return parents + n % 2;
}

// The CV of the subtree over in[0, len) whose first chunk has index `counter`. The subtree
// is never the root. len > 0; every chunk but the last is whole.
void SubtreeCv(const uint8_t* in, size_t len, uint64_t counter, HashManyFn hash_many,
               uint8_t out[32]) {
  if (len > kLeafBatchChunks * kChunkLen) {
    size_t left = std::bit_floor((len - 1) / kChunkLen) * kChunkLen;
    uint8_t cvs[64];
    SubtreeCv(in, left, counter, hash_many, cvs);
    SubtreeCv(in + left, len - left, counter + left / kChunkLen, hash_many, cvs + 32);
    ParentCv(cvs, cvs + 32, 0, out);
    return;
  }
  uint8_t cvs[kLeafBatchChunks * 32];
  size_t whole = len / kChunkLen;
  const uint8_t* chunks[kLeafBatchChunks] = {};
  for (size_t i = 0; i < whole; ++i) chunks[i] = in + i * kChunkLen;
  hash_many(chunks, whole, kChunkLen / kBlockLen, counter, true, 0, kChunkStart, kChunkEnd, cvs);
  size_t n = whole;
  if (len % kChunkLen) {
    ChunkOutput(in + whole * kChunkLen, len % kChunkLen, counter + whole, 0, cvs + 32 * n);
    ++n;
  }
  while (n > 1) n = ReduceLevel(cvs, n, hash_many);
  std::memcpy(out, cvs, 32);
}

class Blake3Hasher final : public Hasher {
 public:
  Blake3Hasher(SimdLevel simd, ThreadPool* pool) : hash_many_(PickHashMany(simd)), pool_(pool) {}

  void Update(Bytes data) override {
    const uint8_t* p = data.data();
    size_t n = data.size();
    while (n > 0) {
      if (ChunkFill() == 0 && n > kChunkLen) {
        size_t used = HashWholeSubtrees(p, n);
        p += used;
        n -= used;
        continue;
      }
      if (ChunkFill() == kChunkLen) {  // more input follows, so this chunk is not the root
        uint8_t cv[32];
        FinishChunk(0, cv);
        PushCv(cv, 1);
        continue;
      }
      if (buf_len_ == kBlockLen) {  // more input follows, so this block is not the chunk's last
        CompressPortable(cv_, buf_, kBlockLen, chunks_done_, blocks_done_ == 0 ? kChunkStart : 0);
        ++blocks_done_;
        buf_len_ = 0;
      }
      size_t take = std::min(n, kBlockLen - buf_len_);
      std::memcpy(buf_ + buf_len_, p, take);
      buf_len_ += take;
      p += take;
      n -= take;
    }
  }

  Digest Finish() override {
    Digest d;
    d.algo = HashAlgo::kBlake3;
    if (stack_len_ == 0) {
      FinishChunk(kRoot, d.bytes.data());
      return d;
    }
    uint8_t cv[32];
    FinishChunk(0, cv);
    for (size_t i = stack_len_; i-- > 0;) ParentCv(stack_[i], cv, i == 0 ? kRoot : 0, cv);
    std::memcpy(d.bytes.data(), cv, 32);
    return d;
  }

 private:
  size_t ChunkFill() const { return blocks_done_ * kBlockLen + buf_len_; }

  // Hashes whole chunks from p as aligned power-of-two subtrees, always leaving at least one
  // byte (the final chunk is kept back). Returns the bytes consumed.
  size_t HashWholeSubtrees(const uint8_t* p, size_t n) {
    size_t whole = (n - 1) / kChunkLen;
    size_t size = std::bit_floor(std::min(whole, kParallelSubtreeChunks));
    while (chunks_done_ % size) size /= 2;
    size_t count = 1;
    if (pool_ && pool_->size() > 1 && size == kParallelSubtreeChunks)
      count = std::min(whole / size, kParallelRound);
    if (count == 1) {
      uint8_t cv[32];
      SubtreeCv(p, size * kChunkLen, chunks_done_, hash_many_, cv);
      PushCv(cv, size);
      return size * kChunkLen;
    }
    std::vector<uint8_t> cvs(32 * count);
    uint64_t base = chunks_done_;
    (void)pool_->ParallelFor(count, [&](size_t i) {
      SubtreeCv(p + i * size * kChunkLen, size * kChunkLen, base + i * size, hash_many_,
                cvs.data() + 32 * i);
      return Ok();
    });
    for (size_t i = 0; i < count; ++i) PushCv(cvs.data() + 32 * i, size);
    return count * size * kChunkLen;
  }

  // Finalizes the current chunk (its buffered last block) into out and resets it.
  void FinishChunk(uint8_t extra_flags, uint8_t out[32]) {
    uint8_t block[kBlockLen] = {};
    std::memcpy(block, buf_, buf_len_);
    uint8_t flags = (blocks_done_ == 0 ? kChunkStart : 0) | kChunkEnd | extra_flags;
    CompressPortable(cv_, block, static_cast<uint8_t>(buf_len_), chunks_done_, flags);
    WordsToBytes(cv_, out);
    std::memcpy(cv_, kIv, sizeof cv_);
    blocks_done_ = 0;
    buf_len_ = 0;
  }

  // Pushes the CV of an aligned subtree of `chunks` chunks and merges completed siblings:
  // afterwards the stack holds one CV per set bit of chunks_done_, largest at the bottom.
  void PushCv(const uint8_t cv[32], size_t chunks) {
    std::memcpy(stack_[stack_len_++], cv, 32);
    chunks_done_ += chunks;
    while (stack_len_ > static_cast<size_t>(std::popcount(chunks_done_))) {
      ParentCv(stack_[stack_len_ - 2], stack_[stack_len_ - 1], 0, stack_[stack_len_ - 2]);
      --stack_len_;
    }
  }

  HashManyFn hash_many_;
  ThreadPool* pool_;
  uint32_t cv_[8] = {kIv[0], kIv[1], kIv[2], kIv[3], kIv[4], kIv[5], kIv[6], kIv[7]};
  uint8_t buf_[kBlockLen] = {};
  size_t buf_len_ = 0;
  size_t blocks_done_ = 0;
  uint64_t chunks_done_ = 0;
  uint8_t stack_[64][32];
  size_t stack_len_ = 0;
};

}  // namespace

std::unique_ptr<Hasher> NewBlake3Hasher(SimdLevel simd, ThreadPool* pool) {
  return std::make_unique<Blake3Hasher>(simd, pool);
}

}  // namespace wg
