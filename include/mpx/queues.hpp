// mpx/queues.hpp — multiprocessing's Queue, SimpleQueue and JoinableQueue,
// in shared memory.
//
//   mpx::Queue<std::string> q;                        // Queue(): made before the fork
//   mpx::Process producer([&] {
//     for (int i = 0; i < 3; ++i) q.put("item " + std::to_string(i));
//     q.close();                                      // beyond Python: "no more items"
//   });
//   producer.start();
//   for (std::string& item : q) std::puts(item.c_str());   // get() until closed and drained
//   producer.join();
//
// Items are any Encodable T (mpx/codec.hpp), of any size up to
// max_message_size (default 256 MiB), also larger than the ring itself: big
// messages flow through in fragments. Many producers and consumers, in any
// processes started by fork and in their threads, share one queue (copies of
// the handle share it).
//
// Python's semantics: put(item, block, timeout) raises queue::Full on a full
// queue (maxsize items); get(block, timeout) raises queue::Empty; put_nowait
// and get_nowait; qsize() is approximate. The try_ forms return bool /
// std::optional instead of throwing, for hot loops.
//
// Beyond Python:
//   - close() is seen by everyone: later puts raise ValueError, and once what
//     was put before is drained, get() raises mpx::Closed in every consumer,
//     so N consumers stop without N sentinels; `for (auto& x : q)` ends there.
//   - No feeder thread and no pipe: put() copies the item into shared memory
//     before it returns, so joining a producer that still has items in the
//     queue never deadlocks (Python's "joining processes that use queues"
//     pitfall), and join_thread()/cancel_join_thread() have nothing to do.
//   - SIGKILL: a producer killed mid-put never delivers a torn item and never
//     wedges the queue; a consumer killed mid-get loses at most the one item
//     it was taking. The next producer or consumer takes the dead one's lock
//     over within ~10 ms. (detail/message_ring.hpp says exactly what is lost.)
//   - Corrupted shared bytes raise DecodeError, never a crash.
#pragma once

#include <chrono>
#include <cstddef>
#include <iterator>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "mpx/codec.hpp"
#include "mpx/detail/deadline.hpp"
#include "mpx/detail/message_ring.hpp"
#include "mpx/errors.hpp"

namespace mpx {

/// Sizes of a queue's shared memory (beyond Python, which has no such knobs).
struct QueueOptions {
  /// The ring's bytes in shared memory (a power of two, at least 4 KiB).
  /// Items larger than a quarter of it go through in fragments.
  std::size_t ring_bytes = 1 << 20;
  /// The largest item, encoded; put() raises ValueError above it. At most 2 GiB.
  std::size_t max_message_size = 256u << 20;
};

namespace detail {

// What Queue, SimpleQueue and JoinableQueue share: encoding, the ring, and
// Python's timeout rules.
template <class T>
class QueueCore {
 public:
  MPX_ASSERT_ENCODABLE(T);

  QueueCore(int maxsize, const QueueOptions& options, bool joinable = false)
      : ring_(std::make_shared<MessageRing>(RingOptions{options.ring_bytes, options.max_message_size,
                                                        maxsize > 0 ? static_cast<std::uint32_t>(maxsize) : 0,
                                                        joinable})) {}

  /// Whether the queue holds no item (approximate, like Python's).
  bool empty() const noexcept { return ring_->qsize() == 0; }

  /// Python: close(). Beyond Python, it closes the queue for every process:
  /// puts raise ValueError, and consumers get Closed once it is drained.
  void close() { ring_->close(); }
  bool closed() const noexcept { return ring_->closed(); }

  /// Python: get(block=True, timeout=None).
  /// Throws: queue::Empty when non-blocking or timed out with nothing to take;
  ///   mpx::Closed once closed and drained.
  T get(bool block = true) {
    if (auto item = take(block ? Deadline::never() : Deadline::now())) return std::move(*item);
    throw queue::Empty("queue is empty");
  }
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    if (auto item = take(deadline_after(timeout))) return std::move(*item);
    throw queue::Empty("queue is empty");
  }
  T get_nowait() { return get(false); }

  /// Python: put(obj, block=True, timeout=None).
  /// Throws: queue::Full when non-blocking or timed out on a full queue;
  ///   ValueError if the queue is closed or the item is larger than max_message_size.
  void put(const T& item, bool block = true) {
    if (!give(item, block ? Deadline::never() : Deadline::now())) throw queue::Full("queue is full");
  }
  template <class Rep, class Period>
  void put(const T& item, std::chrono::duration<Rep, Period> timeout) {
    if (!give(item, deadline_after(timeout))) throw queue::Full("queue is full");
  }
  void put_nowait(const T& item) { put(item, false); }

  /// Non-throwing forms: false / nullopt when full / empty (or timed out).
  /// try_get also returns nullopt once the queue is closed and drained.
  bool try_put(const T& item) { return give(item, Deadline::now()); }
  template <class Rep, class Period>
  bool try_put(const T& item, std::chrono::duration<Rep, Period> timeout) {
    return give(item, deadline_after(timeout));
  }
  std::optional<T> try_get() { return take_or_closed(Deadline::now()); }
  template <class Rep, class Period>
  std::optional<T> try_get(std::chrono::duration<Rep, Period> timeout) {
    return take_or_closed(deadline_after(timeout));
  }

