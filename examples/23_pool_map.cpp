// 23_pool_map: Pool.map, chunksize, map_async, starmap, imap and imap_unordered.
//
// Seed lesson: the steps of a process pool in 003_9b13542cec5b1b94.txt,
// under 常用方法 (創建進程池的步驟: import multiprocessing, make a Pool, submit
// tasks with apply_async or map, then close and join), and section 4 池 of
// 002_eb024505f4b76b08.txt (如何用池: how to use a pool). The Python original,
// with the rest of map's family:
//
//   from multiprocessing import Pool
//
//   def square(n):
//       return n * n
//
//   if __name__ == '__main__':
//       with Pool(2) as p:
//           print(p.map(square, range(10)))                # [0, 1, 4, ..., 81], in order
//           print(p.map(square, range(10), chunksize=3))   # the same, 4 tasks of up to 3 items
//           print(p.starmap(pow, [(2, 3), (3, 2), (10, 3)]))   # [8, 9, 1000]
//           for r in p.imap(square, range(6)): print(r)    # in order, as they come
//           for r in p.imap_unordered(square, range(6)): print(r)  # as they finish
//
// What to notice:
//   - map returns the results in the input order, however the items were
//     spread over the workers;
//   - chunksize=3 sends the items three at a time: the three items of a chunk
//     run one after the other in the same worker (checked by comparing the
//     workers' pids, which are not printed);
//   - map_async's callback gets the whole list, on the pool's result thread,
//     before get() returns;
//   - imap gives results one by one in the input order, so a slow first item
//     holds back the others (next() with a timeout says TimeoutError);
//     imap_unordered gives them as they finish, so the slow item comes last.
//     The slow item waits for an Event the main process sets, so this order
//     is the same on every run.
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <mpx/mpx.hpp>
#include <mpx/pool.hpp>

using namespace std::chrono_literals;

namespace {

std::optional<mpx::Event> g_go;  // item 0 of the imap demos waits for it
void init(mpx::Event go) { g_go = go; }

int square(int n) { return n * n; }

// The square, and which worker computed it.
std::pair<int, int> square_and_pid(int n) { return {n * n, static_cast<int>(::getpid())}; }

long power(long base, int exp) {
  long r = 1;
  for (int i = 0; i < exp; ++i) r *= base;
  return r;
}

// Item 0 is slow: it waits for the main process's go.
int slow_first_square(int n) {
  if (n == 0) g_go->wait();
  return n * n;
}

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

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  mpx::Event go;
  mpx::Pool p({.processes = 2, .initializer = {init, go}});
  std::vector<int> items{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

  // map: the results in order.
  std::printf("map(square, range(10))              = %s\n", list(p.map(square, items)).c_str());

  // chunksize: three items per task.
  auto pairs = p.map({.chunksize = 3}, square_and_pid, items);
  std::vector<int> squares;
  bool chunks_in_one_worker = true;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    squares.push_back(pairs[i].first);
    if (i % 3 != 0 && pairs[i].second != pairs[i - 1].second) chunks_in_one_worker = false;
  }
  std::printf("map(square, range(10), chunksize=3) = %s\n", list(squares).c_str());
  std::printf("  4 chunks ([0..2] [3..5] [6..8] [9]); each chunk ran in one worker: %s\n",
              chunks_in_one_worker ? "yes" : "no");

  // map_async: a handle now, the list later; its callback sees the whole list.
  auto r = p.map_async({.callback =
                            [](const std::vector<int>& all) {
                              int sum = 0;
                              for (int x : all) sum += x;
                              std::printf("  map_async's callback: %zu results, sum %d\n", all.size(), sum);
                            }},
                       square, items);
  std::printf("map_async(square, range(10)).get() = %s\n", list(r.get()).c_str());

  // starmap: each item is an argument tuple, f(*item).
  std::vector<std::pair<long, int>> args{{2, 3}, {3, 2}, {10, 3}};
  std::printf("starmap(pow, [(2, 3), (3, 2), (10, 3)]) = %s\n", list(p.starmap(power, args)).c_str());

  // imap: in input order, so it cannot give anything before item 0 is done.
  std::vector<int> six{0, 1, 2, 3, 4, 5};
  auto in_order = p.imap(slow_first_square, six);
  try {
    in_order.next(200ms);
    std::puts("imap: the first result came before go (unexpected)");
  } catch (const mpx::TimeoutError&) {
    std::puts("imap: next(timeout=0.2) -> TimeoutError: item 0 is not done, and the others wait behind it");
  }
  go.set();
  std::vector<int> got;
  for (int v : in_order) got.push_back(v);
  std::printf("imap after go: %s (input order: item 0 first, though it finished last)\n", list(got).c_str());

  // imap_unordered: as they finish. One worker is stuck on item 0, the other
  // does 1..5 one after the other; item 0 only after go.
  go.clear();
  auto unordered = p.imap_unordered(slow_first_square, six);
  got.clear();
  for (int i = 0; i < 5; ++i) got.push_back(*unordered.next(10s));
  go.set();
  for (int v : unordered) got.push_back(v);
  std::printf("imap_unordered: %s (item 0 finished last, so it came last)\n", list(got).c_str());

  p.close();
  p.join();
  return 0;
}
