// futures.thread.* limit: the baseline's std::thread pool (baseline/c/thread_bench.cpp,
// as copied in baseline/peers/pools.cpp): 2 workers on a mutex + condition
// variable deque of std::function, a std::packaged_task and std::future per task.
// futures.process.* limit: the minimal shared-memory process pool of
// bench/pool/shm_pool.hpp, 2 forked workers: .submit as pool.map.chunksize1's
// limit (one message per task and per result, spin then futex), .rt as
// pool.apply_async.rt's (one task at a time, blocking futex round trip).
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "../pool/shm_pool.hpp"
#include "drive_process.hpp"

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

// Run first, before the thread pool exists: the workers are forked.
void run_process(const bench::Args& args) {
  const char* tput = "futures.process.submit";
  if (args.wants(tput)) {
    const long n = args.count(tput, 200000);
    shmpool::Pool pool(2, shmpool::Mode::Spin, 0);
    bench::emit(tput, "tasks/s",
                bench::repeat(
                    args.reps(), [&] { return pool.map_one_by_one(static_cast<std::uint64_t>(n / 10 + 1)); },
                    [&] { return pool.map_one_by_one(static_cast<std::uint64_t>(n)); }));
  }
  const char* rt = "futures.process.rt";
  if (args.wants(rt)) {
    const long n = args.count(rt, 20000);
    shmpool::Pool pool(2, shmpool::Mode::Block, 0);
    bench::emit(rt, "us",
                bench::repeat(
                    args.reps(), [&] { return pool.round_trip_us(static_cast<std::uint64_t>(n / 10 + 1)); },
                    [&] { return pool.round_trip_us(static_cast<std::uint64_t>(n)); }));
  }
}

int main(int argc, char** argv) {
  const bench::Args args(argc, argv);
  run_process(args);
  if (!futbench::wants_thread(args)) return 0;
  BaselinePool pool(2);
  return futbench::run(
      argc, argv, [&](long i) { return pool.submit([i] { return i * i; }); },
      [](std::future<long>& f) { return f.get(); });
}
