// mpx::ThreadPool: multiprocessing.pool.ThreadPool — Pool's API over worker
// threads. Label `thread`: also run under TSan.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mpx/pool.hpp"
#include "support/futures_helper.hpp"

using namespace std::chrono_literals;
using mpx::test::Flag;

namespace {
int square(int x) { return x * x; }
int fail_on_5(int x) {
  if (x == 5) throw std::invalid_argument("five");
  return x;
}
}  // namespace

TEST(ThreadPool, AnyCallableRunsOnAWorkerThread) {
  mpx::ThreadPool pool(2);
  EXPECT_EQ(pool.processes(), 2);
  int offset = 10;  // captured: threads share memory, nothing travels
  EXPECT_EQ(pool.apply([&](int x) { return x + offset; }, 5), 15);
  EXPECT_NE(pool.apply([] { return std::this_thread::get_id(); }), std::this_thread::get_id());
  auto owned = pool.apply([] { return std::make_unique<int>(7); });  // move-only results
  EXPECT_EQ(*owned, 7);
  std::vector<int> in(500);
  std::iota(in.begin(), in.end(), 0);
  auto out = pool.map({.chunksize = 7}, square, in);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], i * i);
  std::vector<std::pair<int, int>> pairs{{1, 2}, {3, 4}};
  EXPECT_EQ(pool.starmap([](int a, int b) { return a * b; }, pairs), (std::vector<int>{2, 12}));
  std::multiset<int> got;
  for (int v : pool.imap_unordered(square, in)) got.insert(v);
  EXPECT_EQ(got.size(), 500u);
  std::vector<int> ordered;
  for (int v : pool.imap({.chunksize = 3}, square, std::vector<int>{1, 2, 3, 4})) ordered.push_back(v);
  EXPECT_EQ(ordered, (std::vector<int>{1, 4, 9, 16}));
}

TEST(ThreadPool, ExceptionsAndCallbacksOnTheResultThread) {
  mpx::ThreadPool pool(2);
  EXPECT_THROW(pool.apply(fail_on_5, 5), std::invalid_argument);
  EXPECT_THROW(pool.map(fail_on_5, std::vector<int>{4, 5, 6}), std::invalid_argument);
  std::atomic<std::thread::id> cb{}, ecb{};
  auto r = pool.apply_async({.callback = [&](const int&) { cb = std::this_thread::get_id(); }}, square, 3);
  EXPECT_EQ(r.get(10s), 9);
  auto e =
      pool.apply_async({.error_callback = [&](std::exception_ptr) { ecb = std::this_thread::get_id(); }}, fail_on_5, 5);
  e.wait(10s);
  EXPECT_FALSE(e.successful());
  EXPECT_EQ(cb.load(), ecb.load());  // one result thread
  EXPECT_NE(cb.load(), std::this_thread::get_id());
}

TEST(ThreadPool, TimeoutsAreRefusedNotIgnored) {
  mpx::ThreadPool pool(1);
  EXPECT_THROW(pool.apply_async({.timeout = 1s}, square, 2), mpx::ValueError);
  EXPECT_THROW(pool.map({.timeout = 1s}, square, std::vector<int>{1}), mpx::ValueError);
}

TEST(ThreadPool, CloseJoinAndTerminate) {
  mpx::ThreadPool pool(2);
  auto r = pool.map_async(square, std::vector<int>{1, 2, 3});
  EXPECT_THROW(pool.join(), mpx::ValueError);
  pool.close();
  EXPECT_THROW(pool.apply(square, 1), mpx::ValueError);
  pool.join();
  EXPECT_EQ(r.get(), (std::vector<int>{1, 4, 9}));

  mpx::ThreadPool pool2(1);
  Flag started, release;
  auto running = pool2.apply_async([&] {
    started.set();
    release.wait(10s);
    return 1;
  });
  ASSERT_TRUE(started.wait(10s));
  auto queued = pool2.apply_async(square, 2);
  std::thread t([&] {
    // Once terminate() has begun, the pool refuses new calls: then let the
    // running call finish (a running thread cannot be stopped).
    for (;;) {
      try {
        pool2.apply_async(square, 0);
      } catch (const mpx::ValueError&) {
        break;
      }
      std::this_thread::yield();
    }
    release.set();
  });
  pool2.terminate();
  t.join();
  EXPECT_EQ(running.get(10s), 1);
  EXPECT_THROW(queued.get(10s), mpx::ProcessError);
}

TEST(ThreadPool, InitializerRunsInEveryThreadAndItsFailureBreaksThePool) {
  std::atomic<int> inits{0};
  {
    mpx::ThreadPool pool({.processes = 3, .initializer = [&] { ++inits; }});
    pool.close();
    pool.join();
  }
  EXPECT_EQ(inits.load(), 3);
  mpx::ThreadPool bad({.processes = 1, .initializer = [] { throw std::runtime_error("no"); }});
  EXPECT_THROW(bad.apply_async(square, 1).get(10s), mpx::BrokenThreadPool);
}
