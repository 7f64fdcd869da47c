// mpx::aio across threads (label `thread`, so TSan runs it too):
// call_soon_threadsafe from many threads, run_in_executor / to_thread,
// awaiting a concurrent.futures Future completed by another thread.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "mpx/aio.hpp"
#include "support/aio_backends.hpp"

namespace aio = mpx::aio;
namespace fut = mpx::futures;
using namespace std::chrono_literals;

namespace {

using AioThreads = mpx::test::AioTest;
MPX_AIO_BACKENDS(AioThreads);

TEST_P(AioThreads, CallSoonThreadsafeFromManyThreadsRunsEveryCallbackOnTheLoop) {
  aio::EventLoop loop(options());
  constexpr int kThreads = 4, kPosts = 2000;
  int count = 0;  // touched by the loop's thread only
  const auto loop_thread = std::this_thread::get_id();
  std::atomic<bool> wrong_thread{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPosts; ++i) {
        loop.call_soon_threadsafe([&] {
          if (std::this_thread::get_id() != loop_thread) wrong_thread = true;
          if (++count == kThreads * kPosts) loop.stop();
        });
      }
    });
  }
  loop.run_forever();
  for (auto& t : threads) t.join();
  EXPECT_EQ(count, kThreads * kPosts);
  EXPECT_FALSE(wrong_thread.load());
}

int square(int x) { return x * x; }

aio::Task<int> executor_calls() {
  fut::ThreadPoolExecutor ex(2);
  int a = co_await aio::run_in_executor(ex, square, 7);
  int b = co_await aio::to_thread(square, 8);
  int c = co_await ex.submit(square, 9);  // a futures::Future, awaited directly
  bool raised = false;
  try {
    co_await aio::to_thread([]() -> int { throw mpx::ValueError("in a thread"); });
  } catch (const mpx::ValueError&) {
    raised = true;
  }
  EXPECT_TRUE(raised);
  co_return a + b + c;
}

TEST_P(AioThreads, RunInExecutorAndToThread) { EXPECT_EQ(run(executor_calls()), 49 + 64 + 81); }

aio::Task<bool> cancel_wrapped() {
  fut::Future<int> cf;  // completed by nobody: the wait must end by cancellation
  aio::Event awaiting;
  auto waiting = aio::create_task([](fut::Future<int> f, aio::Event& e) -> aio::Task<int> {
    e.set();  // wakes the caller only after this task has suspended below
    co_return co_await f;
  }(cf, awaiting));
  co_await awaiting.wait();
  waiting.cancel();
  try {
    co_await waiting;
  } catch (const aio::CancelledError&) {
  }
  co_return cf.cancelled();
}

TEST_P(AioThreads, CancellingTheAwaitCancelsTheConcurrentFuture) { EXPECT_TRUE(run(cancel_wrapped())); }

aio::Task<int> completed_by_a_thread() {
  fut::Future<int> cf;
  std::thread t([cf]() mutable { cf.set_result(5); });
  int v = co_await cf;
  t.join();
  co_return v;
}

TEST_P(AioThreads, AFutureCompletedByAnotherThreadWakesTheTask) { EXPECT_EQ(run(completed_by_a_thread()), 5); }

}  // namespace
