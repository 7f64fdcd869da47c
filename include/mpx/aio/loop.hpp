// mpx/aio/loop.hpp — asyncio's event loop: callbacks, timers, descriptors.
//
//   mpx::aio::EventLoop loop;                         // MPX_AIO_BACKEND=epoll|io_uring, else probed
//   loop.call_soon([] { std::puts("first"); });
//   auto h = loop.call_later(50ms, [&] { loop.stop(); });
//   std::thread([&] { loop.call_soon_threadsafe([] { std::puts("from a thread"); }); }).join();
//   loop.run_forever();                               // until stop()
//
// One loop interface, two backends (DESIGN.md mechanism 7), chosen once in
// src/aio/backend.cpp: epoll, and io_uring (readiness through one-shot
// IORING_OP_POLL_ADD, re-armed while wanted, submitted with the wait in one
// io_uring_enter). Everything above the backend — ready queue, timer heap,
// tasks, transports — is shared.
//
//   run_forever / run_until_complete, one iteration (Python's _run_once):
//     timeout := 0 if the ready queue is non-empty, else until the first timer
//     backend.poll(timeout) ──► IoWatch::on_ready(events) for each ready fd
//     expired timers ──────────► ready queue
//     run what is in the ready queue now (new arrivals wait for the next turn)
//   call_soon_threadsafe (any thread): lock · push to the inbox · unlock ·
//     write the eventfd unless a wake-up is already pending
//
// A loop belongs to the thread that runs it; only call_soon_threadsafe may
// be called from elsewhere, as in Python.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mpx/errors.hpp"

namespace mpx::futures {
class ThreadPoolExecutor;
}

namespace mpx::aio {

class EventLoop;
using clock = std::chrono::steady_clock;

namespace detail {

class TaskCore;
class Inbox;
class Backend;
struct TimerEntry;

/// Python's Handle: a callback the loop will run once, unless cancelled.
/// Refcounted (atomically: call_soon_threadsafe hands it across threads).
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void run() = 0;
  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  std::atomic<bool> cancelled{false};

 private:
  std::atomic<std::uint32_t> refs_{1};
};

/// Readiness bits of an IoWatch.
inline constexpr int EV_READ = 1;
inline constexpr int EV_WRITE = 2;

/// What an IoWatch tells when its descriptor is ready.
class IoHandler {
 public:
  /// `events`: EV_READ and/or EV_WRITE (an error or hang-up sets both, so
  /// the next recv/send reports it).
  virtual void on_ready(int events) noexcept = 0;

 protected:
  ~IoHandler() = default;
};

/// One descriptor the loop watches. Made by EventLoop::watch, given back
/// with EventLoop::unwatch (the loop frees it once no backend event can
/// still name it). `wanted` is what the handler waits for now:
///   edge (epoll): registered once for read+write, edge-triggered; the
///     handler must have seen EAGAIN (or a short read) before it waits.
///   level: Python's add_reader semantics, re-reported while ready.
struct IoWatch {
  int fd = -1;
  int wanted = 0;
  bool edge = true;
  IoHandler* handler = nullptr;
  // Backend bookkeeping.
  bool registered = false;
  bool dead = false;
  int armed = 0;     // io_uring: directions with a poll in flight
  int inflight = 0;  // io_uring: SQEs naming this watch not yet completed
  int registered_mask = 0;
};

}  // namespace detail

/// Python: asyncio.Handle / TimerHandle — cancel() a scheduled callback.
class Handle {
 public:
  Handle() = default;
  explicit Handle(detail::Callback* cb) noexcept : cb_(cb) {}  // takes a reference
  Handle(const Handle& o) noexcept : cb_(o.cb_) {
    if (cb_) cb_->retain();
  }
  Handle& operator=(Handle o) noexcept {
    std::swap(cb_, o.cb_);
    return *this;
  }
  ~Handle() {
    if (cb_) cb_->release();
  }
  /// Python: cancel(). The callback will not run (if it has not yet).
  void cancel() noexcept {
    if (cb_) cb_->cancelled.store(true, std::memory_order_relaxed);
  }
  /// Python: cancelled().
  bool cancelled() const noexcept { return cb_ && cb_->cancelled.load(std::memory_order_relaxed); }

 private:
  detail::Callback* cb_ = nullptr;
};
using TimerHandle = Handle;

/// Keyword arguments of EventLoop (and aio::run).
struct LoopOptions {
  /// "epoll", "io_uring", or "" for $MPX_AIO_BACKEND, else io_uring if the
  /// kernel allows it, else epoll.
  std::string backend = "";
  /// Python: asyncio.run(debug=...); unused beyond is_debug() for now.
  bool debug = false;
};

/// Python: asyncio's event loop (BaseEventLoop + the selector/proactor loops).
class EventLoop {
 public:
  EventLoop() : EventLoop(LoopOptions{}) {}
  /// Throws: ValueError for an unknown backend name; OSError if the chosen
  ///   backend cannot start (an explicit "io_uring" the kernel refuses).
  explicit EventLoop(const LoopOptions& options);
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  /// Closes the loop if not closed (see close()).
  ~EventLoop();

  /// "epoll" or "io_uring".
  const char* backend_name() const noexcept;
  /// Whether `name` can run here (io_uring: the kernel accepts a ring).
  static bool backend_available(const std::string& name);

