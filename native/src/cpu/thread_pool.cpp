// The persistent pool behind parallel_for. One mutex-protected "generation" counter announces each
// parallel region; workers sleep on a condition variable until it changes (no spinning, so an idle pool
// leaves the cores to libtorch), run their part, and the last one to finish wakes the caller.
#include "thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace grpo4j {
namespace cpu {
namespace {

class ThreadPool {
 public:
  ThreadPool() = default;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    start_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

  void run(int parts, PartTask task, void* context) {
    std::lock_guard<std::mutex> region(region_mutex_);
    grow(parts - 1);
    // Parts without a worker (thread creation failed) run on the caller after its own part.
    const int pooled = std::min(parts, (int)workers_.size() + 1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = task;
      context_ = context;
      pooled_parts_ = pooled;
      unfinished_ = pooled - 1;
      ++generation_;
    }
    start_.notify_all();
    for (int part = 0; part < parts; ++part) {
      if (part == 0 || part >= pooled) task(context, part);
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return unfinished_ == 0; });
  }

 private:
  // Called with region_mutex_ held, so no region is in flight while workers are added.
  void grow(int count) {
    while ((int)workers_.size() < count) {
      const int part = (int)workers_.size() + 1;
      uint64_t generation;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        generation = generation_;
      }
      try {
        workers_.emplace_back([this, part, generation] { work(part, generation); });
      } catch (const std::exception&) {
        return;  // run() gives the parts of the missing workers to the caller
      }
    }
  }

  void work(int part, uint64_t seen) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      if (part >= pooled_parts_) continue;
      const PartTask task = task_;
      void* const context = context_;
      lock.unlock();
      task(context, part);
      lock.lock();
      if (--unfinished_ == 0) done_.notify_one();
    }
  }

  std::mutex region_mutex_;  // one parallel region at a time
  std::mutex mutex_;         // guards everything below
  std::condition_variable start_, done_;
  std::vector<std::thread> workers_;  // worker i runs part i + 1
  PartTask task_ = nullptr;
  void* context_ = nullptr;
  int pooled_parts_ = 0;
  int unfinished_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

ThreadPool& pool() {
  static ThreadPool instance;
  return instance;
}

}  // namespace

void run_parts(int parts, PartTask task, void* context) {
  if (parts <= 1) {
    task(context, 0);
    return;
  }
  pool().run(parts, task, context);
}

}  // namespace cpu
}  // namespace grpo4j