  /// get() until the queue is closed and drained.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = T*;
    using reference = T&;
    iterator() = default;
    explicit iterator(QueueCore* q) : q_(q) { ++*this; }
    T& operator*() { return *item_; }
    T* operator->() { return &*item_; }
    iterator& operator++() {
      item_ = q_->take_or_closed(Deadline::never());
      if (!item_) q_ = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.q_ == b.q_; }

   private:
    QueueCore* q_ = nullptr;
    std::optional<T> item_;
  };
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

  /// Travels to a spawned child as a Process argument: the same queue there.
  template <class Archive>
  void save(Archive& ar) const {
    ring_->save(ar);
  }
  template <class Archive>
  void load(Archive& ar) {
    auto ring = std::make_shared<MessageRing>(RingOptions{.ring_bytes = 4096});
    ring->load(ar);
    ring_ = std::move(ring);
  }

  /// The ring under the queue (tests, and the bytes-level view).
  MessageRing& ring() const noexcept { return *ring_; }

 protected:
  template <class Rep, class Period>
  static Deadline deadline_after(std::chrono::duration<Rep, Period> timeout) {
    // multiprocessing: a negative timeout does not wait (get raises Empty at
    // once, put Full); unlike queue.Queue, which raises ValueError.
    return timeout < timeout.zero() ? Deadline::now() : Deadline::after(timeout);
  }

  bool give(const T& item, Deadline deadline) {
    if constexpr (kBytewise<T>) {
      return ring_->put(std::span<const std::byte>(reinterpret_cast<const std::byte*>(&item), sizeof(T)), deadline);
    } else {
      thread_local std::vector<std::byte> scratch;
      scratch.clear();
      encode_append(item, scratch);
      struct Shrink {  // kept between puts (fresh pages cost more than copies), but not a huge one
        ~Shrink() {
          if (scratch.capacity() > (64u << 20)) std::vector<std::byte>().swap(scratch);
        }
      } shrink;
      return ring_->put(scratch, deadline);
    }
  }

  std::optional<T> take(Deadline deadline) {
    std::optional<T> out;
    auto sink = [](void* ctx, std::span<const std::byte> bytes) {
      static_cast<std::optional<T>*>(ctx)->emplace(decode<T>(bytes));
    };
    if (!ring_->get(deadline, sink, &out)) return std::nullopt;
    return out;
  }

  std::optional<T> take_or_closed(Deadline deadline) {
    try {
      return take(deadline);
    } catch (const Closed&) {
      return std::nullopt;
    }
  }

  std::shared_ptr<MessageRing> ring_;
};

}  // namespace detail

/// Python: multiprocessing.Queue(maxsize=0).
template <class T>
class Queue : public detail::QueueCore<T> {
 public:
  explicit Queue(int maxsize = 0, const QueueOptions& options = {}) : detail::QueueCore<T>(maxsize, options) {}

 protected:
  Queue(int maxsize, const QueueOptions& options, bool joinable) : detail::QueueCore<T>(maxsize, options, joinable) {}

 public:
  /// Python: qsize() — approximate while others put and get.
  std::size_t qsize() const noexcept { return this->ring_->qsize(); }
  /// Python: full() — approximate, like qsize().
  bool full() const noexcept {
    auto max = this->ring_->maxsize();
    return max != 0 && qsize() >= max;
  }
  /// The maxsize given at construction (0: unbounded).
  std::size_t maxsize() const noexcept { return this->ring_->maxsize(); }

  /// Python: join_thread(), cancel_join_thread(). Python's queue has a feeder
  /// thread that flushes buffered items into a pipe; mpx has none (put()
  /// returns with the item in shared memory), so there is nothing to wait
  /// for or to cancel. join_thread() keeps Python's rule that the queue must
  /// have been closed first (AssertionError otherwise).
  void join_thread() {
    if (!this->closed()) throw AssertionError("Queue is not closed: call close() before join_thread()");
  }
  void cancel_join_thread() noexcept {}
};

/// Python: multiprocessing.SimpleQueue() — unbounded: get, put, empty, close.
template <class T>
class SimpleQueue : public detail::QueueCore<T> {
 public:
  explicit SimpleQueue(const QueueOptions& options = {}) : detail::QueueCore<T>(0, options) {}
};

/// Python: multiprocessing.JoinableQueue(maxsize=0) — a Queue whose
/// consumers call task_done() per item, and join() waits until every item
/// put has been marked done.
template <class T>
class JoinableQueue : public Queue<T> {
 public:
  explicit JoinableQueue(int maxsize = 0, const QueueOptions& options = {}) : Queue<T>(maxsize, options, true) {}

  /// Python: task_done(). Throws ValueError("task_done() called too many times").
  void task_done() { this->ring_->task_done(); }
  /// Python: join() — blocks until every item put has been marked done.
  void join() { this->ring_->join(detail::Deadline::never()); }
  /// Beyond Python: join with a timeout; returns whether all were done.
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return this->ring_->join(detail::Deadline::after(timeout));
  }
};

}  // namespace mpx
