#include "weightgate/core/thread_pool.h"

#include <atomic>
#include <optional>

namespace wg {

ThreadPool::ThreadPool(size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  if (threads == 1) return;  // run inline
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

ThreadPool& ThreadPool::Shared() {
  static ThreadPool pool(0);
  return pool;
}

void ThreadPool::Run(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push(std::move(task));
  }
  cv_.notify_one();
}

void ThreadPool::WorkerLoop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
      if (stop_ && tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop();
    }
    task();
  }
}

Status ThreadPool::ParallelFor(size_t n, const std::function<Status(size_t)>& fn) {
  if (n == 0) return Ok();
  if (workers_.empty() || n == 1) {
    for (size_t i = 0; i < n; ++i) WG_TRY(fn(i));
    return Ok();
  }
  // Workers pull indices from a shared counter; the caller waits on a latch.
  struct Shared {
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex mu;
    std::condition_variable done_cv;
    size_t running = 0;
    size_t first_bad = SIZE_MAX;
    std::optional<Error> error;
  } s;
  auto body = [&] {
    for (;;) {
      size_t i = s.next.fetch_add(1);
      if (i >= n || s.failed.load()) break;
      Status st = fn(i);
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(s.mu);
        if (i < s.first_bad) {
          s.first_bad = i;
          s.error = std::move(st).error();
        }
        s.failed = true;
      }
    }
  };
  size_t helpers = std::min(workers_.size(), n) - 1;  // the caller works too
  s.running = helpers;
  for (size_t h = 0; h < helpers; ++h) {
    Run([&] {
      body();
      std::lock_guard<std::mutex> lock(s.mu);
      if (--s.running == 0) s.done_cv.notify_all();
    });
  }
  body();
  std::unique_lock<std::mutex> lock(s.mu);
  s.done_cv.wait(lock, [&] { return s.running == 0; });
  if (s.error) return std::move(*s.error);
  return Ok();
}

}  // namespace wg
