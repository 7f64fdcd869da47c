// mpx/queue.hpp — Python's queue module, for the threads of one process:
// Queue, LifoQueue, PriorityQueue, SimpleQueue, and Empty, Full, ShutDown.
// (Queues between processes are multiprocessing's: mpx/queues.hpp.)
//
//   mpx::queue::Queue<Job> q;                  // queue.Queue(); Queue<Job> q(100) for maxsize=100
//   std::thread worker([&] {
//     try {
//       for (;;) {
//         Job job = q.get();                      // blocks
//         run(job);
//         q.task_done();
//       }
//     } catch (const mpx::queue::ShutDown&) {}   // shut down and drained
//   });
//   q.put(Job{1});
//   q.join();                                  // every put() has had its task_done()
//   q.shutdown();                              // Python 3.13: the worker's get() raises ShutDown
//   worker.join();
//
// One class template does all four, as Python's Queue is one class whose
// subclasses override _init/_qsize/_put/_get: BasicQueue<T, Storage> owns the
// lock, the waiting and the bookkeeping, and the Storage policy (Fifo, Lifo,
// Heap, or your own) only stores items. The Python names are aliases.
//
// How it works: two counts, two locks, three lists of sleepers.
//
//   producers' cache line               consumers' cache line
//   put_: lock bit + puts (items put)   get_: lock bit + gets (items gotten), done_ (task_done calls)
//
//   qsize() = puts - gets       unfinished_tasks = puts - done_
//
//   put(x): lock put_ · wait while puts - gets >= maxsize · storage.put(x) ·
//           unlock put_ and puts += 1 (one fetch_add) · not_empty_.wake_one()
//   get():  lock get_ · while puts == gets: unlock, spin a few µs on the
//           counts, then announce in not_empty_, look once more, sleep; lock ·
//           x = storage.get() · unlock get_ and gets += 1 · not_full_.wake_one()
//
// Fifo lets its two ends work at once, so the two sides have a lock each and
// a producer and a consumer never wait for each other's lock; Lifo and Heap
// cannot, so both sides take one lock. The sleeper lists (detail/waiters.hpp)
// cost a waker one load when nobody sleeps and one futex_wake per sleeper
// otherwise, and lose no wake-up: a producer and a consumer that keep up
// with each other never enter the kernel. join() waits for done_ == puts.
//
// Sharing: a queue is an object like std::mutex — not copyable, not movable.
// Threads share it by reference (capture `&q`, pass std::ref(q), or own it in
// a std::shared_ptr when its lifetime is not a scope). Python's queues are
// references too; a handle type here would cost every call an indirection
// and a reference count, for no behaviour Python has. Destroy a queue only
// once no thread is inside one of its calls (join them first).
#pragma once

#include <atomic>
#include <chrono>
#include <climits>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "mpx/detail/count_lock.hpp"
#include "mpx/detail/deadline.hpp"
#include "mpx/detail/futex.hpp"
#include "mpx/detail/queue_storage.hpp"
#include "mpx/detail/waiters.hpp"
#include "mpx/errors.hpp"

namespace mpx::detail {
enum class QueueError { empty, full, shutdown, negative_timeout, task_done };
/// Throws queue::Empty, queue::Full, queue::ShutDown or the ValueError with
/// Python's message; out of line, so the templates below stay small.
[[noreturn]] void throw_queue_error(QueueError error);
}  // namespace mpx::detail

