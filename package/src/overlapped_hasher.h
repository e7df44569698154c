// OverlappedHasher: hashes a piece on its own thread while the caller writes the same piece,
// so packing (and pulling into a .tar) costs max(hash, write) per piece instead of their sum
// (measured before: pack -> .tar 0.72x `tar -cf` + sync, the hash and the write back to back).
// The piece's bytes only need to live until HashAndWrite returns: it waits for the hash.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "weightgate/core/file.h"
#include "weightgate/core/hash.h"

namespace wg::oci::internal {

class OverlappedHasher {
 public:
  explicit OverlappedHasher(Hasher* hasher) : hasher_(hasher) {}
  ~OverlappedHasher() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  OverlappedHasher(const OverlappedHasher&) = delete;
  OverlappedHasher& operator=(const OverlappedHasher&) = delete;

  // hasher->Update(piece) and write(), concurrently; pieces are hashed in call order.
  Status HashAndWrite(Bytes piece, const std::function<Status()>& write) {
    if (piece.size() < kMinOverlap) {  // not worth a thread hand-off
      hasher_->Update(piece);
      return write();
    }
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = piece;
      pending_ = true;
    }
    cv_.notify_all();
    Status s = write();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !pending_; });
    return s;
  }

 private:
  static constexpr size_t kMinOverlap = 64 << 10;

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return pending_ || stop_; });
      if (stop_) return;
      Bytes piece = job_;
      lock.unlock();
      hasher_->Update(piece);
      lock.lock();
      pending_ = false;
      cv_.notify_all();
    }
  }

  Hasher* hasher_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  Bytes job_;
  bool pending_ = false;
  bool stop_ = false;
};

}  // namespace wg::oci::internal
