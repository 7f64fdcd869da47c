// 25_executors: ProcessPoolExecutor and ThreadPoolExecutor — submit/result, map, as_completed, wait, shutdown.
//
// Seed lesson: 同步\异步 in 000_ec46196c2f03f318.txt, section 四: the
// synchronous examples "concurrent.futures.ProcessPoolExecutor().submit(func,)
// .result()" and "ThreadPoolExecutor().submit(func,).result()" (submit, then
// wait for that result before the next submit), and the asynchronous ones
// "ProcessPoolExecutor(3).submit(func,)" (submit everything, collect later);
// with 池 (pools) in 002_eb024505f4b76b08.txt. The Python original:
//
//   from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
//   import os
//
//   def task(n):
//       print('%s is running' % os.getpid())
//       return n ** 2
//
//   if __name__ == '__main__':
//       executor = ProcessPoolExecutor(max_workers=3)
//       futures = []
//       for i in range(11):
//           future = executor.submit(task, i)   # asynchronous: a Future at once
//           futures.append(future)
//       executor.shutdown(True)                 # wait for all of them
//       print('+++>')
//       for future in futures:
//           print(future.result())
//
//       with ThreadPoolExecutor(3) as pool:     # the with-block shuts it down
//           print(list(pool.map(task, range(5))))
//           for f in as_completed([pool.submit(task, i) for i in range(5)]):
//               print(f.result())
//
// What to notice:
//   - submit(...).result() one call at a time is the synchronous style; the
//     asynchronous one submits everything, then shutdown(wait=True) waits,
//     and result() gives each value in the order of the submits;
//   - the 11 tasks ran in at most 3 worker processes (the pool's size), none of
//     them the main process — pids are compared, not printed;
//   - map gives results in input order; as_completed in finishing order
//     (which varies, so it is sorted here); wait() splits done from not done;
//   - the C++ block is Python's `with`: leaving it calls shutdown(wait=true),
//     and the futures stay readable after the executor is gone;
//   - ThreadPoolExecutor takes any callable, e.g. a lambda that captures a
//     local variable, since its workers share this process's memory; a
//     ProcessPoolExecutor's call must travel (a function or captureless
//     lambda with encodable arguments), or the program does not compile;
//   - submit after shutdown raises RuntimeError.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <mpx/futures.hpp>
#include <mpx/mpx.hpp>

namespace fut = mpx::futures;

namespace {

int task(int n) { return n * n; }
std::pair<int, int> task_with_pid(int n) { return {static_cast<int>(::getpid()), n * n}; }

template <class V>
std::string list(const V& v) {
  std::string s = "[";
  bool first = true;
  for (const auto& x : v) {
    s += (first ? "" : ", ") + std::to_string(x);
    first = false;
  }
  return s + "]";
}

const char* yes(bool b) { return b ? "yes" : "no"; }

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const int main_pid = static_cast<int>(::getpid());
  std::vector<int> five{0, 1, 2, 3, 4};

  // 1. Processes, synchronous: each result before the next submit.
  {
    fut::ProcessPoolExecutor executor(3);
    std::vector<int> got;
    for (int i = 0; i < 5; ++i) got.push_back(executor.submit(task, i).result());
    std::printf("ProcessPoolExecutor, submit(task, i).result() one by one: %s\n", list(got).c_str());
  }

  // 2. Processes, asynchronous: all the submits, then shutdown(wait=True).
  std::vector<fut::Future<std::pair<int, int>>> futures;
  {
    fut::ProcessPoolExecutor executor({.max_workers = 3});
    for (int i = 0; i < 11; ++i) futures.push_back(executor.submit(task_with_pid, i));
    executor.shutdown(true);
    std::puts("+++>");
    bool all_done = std::all_of(futures.begin(), futures.end(), [](const auto& f) { return f.done(); });
    std::printf("after shutdown(wait=True) every future is done: %s\n", yes(all_done));
    try {
      executor.submit(task, 1);
    } catch (const mpx::RuntimeError& e) {
      std::printf("submit after shutdown: RuntimeError: %s\n", e.what());
    }
  }
  std::vector<int> got;
  std::set<int> pids;
  for (auto& f : futures) {
    got.push_back(f.result().second);
    pids.insert(f.result().first);
  }
  std::printf("results in submit order: %s\n", list(got).c_str());
  std::printf("ran in at most 3 worker processes: %s; none of them the main process: %s\n", yes(pids.size() <= 3),
              yes(!pids.contains(main_pid)));

  // 3. map, as_completed and wait, in a with-block.
  std::vector<fut::Future<int>> fs;
  {
    fut::ProcessPoolExecutor executor(3);  // with ProcessPoolExecutor(3) as executor:
    std::vector<int> mapped;
    for (int v : executor.map(task, five)) mapped.push_back(v);
    std::printf("executor.map(task, range(5)): %s\n", list(mapped).c_str());
    mapped.clear();
    for (int v : executor.map({.chunksize = 2}, task, five)) mapped.push_back(v);
    std::printf("executor.map(task, range(5), chunksize=2): %s\n", list(mapped).c_str());

    for (int i = 0; i < 5; ++i) fs.push_back(executor.submit(task, i));
    std::vector<int> finished;
    for (fut::Future<int> f : fut::as_completed(fs)) finished.push_back(f.result());
    std::sort(finished.begin(), finished.end());
    std::printf("as_completed (finishing order varies; sorted): %s\n", list(finished).c_str());
    auto [done, not_done] = fut::wait(fs, fut::ALL_COMPLETED);
    std::printf("wait(fs, return_when=ALL_COMPLETED): %zu done, %zu not done\n", done.size(), not_done.size());
  }  // the with-block ends: shutdown(wait=True)
  std::printf("after the with-block the futures still hold their results: fs[4].result() = %d\n", fs[4].result());

  // 4. Threads: the same API, any callable — this one writes to a local.
  std::vector<int> seen;
  std::mutex mu;
  {
    fut::ThreadPoolExecutor pool(3);  // with ThreadPoolExecutor(3) as pool:
    auto note = [&](int n) {
      std::scoped_lock hold(mu);
      seen.push_back(n);  // the main thread's vector: threads share memory
      return n * n;
    };
    std::printf("ThreadPoolExecutor, submit(note, 7).result() = %d\n", pool.submit(note, 7).result());
    std::vector<int> mapped;
    for (int v : pool.map(note, five)) mapped.push_back(v);
    std::printf("pool.map(note, range(5)): %s\n", list(mapped).c_str());
    std::vector<fut::Future<int>> tfs;
    for (int i = 10; i < 13; ++i) tfs.push_back(pool.submit(note, i));
    std::vector<int> finished;
    for (fut::Future<int> f : fut::as_completed(tfs)) finished.push_back(f.result());
    std::sort(finished.begin(), finished.end());
    std::printf("as_completed (sorted): %s\n", list(finished).c_str());
  }
  std::sort(seen.begin(), seen.end());
  std::printf("the lambda wrote to main's own vector from the worker threads: %s\n", list(seen).c_str());
  return 0;
}
