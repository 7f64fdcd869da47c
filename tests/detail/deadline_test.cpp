#include "mpx/detail/deadline.hpp"

#include <gtest/gtest.h>

using mpx::detail::Deadline;
using namespace std::chrono_literals;

TEST(Deadline, NeverNeverExpires) {
  auto d = Deadline::never();
  EXPECT_TRUE(d.is_never());
  EXPECT_FALSE(d.expired());
  EXPECT_EQ(d.poll_timeout_ms(), -1);
}

TEST(Deadline, NegativeAndZeroTimeoutsAreAlreadyExpired) {
  EXPECT_TRUE(Deadline::after(-5s).expired());
  EXPECT_TRUE(Deadline::after(0s).expired());
  EXPECT_EQ(Deadline::after(0s).poll_timeout_ms(), 0);
}

TEST(Deadline, HugeTimeoutsSaturateToNever) {
  EXPECT_TRUE(Deadline::after(std::chrono::hours::max()).is_never());
  EXPECT_TRUE(Deadline::after(mpx::forever).is_never());
  EXPECT_TRUE(Deadline::after(std::chrono::duration<double>(1e300)).is_never());
}

TEST(Deadline, PollTimeoutRoundsUp) {
  auto d = Deadline::after(1500us);
  int ms = d.poll_timeout_ms();
  EXPECT_GE(ms, 1);
  EXPECT_LE(ms, 2);
  EXPECT_FALSE(d.expired());
  EXPECT_LE(d.remaining(), 1500us);
}
