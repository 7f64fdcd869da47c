// mpx/detail/deadline.hpp — the one timeout type every blocking call takes.
//
// A Deadline is an absolute CLOCK_MONOTONIC instant, or never. Turning each
// user timeout into an absolute instant once, at the call's start, keeps
// retries after EINTR or spurious wake-ups from stretching the wait (abseil's
// KernelTimeout does the same). CLOCK_MONOTONIC is the same clock in every
// process of the machine, so a deadline may cross a fork.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

namespace mpx::detail {

class Deadline {
 public:
  using clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC in libstdc++

  /// No deadline: wait forever.
  static constexpr Deadline never() noexcept { return Deadline(kNever); }
  /// Already expired: poll once, do not wait.
  static Deadline now() noexcept { return Deadline(now_ns()); }
  /// Already passed, without reading the clock: "do not wait" for a call
  /// that tries first and looks at the deadline only if it must wait.
  static constexpr Deadline passed() noexcept { return Deadline(0); }

  /// `timeout` from now; a negative timeout is treated as zero (Python does the same).
  template <class Rep, class Period>
  static Deadline after(std::chrono::duration<Rep, Period> timeout) noexcept {
    if (timeout <= timeout.zero()) return now();
    // Saturate: a timeout of years must not overflow into the past.
    constexpr auto kMax = std::chrono::duration<double>(std::chrono::hours(24 * 365 * 100));
    if (std::chrono::duration<double>(timeout) > kMax) return never();
    return Deadline(now_ns() + std::chrono::ceil<std::chrono::nanoseconds>(timeout).count());
  }

  bool is_never() const noexcept { return ns_ == kNever; }
  /// Deadline::passed(): the caller tries once and must not wait, not even spin.
  bool is_passed() const noexcept { return ns_ == 0; }
  bool expired() const noexcept { return !is_never() && now_ns() >= ns_; }
  /// Nanoseconds since the CLOCK_MONOTONIC epoch; only meaningful if !is_never().
  std::int64_t ns() const noexcept { return ns_; }
  /// Time left, zero once expired; only meaningful if !is_never().
  std::chrono::nanoseconds remaining() const noexcept {
    auto left = ns_ - now_ns();
    return std::chrono::nanoseconds(left > 0 ? left : 0);
  }
  /// Milliseconds left rounded up, for poll(2): -1 for never.
  int poll_timeout_ms() const noexcept {
    if (is_never()) return -1;
    auto left = remaining().count();
    auto ms = (left + 999'999) / 1'000'000;
    return ms > std::numeric_limits<int>::max() ? std::numeric_limits<int>::max() : static_cast<int>(ms);
  }

  static std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch()).count();
  }

 private:
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  explicit constexpr Deadline(std::int64_t ns) noexcept : ns_(ns) {}
  std::int64_t ns_;
};

}  // namespace mpx::detail

namespace mpx {
/// A timeout that never expires, for the calls whose Python form takes
/// timeout=None: `conn.poll(mpx::forever)`.
inline constexpr std::chrono::nanoseconds forever = std::chrono::nanoseconds::max();
}  // namespace mpx
