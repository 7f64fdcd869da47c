// The shared arena: shared across fork, blocks reused, lock-free under
// concurrency, survives a process killed mid-use, refuses when full.
#include "mpx/detail/arena.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <cstring>

#include <set>
#include <thread>

#include "mpx/errors.hpp"
#include "mpx/process.hpp"

using mpx::detail::Arena;

TEST(Arena, BlocksAreAlignedZeroedAndDistinct) {
  auto arena = Arena::create(1 << 20);
  std::set<std::uint64_t> seen;
  for (std::size_t size : {1, 63, 64, 65, 100, 4096, 5000}) {
    auto off = arena.allocate(size);
    EXPECT_EQ(off % 64, 0u);
    EXPECT_TRUE(seen.insert(off).second);
    auto* p = arena.at<unsigned char>(off);
    for (std::size_t i = 0; i < size; ++i) ASSERT_EQ(p[i], 0);
  }
}

TEST(Arena, FreedBlocksAreReusedAndZeroed) {
  auto arena = Arena::create(1 << 20);
  auto a = arena.allocate(200);
  std::memset(arena.at<char>(a), 0x5a, 200);
  arena.deallocate(a, 200);
  auto b = arena.allocate(256);  // same size class
  EXPECT_EQ(a, b);
  EXPECT_EQ(*arena.at<char>(b + 100), 0);
  auto used = arena.used();
  for (int i = 0; i < 1000; ++i) {
    auto x = arena.allocate(1000);
    arena.deallocate(x, 1000);
  }
  EXPECT_LE(arena.used(), used + 1024);  // no growth from churn
}

TEST(Arena, FullArenaThrowsClearly) {
  auto arena = Arena::create(64 * 1024);
  EXPECT_THROW(
      {
        for (int i = 0; i < 10000; ++i) arena.allocate(1024);
      },
      mpx::Error);
  EXPECT_THROW(arena.allocate(std::size_t(1) << 62), mpx::Error);
}

TEST(Arena, SharedWithForkChildren) {
  auto arena = Arena::create(1 << 20);
  auto off = arena.allocate(sizeof(int));
  mpx::Process child([&] {
    *arena.at<int>(off) = 42;
    // The child may allocate too; the parent sees its blocks.
    auto o2 = arena.allocate(64);
    *arena.at<std::uint64_t>(o2) = 7;
    *arena.at<std::uint64_t>(off + 8) = o2;
  });
  child.start();
  child.join();
  EXPECT_EQ(child.exitcode(), 0);
  EXPECT_EQ(*arena.at<int>(off), 42);
  EXPECT_EQ(*arena.at<std::uint64_t>(*arena.at<std::uint64_t>(off + 8)), 7u);
}

TEST(Arena, AttachByDescriptorSeesTheSameBytes) {
  auto arena = Arena::create(1 << 16);
  auto off = arena.allocate(64);
  *arena.at<int>(off) = 1234;
  auto other = Arena::attach(mpx::detail::Fd(::fcntl(arena.fd(), F_DUPFD_CLOEXEC, 0)));
  EXPECT_EQ(*other.at<int>(off), 1234);
  // Attaching something that is not an arena is refused.
  auto junk = mpx::detail::Fd::memfd("junk", 4096);
  EXPECT_THROW(Arena::attach(std::move(junk)), mpx::ValueError);
}

TEST(Arena, ConcurrentAllocationNeverHandsOutABlockTwice) {
  auto arena = Arena::create(64 << 20);
  constexpr int kThreads = 4, kOps = 20000;
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::uint64_t> mine;
      for (int i = 0; i < kOps; ++i) {
        auto off = arena.allocate(100);
        auto* tag = arena.at<std::atomic<int>>(off + 8);
        if (tag->exchange(t + 1) != 0) ++errors;  // someone else holds it
        mine.push_back(off);
        if (mine.size() > 8) {
          auto o = mine.front();
          mine.erase(mine.begin());
          arena.at<std::atomic<int>>(o + 8)->store(0);
          arena.deallocate(o, 100);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
}

TEST(Arena, ProcessKilledMidChurnLeavesItUsable) {
  auto arena = Arena::create(16 << 20);
  const auto before = arena.used();
  mpx::Process churn([&] {
    for (;;) {
      auto off = arena.allocate(128);
      arena.deallocate(off, 128);
    }
  });
  churn.start();
  // Let it churn until it has demonstrably allocated, then kill it mid-loop.
  while (arena.used() == before) {
  }
  churn.kill();
  churn.join();
  EXPECT_EQ(churn.exitcode(), -9);
  for (int i = 0; i < 1000; ++i) {
    auto off = arena.allocate(128);
    arena.deallocate(off, 128);
  }
}