namespace mpx::queue {

// queue::Empty, queue::Full and queue::ShutDown are declared in mpx/errors.hpp.

// ---- storage policies: Python's _init/_put/_get -----------------------------

/// What BasicQueue needs from its storage: put(T&&) (Python's _put) and
/// get() (_get, called only when an item is there); the constructor is
/// _init. The queue counts the items itself (Python's _qsize). Each call is
/// made with a lock held: one lock for both, or, if the storage declares
/// `static constexpr bool concurrent_put_get = true`, one lock per side, so
/// one put() and one get() may run at the same time (Fifo does; the item a
/// get() returns was published to it by the queue's counters). If put() or
/// get() throws, the queue stays consistent and the exception reaches the
/// caller (CPython's test_queue FailingQueueTest checks exactly that).
template <class S, class T>
concept Storage = std::move_constructible<T> && requires(S& s, T&& item) {
  s.put(std::move(item));
  { s.get() } -> std::same_as<T>;
};

/// First in, first out (where Python's Queue has a collections.deque): a
/// list of 16 KiB blocks whose two ends work in parallel, so a producer and
/// a consumer never wait for each other's lock; a queue that keeps up
/// allocates nothing.
template <class T>
class Fifo {
 public:
  static constexpr bool concurrent_put_get = true;
  void put(T&& item) { items_.put(std::move(item)); }
  T get() { return items_.get(); }

 private:
  mpx::detail::BlockFifo<T> items_;
};

/// Last in, first out (queue.LifoQueue's list).
template <class T>
class Lifo {
 public:
  void put(T&& item) { items_.push_back(std::move(item)); }
  T get() {
    T out(std::move(items_.back()));
    items_.pop_back();
    if (items_.capacity() > 1024 && items_.size() < items_.capacity() / 4) items_.shrink_to_fit();
    return out;
  }

 private:
  std::vector<T> items_;
};

/// Lowest first (queue.PriorityQueue's heapq): `Compare` is Python's `<`.
/// Items that compare equal come out in heapq's order, which is not the order
/// they were put in (in Python neither): put (priority, sequence, item) to
/// make ties first-in first-out, as Python's docs advise. Compare must not throw.
template <class T, class Compare = std::less<T>>
class Heap {
 public:
  Heap() = default;
  explicit Heap(Compare less) : less_(std::move(less)) {}
  void put(T&& item) { mpx::detail::heap_push(items_, std::move(item), less_); }
  T get() { return mpx::detail::heap_pop(items_, less_); }

 private:
  std::vector<T> items_;
  Compare less_{};
};

/// queue (Queue, LifoQueue, PriorityQueue: maxsize, task_done/join,
/// shutdown) or simple (SimpleQueue: unbounded, none of those).
enum class Flavor { queue, simple };

// ---- the one queue -----------------------------------------------------------

/// A multi-producer multi-consumer queue between threads: Python's
/// queue.Queue with its ordering given by `S`. Use the aliases below.
///
/// Timeouts are std::chrono durations; mpx::forever is Python's
/// timeout=None. Python's `block=False` is `put(item, false)` / `get(false)`
/// or the _nowait calls. Every call with a timeout has a try_ form that
/// returns false / std::nullopt instead of raising Full / Empty, for loops
/// where "not now" is common; ShutDown and ValueError still throw there.
///
/// Safe from: any thread of the process, concurrently; not from a signal handler.
/// Ordering:  what a thread did before put(x) is visible to the thread whose
///            get() returns x; task_done() calls happen before join() returns.
/// Items:     any move-constructible T (std::unique_ptr works); a put that
///            raises (Full, ShutDown, a timeout) leaves its argument unmoved.
template <class T, class S = Fifo<T>, Flavor F = Flavor::queue>
class BasicQueue {
  // Here, not on the template parameter: Queue<Node>* inside Node must compile.
  static_assert(Storage<S, T>, "mpx::queue: S must provide put(T&&) and T get() (see mpx::queue::Storage)");
  static constexpr bool kFull = F == Flavor::queue;
  static constexpr bool kSplit = requires { requires S::concurrent_put_get; };
  using Count = std::uint64_t;
  using Deadline = mpx::detail::Deadline;
  using QueueError = mpx::detail::QueueError;

 public:
  using value_type = T;
  using storage_type = S;

