// futex(2) wait and wake on shared 32-bit words (detail/futex.hpp).
#include "mpx/detail/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <thread>

#include "mpx/errors.hpp"

namespace mpx::detail {

bool futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline) {
  auto* addr = reinterpret_cast<const std::uint32_t*>(&word);
  timespec ts{};
  timespec* tsp = nullptr;
  if (!deadline.is_never()) {
    if (deadline.expired()) return false;
    ts.tv_sec = static_cast<time_t>(deadline.ns() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(deadline.ns() % 1'000'000'000);
    tsp = &ts;
  }
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so a wait
  // restarted after EINTR keeps the caller's deadline.
  long rc = ::syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, expected, tsp, nullptr, FUTEX_BITSET_MATCH_ANY);
  if (rc == 0) return true;
  switch (errno) {
    case EAGAIN:  // the word no longer holds `expected`
    case EINTR:
      return true;
    case ETIMEDOUT:
      return false;
    default:
      throw_os_error("futex(FUTEX_WAIT_BITSET)");
  }
}

int futex_wake(const std::atomic<std::uint32_t>& word, int count) noexcept {
  auto* addr = reinterpret_cast<const std::uint32_t*>(&word);
  long rc = ::syscall(SYS_futex, addr, FUTEX_WAKE, count, nullptr, nullptr, 0);
  return rc < 0 ? 0 : static_cast<int>(rc);
}

namespace {
// The cap: 200 rounds of pause + load is ~5 µs on this machine's EPYC (a
// pause costs ~25 ns there, a few ns on older Intel cores): a fraction of the
// ~20 µs a sleeping hand-off costs. A lost spin halves the allowance, down to
// the floor, so on a busy machine a wait costs a few rounds more than a plain
// futex sleep. Every 16th wait below the cap probes with the whole cap, and a
// won spin restores the cap: an allowance at the floor is too short to ever
// win by itself, so without the probe one busy moment would end spinning for
// the thread's life.
constexpr int kSpinCap = 200;
constexpr int kSpinFloor = 4;
constexpr unsigned kProbeEvery = 16;
// Computed at static initialisation, not in a function-local static: a fork
// taken while another thread sat in that static's guard would leave the
// child blocked on it forever. On one CPU spinning only delays the waker.
const int g_spin_cap = std::thread::hardware_concurrency() > 1 ? kSpinCap : 0;
thread_local int t_allowance = -1;  // -1: not yet set for this thread
thread_local unsigned t_spins = 0;
}  // namespace

int spin_allowance() noexcept {
  if (t_allowance < 0) t_allowance = g_spin_cap;
  if (t_allowance < g_spin_cap && ++t_spins % kProbeEvery == 0) return g_spin_cap;
  return t_allowance;
}

void spin_won() noexcept { t_allowance = g_spin_cap; }

void spin_lost() noexcept { t_allowance = std::max(std::min(kSpinFloor, g_spin_cap), t_allowance / 2); }

}  // namespace mpx::detail
