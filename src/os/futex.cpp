// futex(2) wait and wake on shared 32-bit words (detail/futex.hpp).
#include "mpx/detail/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

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
// ~1000 pause rounds bring a cross-process hand-off from ~20 µs to ~0.1 µs
// here (PLATFORM.md §3); on a single CPU spinning only delays the waker.
// Computed at static initialisation, not in a function-local static: a fork
// taken while another thread sat in that static's guard would leave the
// child blocked on it forever.
const int g_spin_budget = std::thread::hardware_concurrency() > 1 ? 1000 : 0;
}  // namespace

int spin_budget() noexcept { return g_spin_budget; }

}  // namespace mpx::detail