  /// Python: Queue(maxsize=0). maxsize <= 0 means unbounded.
  explicit BasicQueue(std::ptrdiff_t maxsize = 0) requires kFull && std::default_initializable<S> : maxsize_(maxsize) {}
  /// A queue over a storage you made (a Heap with a comparator object, your own policy).
  BasicQueue(std::ptrdiff_t maxsize, S storage) requires kFull : maxsize_(maxsize), storage_(std::move(storage)) {}
  /// Python: SimpleQueue().
  BasicQueue() requires(!kFull) = default;

  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  /// The number of items now. As in Python, "approximate": another thread
  /// may change it before the caller acts on it. Python: qsize(). Blocks: never.
  std::size_t qsize() const noexcept {
    const Count gets = get_.count();  // first: gets <= puts at every instant
    return static_cast<std::size_t>(put_.count() - gets);
  }
  /// Python: empty() — qsize() == 0, with the same caveat.
  bool empty() const noexcept { return qsize() == 0; }
  /// Python: full() — 0 < maxsize <= qsize().
  bool full() const noexcept requires kFull {
    const std::ptrdiff_t max = maxsize_.load(std::memory_order_relaxed);
    return max > 0 && qsize() >= static_cast<std::size_t>(max);
  }
  /// Python: the maxsize attribute.
  std::ptrdiff_t maxsize() const noexcept requires kFull { return maxsize_.load(std::memory_order_relaxed); }
  /// Python: `q.maxsize = n`. Items already queued stay (a shrunk queue is
  /// full until gets bring it under n); blocked put() calls look again.
  void set_maxsize(std::ptrdiff_t maxsize) requires kFull {
    Held lk(put_);
    maxsize_.store(maxsize, std::memory_order_seq_cst);
    lk.unlock();
    not_full_.wake_all();
  }

  // ---- put ----

  /// Puts `item`, waiting for a free slot if the queue is bounded and full.
  /// Python: put(item, block=True) / put(item, block=False).
  /// Blocks: while full, if `block`.
  /// Throws: Full (only when !block), ShutDown once shutdown() was called.
  template <class U = T>
  requires std::constructible_from<T, U&&>
  void put(U&& item, bool block = true) {
    if (!put_until(std::forward<U>(item), block, Deadline::never(), false)) throw_error(QueueError::full);
  }
  /// Python: put(item, timeout=t). Throws: Full after `timeout`; ShutDown;
  /// ValueError("'timeout' must be a non-negative number") for a negative
  /// timeout on a bounded queue (Python checks it only when maxsize > 0).
  template <class U = T, class Rep, class Period>
  requires std::constructible_from<T, U&&>
  void put(U&& item, std::chrono::duration<Rep, Period> timeout) {
    if (!put_until(std::forward<U>(item), true, Deadline::after(timeout), timeout < timeout.zero())) {
      throw_error(QueueError::full);
    }
  }
  /// Python: put_nowait(item) — put(item, false).
  template <class U = T>
  requires std::constructible_from<T, U&&>
  void put_nowait(U&& item) { put(std::forward<U>(item), false); }
  /// put_nowait without Full: returns false (and leaves `item` unmoved) when full.
  /// Throws: ShutDown.
  template <class U = T>
  requires std::constructible_from<T, U&&>
  bool try_put(U&& item) { return put_until(std::forward<U>(item), false, Deadline::never(), false); }
  /// put(item, timeout) without Full: returns false after `timeout`.
  /// Throws: ShutDown, ValueError as put(item, timeout).
  template <class U = T, class Rep, class Period>
  requires std::constructible_from<T, U&&>
  bool try_put(U&& item, std::chrono::duration<Rep, Period> timeout) {
    return put_until(std::forward<U>(item), true, Deadline::after(timeout), timeout < timeout.zero());
  }

  // ---- get ----

  /// Removes and returns the next item, waiting for one if `block`.
  /// Python: get(block=True) / get(block=False).
  /// Throws: Empty (only when !block); ShutDown once shut down and empty
  ///   (at once after shutdown(immediate=true), which empties the queue).
  T get(bool block = true) {
    auto item = get_until(block, Deadline::never(), false);
    if (!item) throw_error(QueueError::empty);
    return std::move(*item);
  }
  /// Python: get(timeout=t). Throws: Empty after `timeout`; ShutDown;
  /// ValueError("'timeout' must be a non-negative number") for a negative timeout.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    auto item = get_until(true, Deadline::after(timeout), timeout < timeout.zero());
    if (!item) throw_error(QueueError::empty);
    return std::move(*item);
  }
  /// Python: get_nowait() — get(false).
  T get_nowait() { return get(false); }
  /// get_nowait without Empty: std::nullopt when empty. Throws: ShutDown.
  std::optional<T> try_get() { return get_until(false, Deadline::never(), false); }
  /// get(timeout) without Empty: std::nullopt after `timeout`. Throws: ShutDown, ValueError.
  template <class Rep, class Period>
  std::optional<T> try_get(std::chrono::duration<Rep, Period> timeout) {
    return get_until(true, Deadline::after(timeout), timeout < timeout.zero());
  }

