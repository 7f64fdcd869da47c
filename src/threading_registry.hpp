// src/threading_registry.hpp — the state behind every threading::Thread
// handle, and the one registry of this process's threads (Python's _active
// and _limbo), with its exit handler (_shutdown) and fork-child handler
// (_after_fork).
//
//   start() ─► register_start(): registry.active (+ .unjoined unless daemon)
//           ─► std::thread ─► bootstrap(): run(), then the thread's locals go
//
//   ThreadState::phase (a futex word; whoever changes it wakes every waiter)
//     Initial ──start()──► Starting ──bootstrap──► Running ──run() returned──► Stopped
//                          start() sleeps here ──┘          join() sleeps here ──┘
//
//   Before Stopped the thread has destroyed its local<T> values and left
//   registry.active, so a joiner sees neither. A daemon's std::thread is
//   detached at start; a non-daemon's stays joinable in its state until a
//   join(), the next start() or the exit handler reaps it (std::thread::join),
//   and registry.unjoined keeps the state alive until then, so a joinable
//   std::thread is never destroyed.
//
//   exit ─► shutdown(): main reads Stopped (a thread joining main wakes),
//           every non-daemon thread is reaped, again until none is left (a
//           thread may start more), later starts are refused; then mpx's
//           children are handled (process.hpp). Daemon threads keep running.
//   fork ─► the child gets a new registry holding only the forking thread,
//           as main; every other state reads Stopped there and is never
//           reaped (its OS thread does not exist in the child).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mpx/threading.hpp"

namespace mpx::detail {

enum Phase : std::uint32_t { kInitial, kStarting, kRunning, kStopped };

struct ThreadState : std::enable_shared_from_this<ThreadState> {
  enum class Kind { Normal, Main, Dummy };

  mutable std::mutex mu;  // guards the plain fields below
  Kind kind = Kind::Normal;
  std::string name;
  bool daemon = false;
  std::function<void()> target;
  threading::Thread* runner = nullptr;  // the subclass object whose run() executes, while it does
  std::thread thread;                   // joinable until reaped (non-daemon only)
  bool forked_away = false;             // inherited by a fork child: there is no OS thread to reap
  std::atomic<std::uint32_t> phase{kInitial};
  std::atomic<std::uint64_t> ident{0};
  std::atomic<int> native_id{0};
};

struct ThreadAccess {
  static threading::Thread handle(std::shared_ptr<ThreadState> st) { return threading::Thread(std::move(st)); }
};

/// Stores `phase` and wakes everyone sleeping on it.
void set_phase(ThreadState& st, std::uint32_t phase);
/// Python's _counter: numbers Thread-N and Dummy-N together.
int next_thread_number() noexcept;

/// The calling thread's state: a Thread's, main's, or a new dummy's.
ThreadState& current_state();
/// The calling thread's state if it has one yet (never makes a dummy).
ThreadState* known_current_state() noexcept;
std::shared_ptr<ThreadState> main_state();
/// Python's _active + _limbo.
std::vector<std::shared_ptr<ThreadState>> active_states();
std::size_t active_state_count();

/// Puts a starting thread in the registry (Python's _limbo).
/// Throws: RuntimeError("can't create new thread at interpreter shutdown").
void register_start(const std::shared_ptr<ThreadState>& st, bool daemon);
/// Takes back a start whose thread could not be made.
void unregister_start(const ThreadState& st);
/// Joins the OS thread of a Stopped state and forgets it; one caller joins.
void reap(ThreadState& st);
/// Reaps the finished threads nobody joined.
void reap_finished();
/// The new thread's side of start().
void bootstrap(const std::shared_ptr<ThreadState>& st);

/// Python's threading._shutdown: joins every non-daemon thread (the atexit
/// handler calls it). For a Process child's bootstrap, which leaves with _exit.
void threading_shutdown() noexcept;

/// Names the calling OS thread (the kernel keeps 15 bytes).
void set_os_name(const std::string& name);
/// Hands an exception that escaped run() to threading::excepthook (threading.cpp).
void invoke_excepthook(const std::shared_ptr<ThreadState>& st, std::exception_ptr e) noexcept;
/// Destroys the calling thread's local<T> values (threading_local.cpp). A
/// Thread's bootstrap calls it before the thread reads as stopped; other
/// threads but the main one get it from a thread_local destructor.
void local_thread_exit() noexcept;

}  // namespace mpx::detail
