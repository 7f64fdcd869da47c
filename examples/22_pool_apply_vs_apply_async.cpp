// 22_pool_apply_vs_apply_async: Pool.apply waits for each task; apply_async hands back a result at once.
//
// Seed lessons: 同步\异步 (synchronous and asynchronous calls) in
// 000_ec46196c2f03f318.txt, section 四 — "multiprocessing.Pool下的apply" is
// the synchronous example (发起同步调用后,就在原地等着任务结束: the caller
// waits where it is until the task ends) and "Pool().apply_async()" the
// asynchronous one (立即获取一个临时结果: it gets a placeholder for the result
// at once); and 提交任务的两种方式 (two ways to submit a task) in
// 002_eb024505f4b76b08.txt, section 5.1 (同步调用 异步调用+回调机制). The
// Python original:
//
//   from multiprocessing import Pool
//   import os, time
//
//   def work(n):
//       print('%s run' % os.getpid())
//       time.sleep(3)
//       return n ** 2
//
//   if __name__ == '__main__':
//       p = Pool(3)              # three processes, made once, reused for every task
//       res_l = []
//       for i in range(10):
//           res = p.apply(work, args=(i,))        # waits for this task: about 30 s in all
//           res_l.append(res)
//       print(res_l)
//
//       res_l = []
//       for i in range(10):
//           res = p.apply_async(work, args=(i,))  # returns at once: about 12 s in all
//           res_l.append(res)
//       p.close()
//       p.join()
//       for res in res_l:
//           print(res.get())
//
// Timing shows the difference but is not the same on every run, so here the
// tasks count instead: each one notes, in counters shared with the main
// process, that it is running and that it finished, and waits for a `go`
// Event before finishing. With apply, `go` is set from the start, the count
// of finished tasks goes up by exactly one per call and never more than one
// task runs at once. With apply_async, `go` is not set yet: all ten calls
// return while no task has finished, three tasks (one per worker) are seen
// running at once, and only after `go` do the results come — in the order the
// calls were made, whatever order the workers finished them in.
//
// Notice in the output: "finished so far" equal to the call number after each
// apply; 0 after the ten apply_async calls; at most 1 vs 3 tasks at once.
// The shared counters reach the workers through the pool's initializer
// (Python: Pool(3, initializer=init, initargs=(cond, counts, go))), the way
// shared objects travel to pool workers, which exist before any task does.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <mpx/mpx.hpp>
#include <mpx/pool.hpp>

using namespace std::chrono_literals;

namespace {

// The counters: [0] running now, [1] most running at once, [2] finished.
constexpr int kRunning = 0, kPeak = 1, kFinished = 2, kCounters = 3;

// Set in each worker by the initializer (and in the main process by main).
std::optional<mpx::Condition> g_cond;  // guards the counters; notified on every change
std::optional<mpx::RawArray<int>> g_counts;
std::optional<mpx::Event> g_go;

void init(mpx::Condition cond, mpx::RawArray<int> counts, mpx::Event go) {
  g_cond = cond;
  g_counts = counts;
  g_go = go;
}

int work(int n) {
  auto& c = *g_counts;
  {
    std::scoped_lock hold(*g_cond);
    c[kRunning] = c[kRunning] + 1;
    if (c[kRunning] > c[kPeak]) c[kPeak] = c[kRunning];
    g_cond->notify_all();
  }
  g_go->wait();
  {
    std::scoped_lock hold(*g_cond);
    c[kRunning] = c[kRunning] - 1;
    c[kFinished] = c[kFinished] + 1;
    g_cond->notify_all();
  }
  return n * n;
}

int counter(int which) {
  std::scoped_lock hold(*g_cond);
  return (*g_counts)[which];
}

void reset_counters() {
  std::scoped_lock hold(*g_cond);
  for (int i = 0; i < kCounters; ++i) (*g_counts)[i] = 0;
}

std::string list(const std::vector<int>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  init(mpx::Condition(), mpx::RawArray<int>(kCounters), mpx::Event());
  mpx::Pool p({.processes = 3, .initializer = {init, *g_cond, *g_counts, *g_go}});

  // 1. apply: synchronous. Each call returns only once its task is done.
  std::puts("apply, one call at a time:");
  g_go->set();
  std::vector<int> res_l;
  for (int i = 0; i < 10; ++i) {
    int res = p.apply(work, i);
    res_l.push_back(res);
    std::printf("  apply(work, %d) returned %2d; tasks finished so far: %2d\n", i, res, counter(kFinished));
  }
  std::printf("results: %s\n", list(res_l).c_str());
  std::printf("most tasks running at once: %d (the other two workers sat idle)\n\n", counter(kPeak));

  // 2. apply_async: asynchronous. Each call returns an AsyncResult at once.
  std::puts("apply_async, all ten calls first:");
  reset_counters();
  g_go->clear();
  std::vector<mpx::AsyncResult<int>> results;
  for (int i = 0; i < 10; ++i) results.push_back(p.apply_async(work, i));
  std::printf("  the 10 apply_async calls returned; tasks finished so far: %d\n", counter(kFinished));
  {
    // Each worker has taken a task and waits for `go`; the other seven wait in the pool's queue.
    std::scoped_lock hold(*g_cond);
    bool three = g_cond->wait_for([] { return (*g_counts)[kRunning] == 3; }, 10s);
    std::printf("  tasks running at once while they wait for go: %d%s\n", (*g_counts)[kRunning],
                three ? " (one per worker of Pool(3))" : " (timed out waiting for 3)");
  }
  g_go->set();
  p.close();  // no more tasks ...
  p.join();   // ... and wait for the workers to finish the queued ones
  res_l.clear();
  for (auto& res : results) res_l.push_back(res.get());  // in the order of the calls
  std::printf("after close() and join(): tasks finished: %d\n", counter(kFinished));
  std::printf("results: %s\n", list(res_l).c_str());
  std::printf("most tasks running at once: %d\n", counter(kPeak));
  return 0;
}
