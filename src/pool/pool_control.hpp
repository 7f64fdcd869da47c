// src/pool/pool_control.hpp — the shared words of a process pool (the
// diagram in detail/process_pool.hpp), and the result ring's message header.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include "mpx/detail/deadline.hpp"
#include "mpx/detail/shared_object.hpp"

namespace mpx::detail {
class ProcessPoolCore;
}

namespace mpx::detail::pool {

// The pool whose results this thread reads now (the result thread, or a
// helper): a wait from inside (a callback) must not try to help again, nor
// wait for a worker to start (the supervisor may be waiting for it to read).
extern thread_local const ProcessPoolCore* t_reading;

// An error's message, for a BrokenProcessPool that names its cause.
std::string what_of(const std::exception_ptr& error);

// How much work an executor's widened window lets wait in the ring, at the
// rate calls have been completing (ProcessPoolCore::adapt_window_locked).
inline constexpr std::int64_t kQueuedWorkNs = 200'000;

// One cache line per worker: worker w writes only its own.
struct alignas(64) Slot {
  std::atomic<std::uint64_t> task;        // the task id it claimed, 0 when idle
  std::atomic<std::int64_t> deadline_ns;  // steady_clock ns; 0: no timeout
};

// What a worker whose initializer failed leaves in its slot: the supervisor
// does not replace it (the result thread breaks the pool).
inline constexpr std::uint64_t kInitFailedTask = ~std::uint64_t{0};

struct alignas(64) ControlHeader {
  std::atomic<std::uint64_t> last_taken;   // highest task id claimed
  std::atomic<std::uint32_t> terminating;  // terminate(): claim nothing more
};

inline std::size_t control_bytes(std::uint32_t slots) { return sizeof(ControlHeader) + slots * sizeof(Slot); }

inline ControlHeader& header(const std::shared_ptr<SharedBlock>& b) { return *static_cast<ControlHeader*>(b->data()); }
inline Slot& slot(const std::shared_ptr<SharedBlock>& b, std::uint32_t i) {
  return reinterpret_cast<Slot*>(static_cast<std::byte*>(b->data()) + sizeof(ControlHeader))[i];
}

inline void raise_to(std::atomic<std::uint64_t>& word, std::uint64_t value) noexcept {
  std::uint64_t seen = word.load(std::memory_order_seq_cst);
  while (seen < value && !word.compare_exchange_weak(seen, value, std::memory_order_seq_cst)) {
  }
}

inline std::int64_t steady_ns() noexcept { return Deadline::now_ns(); }

// The result ring's messages: this header, then the payload.
enum Kind : std::uint32_t {
  kReturned = 1,    // payload: the encoded result
  kRaised = 2,      // payload: RemoteException
  kDied = 3,        // from the supervisor; no payload
  kInitFailed = 4,  // payload: RemoteException
  kStop = 5,        // from the supervisor: every worker has ended
};

struct ResultHeader {
  std::uint32_t kind = 0;
  std::uint32_t worker = 0;
  std::uint64_t id = 0;
  std::int32_t exitcode = 0;
  std::uint16_t timed_out = 0;
  std::uint16_t clean = 0;  // kDied: the worker left on its own (no task, exit code 0)
};

}  // namespace mpx::detail::pool
