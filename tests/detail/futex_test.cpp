// The futex wait: wakes across threads and across fork, honours deadlines.
#include "mpx/detail/futex.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <thread>

#include "mpx/detail/arena.hpp"
#include "mpx/process.hpp"

using mpx::detail::Deadline;
using namespace std::chrono_literals;

TEST(Futex, TimesOutAtTheDeadline) {
  std::atomic<std::uint32_t> word{0};
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(mpx::detail::wait_until(
      word, [](std::uint32_t v) { return v == 1; }, Deadline::after(30ms)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
}

TEST(Futex, ExpiredDeadlineStillChecksOnce) {
  std::atomic<std::uint32_t> word{1};
  EXPECT_TRUE(mpx::detail::wait_until(
      word, [](std::uint32_t v) { return v == 1; }, Deadline::now()));
  word = 0;
  EXPECT_FALSE(mpx::detail::wait_until(
      word, [](std::uint32_t v) { return v == 1; }, Deadline::now()));
}

TEST(Futex, WakesAnotherThread) {
  std::atomic<std::uint32_t> word{0};
  std::atomic<std::uint32_t> go{0};
  std::thread t([&] {
    mpx::detail::wait_until(
        go, [](std::uint32_t v) { return v == 1; }, Deadline::never());
    word.store(1, std::memory_order_release);
    mpx::detail::futex_wake(word);
  });
  go.store(1);
  mpx::detail::futex_wake(go);
  EXPECT_TRUE(mpx::detail::wait_until(
      word, [](std::uint32_t v) { return v == 1; }, Deadline::after(10s)));
  t.join();
}

TEST(Futex, ManyWaitersAllWake) {
  std::atomic<std::uint32_t> word{0};
  std::vector<std::thread> threads;
  std::atomic<int> woke{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (mpx::detail::wait_until(
              word, [](std::uint32_t v) { return v != 0; }, Deadline::after(10s)))
        ++woke;
    });
  }
  word.store(1);
  mpx::detail::futex_wake(word);
  for (auto& t : threads) t.join();
  EXPECT_EQ(woke.load(), 4);
}

TEST(Futex, PingPongAcrossFork) {
  auto& arena = mpx::detail::Arena::shared();
  auto off = arena.allocate(2 * sizeof(std::uint32_t));
  auto* ping = arena.at<std::atomic<std::uint32_t>>(off);
  auto* pong = ping + 1;
  constexpr std::uint32_t kRounds = 200;
  mpx::Process child([=] {
    for (std::uint32_t i = 1; i <= kRounds; ++i) {
      if (!mpx::detail::wait_until(
              *ping, [i](std::uint32_t v) { return v == i; }, Deadline::after(10s))) {
        mpx::exit(2);
      }
      pong->store(i);
      mpx::detail::futex_wake(*pong);
    }
  });
  child.start();
  for (std::uint32_t i = 1; i <= kRounds; ++i) {
    ping->store(i);
    mpx::detail::futex_wake(*ping);
    ASSERT_TRUE(mpx::detail::wait_until(
        *pong, [i](std::uint32_t v) { return v == i; }, Deadline::after(10s)));
  }
  child.join();
  EXPECT_EQ(child.exitcode(), 0);
  arena.deallocate(off, 2 * sizeof(std::uint32_t));
}
