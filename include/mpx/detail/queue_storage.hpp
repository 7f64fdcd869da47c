// mpx/detail/queue_storage.hpp — the containers behind mpx::queue's storage
// policies: a block list whose two ends work in parallel (what Queue uses
// where Python uses collections.deque) and heapq's push and pop (what
// PriorityQueue calls), written for move-only T.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace mpx::detail {

/// First in, first out over a list of fixed-size blocks, built so that one
/// put() and one get() may run at the same time in two threads (each side
/// serialized by its caller): the producer touches only the tail block, the
/// consumer only the head block, and they meet only through the queue's
/// counters, which say how many items are there.
///
///   head_ (consumer)                          tail_ (producer)
///    v                                          v
///   [ . . . a b c ] -> [ d e f g h i ] -> [ j k . . . . ]
///   a block the consumer leaves goes to `spare_`, which the producer takes
///   before it allocates: a queue that keeps up allocates nothing.
///
/// Rule for callers: get() only when an item is there, known through a
/// counter the producer advanced (release) after its put() returned and the
/// consumer read (acquire); that publishes the item and the `next` link.
template <class T>
class BlockFifo {
 public:
  BlockFifo() : tail_(new Block), head_(tail_) {}
  BlockFifo(const BlockFifo&) = delete;
  BlockFifo& operator=(const BlockFifo&) = delete;
  BlockFifo(BlockFifo&& other) noexcept
      : tail_(std::exchange(other.tail_, nullptr)),
        tail_pos_(std::exchange(other.tail_pos_, 0)),
        head_(std::exchange(other.head_, nullptr)),
        head_pos_(std::exchange(other.head_pos_, 0)),
        spare_(other.spare_.exchange(nullptr, std::memory_order_relaxed)) {}
  BlockFifo& operator=(BlockFifo&&) = delete;

  ~BlockFifo() {
    // Single-threaded now: destroy what was put and not gotten.
    for (Block* b = head_; b != nullptr;) {
      const std::size_t end = b == tail_ ? tail_pos_ : kItems;
      for (std::size_t i = (b == head_ ? head_pos_ : 0); i < end; ++i) b->slot(i)->~T();
      Block* next = b->next;
      delete b;
      b = next;
    }
    delete spare_.load(std::memory_order_relaxed);
  }

  /// Producer side. If allocating or constructing throws, no item was added.
  void put(T&& item) {
    if (tail_pos_ == kItems) {
      Block* b = spare_.exchange(nullptr, std::memory_order_acquire);
      if (b == nullptr) b = new Block;
      b->next = nullptr;
      tail_->next = b;
      tail_ = b;
      tail_pos_ = 0;
    }
    ::new (static_cast<void*>(tail_->slot(tail_pos_))) T(std::move(item));
    ++tail_pos_;
  }

  /// Consumer side; precondition: an item is there (see the rule above).
  T get() {
    if (head_pos_ == kItems) {
      Block* done = head_;
      head_ = done->next;
      head_pos_ = 0;
      delete spare_.exchange(done, std::memory_order_release);
    }
    T* slot = head_->slot(head_pos_);
    T out(std::move(*slot));
    slot->~T();
    ++head_pos_;
    return out;
  }

 private:
  // About 16 KiB of items per block, and at least 16.
  static constexpr std::size_t kItems = sizeof(T) * 16 > 16384 ? 16 : 16384 / sizeof(T);

  struct Block {
    Block* next = nullptr;
    alignas(T) unsigned char bytes[kItems * sizeof(T)];
    T* slot(std::size_t i) noexcept { return std::launder(reinterpret_cast<T*>(bytes + i * sizeof(T))); }
  };

  // Producer's line, then the consumer's: the two ends never share a cache line.
  Block* tail_;
  std::size_t tail_pos_ = 0;
  alignas(64) Block* head_;
  std::size_t head_pos_ = 0;
  alignas(64) std::atomic<Block*> spare_{nullptr};
};

// ---- heapq -------------------------------------------------------------------
// CPython's Lib/heapq.py (and Modules/_heapqmodule.c, the same algorithm):
// heappush sifts the new item up; heappop moves the last item to the root,
// walks the hole down to a leaf along the smaller children, then sifts the
// item back up. Items that compare equal come out in the order this
// algorithm gives, which is Python's order too. `less(a, b)` is Python's a < b.

/// heapq._siftdown: moves heap[pos] up towards `start` while it is less than its parent.
template <class T, class Less>
void heap_sift_down(std::vector<T>& heap, std::size_t start, std::size_t pos, Less& less) {
  T item = std::move(heap[pos]);
  while (pos > start) {
    std::size_t parent = (pos - 1) >> 1;
    if (!less(item, heap[parent])) break;
    heap[pos] = std::move(heap[parent]);
    pos = parent;
  }
  heap[pos] = std::move(item);
}

/// heapq._siftup: the hole at `pos` goes down to a leaf along the smaller
/// child, then the item that was at `pos` is sifted up from there.
template <class T, class Less>
void heap_sift_up(std::vector<T>& heap, std::size_t pos, Less& less) {
  const std::size_t end = heap.size();
  const std::size_t start = pos;
  T item = std::move(heap[pos]);
  std::size_t child = 2 * pos + 1;
  while (child < end) {
    std::size_t right = child + 1;
    if (right < end && !less(heap[child], heap[right])) child = right;
    heap[pos] = std::move(heap[child]);
    pos = child;
    child = 2 * pos + 1;
  }
  heap[pos] = std::move(item);
  heap_sift_down(heap, start, pos, less);
}

/// heapq.heappush.
template <class T, class U, class Less>
void heap_push(std::vector<T>& heap, U&& value, Less& less) {
  heap.push_back(std::forward<U>(value));
  heap_sift_down(heap, 0, heap.size() - 1, less);
}

/// heapq.heappop. Precondition: !heap.empty().
template <class T, class Less>
T heap_pop(std::vector<T>& heap, Less& less) {
  T last = std::move(heap.back());
  heap.pop_back();
  if (heap.empty()) return last;
  T top = std::move(heap.front());
  heap.front() = std::move(last);
  heap_sift_up(heap, 0, less);
  return top;
}

}  // namespace mpx::detail
