// ThreadPool: a fixed set of worker threads for data-parallel loops.
//
// Hashing, casting and quantization split work into independent chunks; ParallelFor
// runs them on every core and returns the first error any chunk reported. Workers
// are created once; a pool of size 1 runs everything on the calling thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "weightgate/core/error.h"

namespace wg {

class ThreadPool {
 public:
  // threads == 0 means one per hardware thread.
  explicit ThreadPool(size_t threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return workers_.empty() ? 1 : workers_.size(); }

  // Runs fn(i) for i in [0, n), spread over the workers, and waits for all of them.
  // Returns the error of the lowest index that failed; later indices may be skipped.
  Status ParallelFor(size_t n, const std::function<Status(size_t)>& fn);

  // The process-wide pool, sized to the machine.
  static ThreadPool& Shared();

 private:
  void Run(std::function<void()> task);
  void WorkerLoop();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::queue<std::function<void()>> tasks_;
  bool stop_ = false;
};

}  // namespace wg