  // ---- running -------------------------------------------------------------
  /// Python: run_forever(). Blocks: until stop(). Throws: RuntimeError if
  ///   running already or closed; what a callback throws is logged, not thrown.
  void run_forever();
  /// Python: stop() — the current iteration finishes, then run_forever returns.
  void stop() noexcept { stopping_ = true; }
  /// Python: is_running(), is_closed().
  bool is_running() const noexcept { return running_; }
  bool is_closed() const noexcept { return closed_; }
  /// Python: close() — drops pending callbacks, destroys tasks that never
  /// finished, closes transports still open, the backend and the default
  /// executor (waiting for its threads). Throws: RuntimeError while running.
  void close();
  /// Python: time() — the loop's monotonic clock, in seconds.
  double time() const noexcept;

  // ---- callbacks -----------------------------------------------------------
  /// Python: call_soon(callback). Runs in FIFO order on the next iteration.
  Handle call_soon(std::function<void()> fn);
  /// Python: call_soon_threadsafe(callback). Safe from: any thread. A loop
  /// already closed drops the callback (Python raises RuntimeError).
  Handle call_soon_threadsafe(std::function<void()> fn);
  /// Python: call_later(delay, callback).
  template <class Rep, class Period>
  TimerHandle call_later(std::chrono::duration<Rep, Period> delay, std::function<void()> fn) {
    return call_at(clock::now() + std::chrono::ceil<clock::duration>(delay), std::move(fn));
  }
  /// Python: call_at(when, callback).
  TimerHandle call_at(clock::time_point when, std::function<void()> fn);

  // ---- descriptors (Python's add_reader family; level-triggered) ------------
  /// Python: add_reader(fd, callback) — replaces an earlier reader of fd.
  void add_reader(int fd, std::function<void()> fn);
  /// Python: remove_reader(fd) -> whether one was registered.
  bool remove_reader(int fd);
  void add_writer(int fd, std::function<void()> fn);
  bool remove_writer(int fd);

  // ---- the default executor --------------------------------------------------
  /// The ThreadPoolExecutor run_in_executor(nullptr, ...) and to_thread use;
  /// made on first use, shut down (waiting) by close().
  futures::ThreadPoolExecutor& default_executor();

  // ---- internals: tasks, watches, the thread-safe inbox -----------------------
  /// Resumes `t` on the next iteration (once, however often it is asked).
  void schedule(detail::TaskCore* t);
  /// Runs `cb` on the next iteration; takes the caller's reference.
  void schedule(detail::Callback* cb);
  /// Runs `cb` at `when` unless cancelled first; takes the caller's reference.
  void schedule_at(clock::time_point when, detail::Callback* cb);
  detail::IoWatch* watch(int fd, detail::IoHandler* handler, bool edge = true);
  /// Sets what `w` waits for now (EV_READ | EV_WRITE). Throws: OSError.
  void set_wanted(detail::IoWatch* w, int events);
  void unwatch(detail::IoWatch* w) noexcept;
  /// The inbox threads post to; it outlives the loop (posts after close are dropped).
  const std::shared_ptr<detail::Inbox>& inbox() const noexcept { return inbox_; }
  /// Tasks not yet done (Python: asyncio.all_tasks()).
  std::vector<detail::TaskCore*> pending_tasks() const;
  void task_started(detail::TaskCore* t);
  void task_finished(detail::TaskCore* t) noexcept;
  /// Transports and servers the loop closes at close() if their owners did not.
  void track(std::shared_ptr<void> closer, void (*close_fn)(void*));
  void untrack(void* closer) noexcept;
  bool is_debug() const noexcept { return debug_; }

 private:
  struct ReadyItem {
    detail::TaskCore* task;
    detail::Callback* cb;
  };
  void run_once();
  void run_ready();
  void check_open() const;

  std::unique_ptr<detail::Backend> backend_;
  std::shared_ptr<detail::Inbox> inbox_;
  detail::IoWatch* inbox_watch_ = nullptr;
  std::vector<ReadyItem> ready_, running_items_;
  std::vector<detail::TimerEntry> timers_;  // a min-heap on (when, seq)
  std::uint64_t timer_seq_ = 0;
  std::vector<detail::TaskCore*> tasks_;  // all_tasks; index kept in each task
  struct Tracked {
    std::shared_ptr<void> obj;
    void (*close_fn)(void*);
  };
  std::vector<Tracked> tracked_;
  struct FdCallbacks;
  std::vector<std::unique_ptr<FdCallbacks>> fd_callbacks_;  // add_reader/add_writer, by fd
  std::unique_ptr<futures::ThreadPoolExecutor> executor_;
  bool running_ = false;
  bool stopping_ = false;
  bool closed_ = false;
  bool debug_ = false;
  EventLoop* previous_ = nullptr;
};

/// Python: asyncio.get_running_loop(). Throws: RuntimeError if no loop runs in this thread.
EventLoop& get_running_loop();
/// The running loop, or nullptr (Python: events._get_running_loop()).
EventLoop* running_loop() noexcept;

namespace detail {
/// Sets the running loop of this thread for a scope (run_forever does it).
void set_running_loop(EventLoop* loop) noexcept;
/// Posts `fn` to the loop owning `inbox`, from any thread; false (and `fn`
/// destroyed here) if that loop is closed.
bool post(const std::shared_ptr<Inbox>& inbox, std::function<void()> fn);
}  // namespace detail

}  // namespace mpx::aio
