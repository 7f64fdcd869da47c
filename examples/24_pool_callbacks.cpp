// 24_pool_callbacks: apply_async's callback and error_callback run in the main process, on the pool's result thread.
//
// Seed lesson: 异步回调 (asynchronous callbacks) in 002_eb024505f4b76b08.txt,
// section 5.1 同步调用 异步调用+回调机制: 什么是异步回调 (what a callback is),
// 为什么需要回调 (why: like a kettle that whistles when the water boils, the
// task tells us it is done instead of us waiting on it), 回调函数什么时候被执行
// (when it runs: as soon as the task's result is in), 谁在执行回调函数 (who
// runs it: for a process pool, the main process), and 线程的异步回调 (callbacks
// with threads). The Python original:
//
//   from multiprocessing import Pool
//   import os
//
//   def work(n):
//       return os.getpid(), n ** 2
//
//   def on_result(res):                     # runs in the main process
//       print('%s got %s from %s' % (os.getpid(), res[1], res[0]))
//
//   def on_error(e):
//       print('failed:', e)
//
//   if __name__ == '__main__':
//       p = Pool(3)
//       for i in range(5):
//           p.apply_async(work, args=(i,), callback=on_result, error_callback=on_error)
//       p.close()
//       p.join()
//
//   # threads, multiprocessing.pool.ThreadPool: the same API, and again the
//   # pool's result-handler thread runs the callbacks, not the worker threads.
//   from multiprocessing.pool import ThreadPool
//   with ThreadPool(2) as tp:
//       tp.apply_async(work, (1,), callback=on_result).get()
//
//   # threads, concurrent.futures: the callback runs in the worker thread
//   # that finished the task — or at once, in the caller, if already done.
//   from concurrent.futures import ThreadPoolExecutor
//   pool = ThreadPoolExecutor(1)
//   pool.submit(work, 1).add_done_callback(lambda f: print(f.result()))
//
// What to notice: the tasks run in the workers, but each callback runs in
// the main process (same pid), all on one thread — the pool's result thread,
// not the main thread — and before get() on that result returns. A callback
// should therefore be quick: the next results wait behind it. A task that
// throws skips the callback and calls error_callback with the exception, which
// arrives as its own type. Pids are compared, never printed; the callbacks'
// lines are collected and printed sorted, so the output is the same each run.
// mpx::ThreadPool follows the same rule as mpx::Pool (one result thread,
// never a worker); concurrent.futures' ThreadPoolExecutor does not: the
// worker that finished the task runs the done callback.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <mpx/mpx.hpp>
#include <mpx/pool.hpp>

using namespace std::chrono_literals;
namespace fut = mpx::futures;
namespace th = mpx::threading;

namespace {

// The square of n, and the pid of the process that computed it.
std::pair<int, int> work(int n) {
  if (n == 3) throw mpx::ValueError("work(3): three is not allowed here");
  return {static_cast<int>(::getpid()), n * n};
}

// What each callback saw, for main to look at after join().
struct Seen {
  std::mutex mu;
  std::vector<std::string> lines;
  std::vector<int> callback_pids;
  std::vector<std::uint64_t> callback_threads;
  std::vector<int> task_pids;
  std::vector<int> called_back;  // the n whose callback has run
};
Seen g_seen;

void record(const std::string& line, int task_pid, int n) {
  std::scoped_lock hold(g_seen.mu);
  g_seen.lines.push_back(line);
  g_seen.callback_pids.push_back(static_cast<int>(::getpid()));
  g_seen.callback_threads.push_back(th::get_ident());
  if (task_pid) g_seen.task_pids.push_back(task_pid);
  g_seen.called_back.push_back(n);
}

bool called_back(int n) {
  std::scoped_lock hold(g_seen.mu);
  return std::find(g_seen.called_back.begin(), g_seen.called_back.end(), n) != g_seen.called_back.end();
}

template <class V, class P>
bool all_of(const V& v, P pred) {
  return std::all_of(v.begin(), v.end(), pred);
}

const char* yes(bool b) { return b ? "yes" : "no"; }

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const int main_pid = static_cast<int>(::getpid());
  const std::uint64_t main_thread = th::get_ident();

