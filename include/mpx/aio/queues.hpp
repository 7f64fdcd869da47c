// mpx/aio/queues.hpp — asyncio.Queue, LifoQueue, PriorityQueue for the tasks of one loop.
//
//   aio::Queue<int> q(10);                      // maxsize 10 (0: unbounded)
//   co_await q.put(1);                          // waits while full
//   int x = co_await q.get();                   // waits while empty
//   q.task_done();  co_await q.join();          // every put item processed
//   q.put_nowait(2);                            // raises aio::QueueFull when full
//
// CPython 3.12's Lib/asyncio/queues.py: getters and putters are futures in
// FIFO order; a woken getter that is cancelled before it runs wakes the next
// one, so no item is stranded. Not thread-safe (Python's is not either).
#pragma once

#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

#include "mpx/aio/future.hpp"
#include "mpx/aio/locks.hpp"
#include "mpx/aio/task.hpp"

namespace mpx::aio {

/// Python: asyncio.QueueEmpty, asyncio.QueueFull.
struct QueueEmpty : Error {
  QueueEmpty() : Error("QueueEmpty") {}
};
struct QueueFull : Error {
  QueueFull() : Error("QueueFull") {}
};

namespace detail {
template <class T>
struct FifoStore {
  std::deque<T> items;
  void push(T v) { items.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items.front());
    items.pop_front();
    return v;
  }
  std::size_t size() const noexcept { return items.size(); }
};
template <class T>
struct LifoStore {
  std::vector<T> items;
  void push(T v) { items.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items.back());
    items.pop_back();
    return v;
  }
  std::size_t size() const noexcept { return items.size(); }
};
/// Python's heapq: the smallest first (by operator<, or Compare).
template <class T, class Compare>
struct HeapStore {
  std::vector<T> items;
  void push(T v) {
    items.push_back(std::move(v));
    std::push_heap(items.begin(), items.end(), Greater{});
  }
  T pop() {
    std::pop_heap(items.begin(), items.end(), Greater{});
    T v = std::move(items.back());
    items.pop_back();
    return v;
  }
  std::size_t size() const noexcept { return items.size(); }
  struct Greater {
    bool operator()(const T& a, const T& b) const { return Compare{}(b, a); }
  };
};

void wakeup_next(std::deque<Future<>>& waiters);
}  // namespace detail

/// Python: asyncio.Queue(maxsize=0); Store picks the order (LifoQueue, PriorityQueue).
template <class T, class Store = detail::FifoStore<T>>
class BasicQueue {
 public:
  explicit BasicQueue(long maxsize = 0) : maxsize_(maxsize) {}
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  /// Python: qsize(), maxsize, empty(), full().
  std::size_t qsize() const noexcept { return store_.size(); }
  long maxsize() const noexcept { return maxsize_; }
  bool empty() const noexcept { return store_.size() == 0; }
  bool full() const noexcept { return maxsize_ > 0 && static_cast<long>(store_.size()) >= maxsize_; }

  /// Python: put(item). Blocks: while full. Throws: CancelledError.
  Task<> put(T item) {
    while (full()) {
      Future<> putter;
      if (std::exception_ptr err = co_await detail::wait_queued(putters_, putter)) {
        putter.cancel();
        if (!full() && !putter.cancelled()) detail::wakeup_next(putters_);
        std::rethrow_exception(err);
      }
    }
    put_nowait(std::move(item));
  }
  /// Python: put_nowait(item). Throws: QueueFull.
  void put_nowait(T item) {
    if (full()) throw QueueFull();
    store_.push(std::move(item));
    ++unfinished_;
    finished_.clear();
    detail::wakeup_next(getters_);
  }
  /// Python: get(). Blocks: while empty. Throws: CancelledError.
  Task<T> get() {
    while (empty()) {
      Future<> getter;
      if (std::exception_ptr err = co_await detail::wait_queued(getters_, getter)) {
        getter.cancel();
        if (!empty() && !getter.cancelled()) detail::wakeup_next(getters_);
        std::rethrow_exception(err);
      }
    }
    co_return get_nowait();
  }
  /// Python: get_nowait(). Throws: QueueEmpty.
  T get_nowait() {
    if (empty()) throw QueueEmpty();
    T item = store_.pop();
    detail::wakeup_next(putters_);
    return item;
  }
  /// Python: task_done(). Throws: ValueError if called more times than items were put.
  void task_done() {
    if (unfinished_ <= 0) throw ValueError("task_done() called too many times");
    if (--unfinished_ == 0) finished_.set();
  }
  /// Python: join(). Blocks: until every item put has had its task_done().
  Task<> join() {
    if (unfinished_ > 0) co_await finished_.wait();
  }

 private:
  Store store_;
  long maxsize_;
  long unfinished_ = 0;
  std::deque<Future<>> getters_, putters_;
  Event finished_ = [] {
    Event e;
    e.set();
    return e;
  }();
};

template <class T>
using Queue = BasicQueue<T, detail::FifoStore<T>>;
/// Python: asyncio.LifoQueue — the last put is got first.
template <class T>
using LifoQueue = BasicQueue<T, detail::LifoStore<T>>;
/// Python: asyncio.PriorityQueue — the smallest first (use (priority, data) pairs).
template <class T, class Compare = std::less<T>>
using PriorityQueue = BasicQueue<T, detail::HeapStore<T, Compare>>;

}  // namespace mpx::aio