  // ---- task_done / join ----

  /// Marks one gotten item as processed. Python: task_done().
  /// Throws: ValueError("task_done() called too many times").
  void task_done() requires kFull {
    Held lk(get_side());
    const Count done = done_.load(std::memory_order_relaxed);
    if (done == put_.count()) raise(lk, QueueError::task_done);
    done_.store(done + 1, std::memory_order_seq_cst);
    // With the lock held: a joiner returns only after taking this lock, so
    // it cannot destroy the queue while this call still touches it.
    if (done + 1 == put_.count(std::memory_order_seq_cst)) all_done_.wake_all();
  }
  /// Waits until every item put has had its task_done(). Python: join().
  void join() requires kFull { join_until(Deadline::never()); }
  /// join() for at most `timeout` (Python's join has none); returns whether
  /// all tasks are done. Throws: ValueError for a negative timeout.
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) requires kFull {
    if (timeout < timeout.zero()) throw_error(QueueError::negative_timeout);
    return join_until(Deadline::after(timeout));
  }
  /// Items put and not yet task_done(). Python: the unfinished_tasks attribute.
  std::size_t unfinished_tasks() const noexcept requires kFull {
    const Count done = done_.load(std::memory_order_acquire);  // first: done <= puts at every instant
    return static_cast<std::size_t>(put_.count() - done);
  }

  // ---- shutdown (Python 3.13) ----

  /// Puts the queue in shutdown mode: put() raises ShutDown from now on, and
  /// blocked put() calls wake up raising it. With immediate=false, get()
  /// goes on returning the items left and raises ShutDown once the queue is
  /// empty (blocked get() calls on an empty queue wake up raising it). With
  /// immediate=true the queue is emptied at once (those items are
  /// destroyed), unfinished_tasks drops by their number, every get() raises
  /// ShutDown, and join() returns if no gotten item is still unfinished.
  /// Calling it again is allowed (shutdown then shutdown(true) drains).
  /// Python: shutdown(immediate=False). Blocks: no.
  void shutdown(bool immediate = false) requires kFull {
    std::vector<T> drained;  // destroyed after the locks are released: T's destructor may use the queue
    Held put_side(put_);
    std::optional<Held> get_side;
    if constexpr (kSplit) get_side.emplace(get_);
    shutdown_.store(true, std::memory_order_seq_cst);
    // Wake first: the woken need a lock held here, so they see the queue as
    // this call leaves it, even if a storage get() below throws.
    not_empty_.wake_all();
    not_full_.wake_all();
    if (!immediate) return;
    // Joiners look at the counts without a lock: wake them after the drain
    // changed them (and also if a storage get() throws half-way).
    struct WakeJoiners {
      mpx::detail::Waiters& joiners;
      ~WakeJoiners() { joiners.wake_all(); }
    } wake_joiners{all_done_};
    Count gets = get_.count(std::memory_order_relaxed);
    const Count puts = put_.count(std::memory_order_relaxed);
    seen_puts_ = puts;
    drained.reserve(static_cast<std::size_t>(puts - gets));
    for (; gets != puts; ++gets) {
      drained.push_back(storage_.get());
      get_.advance();
      if (const Count done = done_.load(std::memory_order_relaxed); done != puts) {
        done_.store(done + 1, std::memory_order_seq_cst);
      }
    }
  }
  /// Python: the is_shutdown attribute.
  bool is_shutdown() const noexcept requires kFull { return shutdown_.load(std::memory_order_acquire); }

 private:
  // One side's lock, taken on construction, released once: by unlock(),
  // unlock_advance() (release and count one item, one instruction), or the
  // destructor (an exception, a timeout).
  class Held {
   public:
    explicit Held(mpx::detail::CountLock& lock) : lock_(&lock) { lock_->lock(); }
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
    ~Held() {
      if (held_) lock_->unlock();
    }
    void lock() {
      lock_->lock();
      held_ = true;
    }
    void unlock() noexcept {
      held_ = false;
      lock_->unlock();
    }
    void unlock_advance() noexcept {
      held_ = false;
      lock_->unlock_advance();
    }

   private:
    mpx::detail::CountLock* lock_;
    bool held_ = true;
  };

  [[noreturn]] static void throw_error(QueueError e) { mpx::detail::throw_queue_error(e); }
  [[noreturn]] static void raise(Held& lk, QueueError e) {
    lk.unlock();
    mpx::detail::throw_queue_error(e);
  }

  // The lock get() takes: its own, or with one lock for both sides, put_'s
  // (get_ then only counts).
  mpx::detail::CountLock& get_side() noexcept {
    if constexpr (kSplit) {
      return get_;
    } else {
      return put_;
    }
  }

  // Python's put(): returns false if the queue stayed full (block = false,
  // or `deadline` passed).
  template <class U>
  bool put_until(U&& item, bool block, Deadline deadline, bool negative_timeout) {
    Held lk(put_);
    if constexpr (kFull) {
      if (shutdown_.load(std::memory_order_relaxed)) raise(lk, QueueError::shutdown);
      if (negative_timeout && maxsize_.load(std::memory_order_relaxed) > 0) raise(lk, QueueError::negative_timeout);
      while (no_room()) {
        if (!block || deadline.expired()) return false;
        await(lk, not_full_, deadline, [this] { return has_room_now() || is_shutdown_now(); });
        if (shutdown_.load(std::memory_order_relaxed)) raise(lk, QueueError::shutdown);
      }
    }
    if constexpr (std::is_same_v<U, T>) {
      storage_.put(std::move(item));  // an rvalue T: no temporary
    } else {
      storage_.put(T(std::forward<U>(item)));
    }
    lk.unlock_advance();  // puts += 1 (seq_cst), then look for waiters: detail/waiters.hpp
    not_empty_.wake_one();
    return true;
  }

  // Python's get(): std::nullopt if the queue stayed empty.
  std::optional<T> get_until(bool block, Deadline deadline, bool negative_timeout) {
    Held lk(get_side());
    if constexpr (kFull) {
      if (shutdown_.load(std::memory_order_relaxed) && !has_item()) raise(lk, QueueError::shutdown);
    }
    if (negative_timeout) raise(lk, QueueError::negative_timeout);
    while (!has_item()) {
      if (!block || deadline.expired()) return std::nullopt;
      await(lk, not_empty_, deadline, [this] { return has_item_now() || is_shutdown_now(); });
      if constexpr (kFull) {
        if (shutdown_.load(std::memory_order_relaxed) && !has_item()) raise(lk, QueueError::shutdown);
      }
    }
    std::optional<T> item(std::in_place, storage_.get());
    if constexpr (kSplit) {
      lk.unlock_advance();  // gets += 1
    } else {
      get_.advance();
      lk.unlock();
    }
    if constexpr (kFull) not_full_.wake_one();
    return item;
  }

  bool join_until(Deadline deadline) {
    Held lk(get_side());
    for (;;) {
      if (all_done()) return true;  // returns holding the lock: see task_done()
      if (deadline.expired()) return false;
      lk.unlock();
      sleep(all_done_, deadline, [this] { return all_done(); });
      lk.lock();
    }
  }

  // With the get lock held: is an item there? The producers' count is read
  // again only when the last reading is used up (a consumer that lags
  // behind reads the producers' cache line once per batch, not per item).
  bool has_item() noexcept {
    const Count gets = get_.count(std::memory_order_relaxed);
    if (seen_puts_ > gets) return true;
    seen_puts_ = put_.count();
    return seen_puts_ > gets;
  }
  // With the put lock held: is the queue at maxsize? The same caching of the
  // consumers' count (a stale one only overstates the size).
  bool no_room() noexcept {
    const std::ptrdiff_t max = maxsize_.load(std::memory_order_relaxed);
    if (max <= 0) return false;
    const Count puts = put_.count(std::memory_order_relaxed);
    if (puts - seen_gets_ < static_cast<Count>(max)) return false;
    seen_gets_ = get_.count();
    return puts - seen_gets_ >= static_cast<Count>(max);
  }
  // Without a lock, for spinning and the eventcount's last look (seq_cst).
  bool has_item_now() const noexcept {
    const Count gets = get_.count(std::memory_order_seq_cst);
    return put_.count(std::memory_order_seq_cst) != gets;
  }
  bool has_room_now() const noexcept {
    const std::ptrdiff_t max = maxsize_.load(std::memory_order_seq_cst);
    const Count puts = put_.count(std::memory_order_seq_cst);
    return max <= 0 || puts - get_.count(std::memory_order_seq_cst) < static_cast<Count>(max);
  }
  bool is_shutdown_now() const noexcept { return shutdown_.load(std::memory_order_seq_cst); }
  bool all_done() const noexcept {
    const Count done = done_.load(std::memory_order_seq_cst);
    return done == put_.count(std::memory_order_seq_cst);
  }

  // Called with `lk` held; returns with it held, once `ready` (which reads
  // only atomics) may hold, the deadline passed, or on a spurious wake-up:
  // the caller looks again. Spins first, without the lock.
  template <class Ready>
  static void await(Held& lk, mpx::detail::Waiters& waiters, Deadline deadline, Ready ready) {
    lk.unlock();
    if (!mpx::detail::spin(ready)) sleep(waiters, deadline, ready);
    lk.lock();
  }

  // Announce, look once more, sleep (detail/waiters.hpp: no wake-up is lost
  // between the look and the sleep).
  template <class Ready>
  static void sleep(mpx::detail::Waiters& waiters, Deadline deadline, Ready ready) {
    waiters.announce();
    if (ready()) {
      waiters.withdraw();
    } else {
      waiters.sleep(deadline);
    }
  }

  // The producers' cache line, then the consumers': each side's lock holds
  // its count (puts, gets), so a put or a get is one CAS and one fetch_add
  // on a line its side owns.
  alignas(64) mpx::detail::CountLock put_;  // count: items ever put
  Count seen_gets_ = 0;                     // a recent get_.count(), under put_
  alignas(64) mpx::detail::CountLock get_;  // count: items ever gotten or drained
  Count seen_puts_ = 0;                     // a recent put_.count(), under get_side()
  std::atomic<Count> done_{0};              // task_done() calls plus drained items; written under get_side()
  // Read by both sides, written rarely.
  alignas(64) std::atomic<std::ptrdiff_t> maxsize_{0};
  std::atomic<bool> shutdown_{false};  // set with both locks held
  mpx::detail::Waiters not_empty_;     // getters waiting for an item
  mpx::detail::Waiters not_full_;      // putters waiting for a free slot
  mpx::detail::Waiters all_done_;      // joiners waiting for done_ == puts
  alignas(64) S storage_{};            // its two ends are its own business (Fifo keeps them apart)
};

/// Python: queue.Queue(maxsize=0) — first in, first out.
template <class T>
using Queue = BasicQueue<T, Fifo<T>>;
/// Python: queue.LifoQueue(maxsize=0) — last in, first out.
template <class T>
using LifoQueue = BasicQueue<T, Lifo<T>>;
/// Python: queue.PriorityQueue(maxsize=0) — lowest first by `Compare`
/// (Python's `<`); see Heap for ties.
template <class T, class Compare = std::less<T>>
using PriorityQueue = BasicQueue<T, Heap<T, Compare>>;
/// Python: queue.SimpleQueue() — unbounded FIFO without task_done, join,
/// maxsize or shutdown; put() never blocks.
template <class T>
using SimpleQueue = BasicQueue<T, Fifo<T>, Flavor::simple>;

}  // namespace mpx::queue