  // 1. A process pool: callbacks in the main process.
  std::vector<mpx::AsyncResult<std::pair<int, int>>> results;
  {
    mpx::Pool p(3);
    for (int i = 0; i < 5; ++i) {
      results.push_back(p.apply_async(
          {.callback =
               [i](const std::pair<int, int>& res) {
                 record("callback: work(" + std::to_string(i) + ") = " + std::to_string(res.second), res.first, i);
               },
           .error_callback =
               [i](std::exception_ptr e) {
                 try {
                   std::rethrow_exception(e);
                 } catch (const mpx::ValueError& err) {
                   record("error_callback: work(" + std::to_string(i) + ") raised ValueError: " + err.what(), 0, i);
                 } catch (const std::exception& err) {
                   record("error_callback: work(" + std::to_string(i) + ") raised " + err.what(), 0, i);
                 }
               }},
          work, i));
    }
    // Each callback has run by the time get() returns (Python's ApplyResult._set).
    bool before_get = true;
    std::string reraised;
    for (int i = 0; i < 5; ++i) {
      try {
        results[static_cast<std::size_t>(i)].get();
      } catch (const mpx::ValueError& e) {
        reraised = "get() of work(" + std::to_string(i) + ") re-raises it too: ValueError: " + e.what();
      }
      before_get = before_get && called_back(i);
    }
    p.close();
    p.join();

    std::sort(g_seen.lines.begin(), g_seen.lines.end());
    for (const auto& line : g_seen.lines) std::printf("  %s\n", line.c_str());
    std::printf("%s\n", reraised.c_str());
    std::printf(
        "the tasks ran in worker processes, none in the main one:       %s\n",
        yes(g_seen.task_pids.size() == 4 && all_of(g_seen.task_pids, [&](int pid) { return pid != main_pid; })));
    std::printf("every callback ran in the main process (getpid() == main's): %s\n",
                yes(all_of(g_seen.callback_pids, [&](int pid) { return pid == main_pid; })));
    const std::uint64_t result_thread = g_seen.callback_threads.front();
    std::printf("every callback ran on one and the same thread:               %s\n",
                yes(all_of(g_seen.callback_threads, [&](std::uint64_t t) { return t == result_thread; })));
    std::printf("that thread is the main thread:                              %s (the pool's result thread)\n",
                yes(result_thread == main_thread));
    std::printf("each callback had run before its get() returned:             %s\n\n", yes(before_get));
  }

  // 2. ThreadPool (multiprocessing.pool): threads, but the callbacks still
  // run on the pool's one result thread, not in the worker threads.
  {
    mpx::ThreadPool tp(2);
    std::mutex mu;
    std::set<std::uint64_t> workers, callers;
    std::vector<mpx::AsyncResult<int>> rs;
    for (int i = 0; i < 4; ++i) {
      rs.push_back(tp.apply_async(
          {.callback =
               [&](const int&) {
                 std::scoped_lock hold(mu);
                 callers.insert(th::get_ident());
               }},
          [&](int n) {
            std::scoped_lock hold(mu);
            workers.insert(th::get_ident());
            return n * n;
          },
          i));
    }
    for (auto& r : rs) r.get();
    tp.close();
    tp.join();
    bool apart = std::none_of(callers.begin(), callers.end(), [&](std::uint64_t t) { return workers.contains(t); });
    std::printf("ThreadPool(2): the 4 callbacks ran on one thread: %s; on none of the worker threads: %s\n\n",
                yes(callers.size() == 1), yes(apart));
  }

  // 3. Threads (concurrent.futures): the worker thread that finishes the
  // task runs the callback; a callback added to a future already done runs
  // at once, in the thread that adds it.
  {
    fut::ThreadPoolExecutor pool(1);
    th::Event go;
    auto task = [&go](int n) {
      go.wait();  // not done before its callback is added
      return std::make_pair(th::current_thread().name(), n * n);
    };
    std::string ran_in, called_in;
    auto f = pool.submit(task, 4);
    f.add_done_callback([&](fut::Future<std::pair<std::string, int>> g) {
      ran_in = g.result().first;
      called_in = th::current_thread().name();
    });
    go.set();
    f.result();
    pool.shutdown();  // the worker has run the callback once it has ended
    std::printf("ThreadPoolExecutor(1): the task ran in %s, its callback in %s: the same thread: %s\n", ran_in.c_str(),
                called_in.c_str(), yes(ran_in == called_in));
    std::string late;
    f.add_done_callback([&](fut::Future<std::pair<std::string, int>>) { late = th::current_thread().name(); });
    std::printf("a callback added after the task was done ran at once, in %s\n", late.c_str());
  }
  return 0;
}
