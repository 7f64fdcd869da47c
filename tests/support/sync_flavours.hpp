// tests/support/sync_flavours.hpp — the two flavours of mpx's synchronization
// primitives, as the conformance tests (typed tests) see them.
//
// mpx::Lock and friends are multiprocessing's; mpx::threading_sync::Lock and
// friends are threading's. The implementation is one; what differs is the
// error raised for misuse, listed here once so a test body reads the same for
// both: `EXPECT_THROW(lock.release(), typename TypeParam::LockReleaseError)`.
// Event and Barrier are one type in both flavours (as in Python, where they
// raise nothing flavour-specific).
#pragma once

#include <string>
#include <type_traits>

#include "mpx/errors.hpp"
#include "mpx/synchronize.hpp"

namespace mpx::test {

/// Python: threading.Lock, RLock, Semaphore, ... (RuntimeError for misuse).
struct Threading {
  using Lock = mpx::threading_sync::Lock;
  using RLock = mpx::threading_sync::RLock;
  using Semaphore = mpx::threading_sync::Semaphore;
  using BoundedSemaphore = mpx::threading_sync::BoundedSemaphore;
  using Condition = mpx::threading_sync::Condition;
  using Event = mpx::threading_sync::Event;
  using Barrier = mpx::threading_sync::Barrier;
  /// Lock.release() of an unlocked lock: RuntimeError("release unlocked lock").
  using LockReleaseError = mpx::RuntimeError;
  /// RLock.release() by a thread that does not own it.
  using RLockReleaseError = mpx::RuntimeError;
  /// Condition.wait()/notify() without holding its lock.
  using ConditionOwnerError = mpx::RuntimeError;
  /// BoundedSemaphore.release() above its initial value.
  using BoundedReleaseError = mpx::ValueError;
};

/// Python: multiprocessing.Lock, RLock, ... (ValueError / AssertionError).
struct Multiprocessing {
  using Lock = mpx::Lock;
  using RLock = mpx::RLock;
  using Semaphore = mpx::Semaphore;
  using BoundedSemaphore = mpx::BoundedSemaphore;
  using Condition = mpx::Condition;
  using Event = mpx::Event;
  using Barrier = mpx::Barrier;
  /// "semaphore or lock released too many times".
  using LockReleaseError = mpx::ValueError;
  /// "attempt to release recursive lock not owned by thread".
  using RLockReleaseError = mpx::AssertionError;
  /// "must acquire() condition before using wait()".
  using ConditionOwnerError = mpx::AssertionError;
  using BoundedReleaseError = mpx::ValueError;
};

/// gtest names for typed tests over the flavours: .../Threading, .../Multiprocessing.
struct FlavourNames {
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, Threading> ? "Threading" : "Multiprocessing";
  }
};

}  // namespace mpx::test
