#include "autograd/threads.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "autograd/parallel.hpp"

// OpenBLAS's thread count functions, declared weak: a program whose BLAS is not OpenBLAS links and
// sees them as null. (OpenBLAS's own <cblas.h> conflicts with xtensor-blas's declarations.)
extern "C" int openblas_get_num_threads(void) __attribute__((weak));
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace autograd {

namespace {

std::atomic<int> chosen_threads{0};  // 0: follow OpenBLAS

// One job at a time: the dispatching thread takes blocks from `next` together with `helpers`
// pool threads, and waits until the helpers have finished theirs.
class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
  }

  void run(std::size_t blocks, void (*body)(void*, std::size_t), void* context, int threads) {
    bool idle = false;
    if (threads <= 1 || !busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) {
      for (std::size_t b = 0; b < blocks; ++b) body(context, b);
      return;
    }
    const std::size_t helpers = std::min<std::size_t>(static_cast<std::size_t>(threads) - 1, blocks - 1);
    while (workers_.size() < helpers) {
      // It joins the job set up below: the one after the generation it is given.
      const std::size_t index = workers_.size();
      const std::uint64_t before = generation_;  // only this (dispatching) thread writes it
      workers_.emplace_back([this, index, before] { work(index, before); });
    }
    {
      std::lock_guard<std::mutex> lock(m_);
      body_ = body;
      context_ = context;
      blocks_ = blocks;
      helpers_ = helpers;
      pending_ = helpers;
      next_.store(0, std::memory_order_relaxed);
      ++generation_;
    }
    wake_.notify_all();
    take_blocks();
    {
      std::unique_lock<std::mutex> lock(m_);
      done_.wait(lock, [this] { return pending_ == 0; });
    }
    busy_.store(false, std::memory_order_release);
  }

 private:
  void take_blocks() {
    for (std::size_t b; (b = next_.fetch_add(1, std::memory_order_relaxed)) < blocks_;) body_(context_, b);
  }

  // The blocks run here must not throw (the ops' blocks are arithmetic on buffers sized
  // beforehand).
  void work(std::size_t index, std::uint64_t seen) {
    for (;;) {
      std::unique_lock<std::mutex> lock(m_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= helpers_) continue;  // not needed for this job
      lock.unlock();
      take_blocks();
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::atomic<bool> busy_{false};  // a job is under way (its dispatching thread set it)
  std::mutex m_;                   // guards everything below but next_
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;  // changed only by the dispatching thread
  void (*body_)(void*, std::size_t) = nullptr;
  void* context_ = nullptr;
  std::size_t blocks_ = 0, helpers_ = 0, pending_ = 0;
  std::atomic<std::size_t> next_{0};
  std::uint64_t generation_ = 0;
  bool stop_ = false;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

int num_threads() {
  const int n = chosen_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
  if (openblas_get_num_threads != nullptr) return std::clamp(openblas_get_num_threads(), 1, max_threads);
  return 1;
}

void set_num_threads(int n) {
  if (n < 1) {
    throw std::invalid_argument("set_num_threads: the thread count must be at least 1, got " +
                                std::to_string(n));
  }
  n = std::min(n, max_threads);
  if (openblas_set_num_threads != nullptr) openblas_set_num_threads(n);
  chosen_threads.store(n, std::memory_order_relaxed);
}

namespace detail {

void run_blocks(std::size_t blocks, void (*body)(void*, std::size_t), void* context) {
  if (blocks == 0) return;
  pool().run(blocks, body, context, blocks == 1 ? 1 : num_threads());
}

}  // namespace detail

}  // namespace autograd
