// futures.thread.* limit: the baseline's std::thread pool (baseline/c/thread_bench.cpp,
// as copied in baseline/peers/pools.cpp): 2 workers on a mutex + condition
// variable deque of std::function, a std::packaged_task and std::future per task.
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "drive.hpp"

namespace {

template <class T>
class LockedQueue {
 public:
  void put(T v) {
    {
      std::lock_guard<std::mutex> g(m_);
      q_.push_back(std::move(v));
    }
    cv_.notify_one();
  }
  T get() {
    std::unique_lock<std::mutex> g(m_);
    cv_.wait(g, [&] { return !q_.empty(); });
    T v = std::move(q_.front());
    q_.pop_front();
    return v;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<T> q_;
};

class BaselinePool {
 public:
  explicit BaselinePool(int n) {
    for (int i = 0; i < n; i++)
      workers_.emplace_back([this] {
        for (;;) {
          std::function<void()> job = jobs_.get();
          if (!job) return;
          job();
        }
      });
  }
  ~BaselinePool() {
    for (std::size_t i = 0; i < workers_.size(); i++) jobs_.put(nullptr);
    for (auto& t : workers_) t.join();
  }
  template <class F>
  auto submit(F f) -> std::future<decltype(f())> {
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
    auto fut = task->get_future();
    jobs_.put([task] { (*task)(); });
    return fut;
  }

 private:
  LockedQueue<std::function<void()>> jobs_;
  std::vector<std::thread> workers_;
};

}  // namespace

int main(int argc, char** argv) {
  BaselinePool pool(2);
  return futbench::run(
      argc, argv, [&](long i) { return pool.submit([i] { return i * i; }); },
      [](std::future<long>& f) { return f.get(); });
}
