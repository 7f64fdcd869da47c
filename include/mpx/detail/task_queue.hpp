// mpx/detail/task_queue.hpp — the work queue of ThreadPoolExecutor: an
// unbounded intrusive FIFO of task nodes (Dmitry Vyukov's MPSC queue) whose
// consumers take turns through a spin bit.
//
//   producers (any thread)                      consumers (workers, one at a time)
//   n->next = null                              lock_ ─► walk head_ ─► unlock
//   prev = tail_.exchange(n)   ◄── one RMW, never waits for a consumer
//   prev->next = n
//
//   head_ ─► [sentinel]─► A ─► B ─► C ◄─ tail_       A, B, C are task nodes (the
//                                               futures' own states: no allocation)
//
// Between a producer's exchange and its link store the chain is briefly cut:
// pop() then answers kBusy (not empty: the producer is mid-push) and the
// consumer retries. The FIFO order is submission order across producers'
// exchanges, which is what Python's SimpleQueue gives ThreadPoolExecutor.
#pragma once

#include <atomic>
#include <cstdint>

#include "mpx/detail/future_core.hpp"

namespace mpx::detail {

class TaskQueue {
 public:
  enum class Pop { item, empty, busy };

  TaskQueue() noexcept : tail_(&sentinel_), head_(&sentinel_) {}
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  /// Any thread; wait-free. The exchange is sequentially consistent, so a
  /// producer that then reads the sleepers' count and a worker that announced
  /// itself asleep and then reads tail_ (looks_empty) cannot both miss each other.
  void push(QueueLink* n) noexcept {
    n->next.store(nullptr, std::memory_order_relaxed);
    QueueLink* prev = tail_.exchange(n, std::memory_order_seq_cst);
    prev->next.store(n, std::memory_order_release);
  }

  /// Lock-free guess, for a worker deciding whether to look: false when the
  /// queue may hold something. Never dereferences a node.
  bool looks_empty() const noexcept {
    return head_.load(std::memory_order_relaxed) == &sentinel_ && tail_.load(std::memory_order_seq_cst) == &sentinel_;
  }

  /// looks_empty() for spin loops: reads only the consumers' side (head_ and
  /// the sentinel's link), never the producers' tail_ line, so a spinning worker
  /// does not pull that line away from the submitter at every round. Says
  /// empty during a push whose link is not stored yet; the park path checks
  /// with looks_empty().
  bool appears_empty() const noexcept {
    return head_.load(std::memory_order_relaxed) == &sentinel_ &&
           sentinel_.next.load(std::memory_order_acquire) == nullptr;
  }

  /// Takes the oldest task, or tells why not. Consumers only, one at a time
  /// (try_lock_consumer / unlock_consumer).
  Pop pop(QueueLink*& out) noexcept {
    QueueLink* head = head_.load(std::memory_order_relaxed);
    QueueLink* next = head->next.load(std::memory_order_acquire);
    if (head == &sentinel_) {
      if (!next) return tail_.load(std::memory_order_seq_cst) == &sentinel_ ? Pop::empty : Pop::busy;
      head_.store(next, std::memory_order_relaxed);
      head = next;
      next = next->next.load(std::memory_order_acquire);
    }
    if (next) {
      head_.store(next, std::memory_order_relaxed);
      out = head;
      return Pop::item;
    }
    if (tail_.load(std::memory_order_seq_cst) != head) return Pop::busy;
    push(&sentinel_);  // `head` is the last node: put the sentinel behind it so it can leave
    next = head->next.load(std::memory_order_acquire);
    if (!next) return Pop::busy;
    head_.store(next, std::memory_order_relaxed);
    out = head;
    return Pop::item;
  }

  bool try_lock_consumer() noexcept {
    return !consumer_.load(std::memory_order_relaxed) && !consumer_.exchange(1, std::memory_order_acquire);
  }
  void unlock_consumer() noexcept { consumer_.store(0, std::memory_order_release); }

 private:
  alignas(64) std::atomic<QueueLink*> tail_;  // producers' line
  alignas(64) std::atomic<QueueLink*> head_;  // consumers' line
  std::atomic<std::uint32_t> consumer_{0};
  alignas(64) QueueLink sentinel_;  // written by a producer when the queue was empty
};

}  // namespace mpx::detail
