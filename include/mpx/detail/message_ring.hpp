// mpx/detail/message_ring.hpp — the shared-memory channel under mpx::Queue,
// SimpleQueue and JoinableQueue: messages of any size between any number of
// producer and consumer processes (and their threads).
//
//   MessageRing ring({.ring_bytes = 1 << 20});
//   ring.put(bytes, Deadline::never());                       // in one process
//   ring.get(Deadline::after(1s), [](std::span<const std::byte> m) { ... });  // in another
//
// Layout (one SharedBlock in the shared arena, so fork children share it):
//
//   [RingHeader: producer line | consumer line | waiters line | tasks line]
//   [ring_bytes of records, each 16-byte aligned, never wrapping:]
//     record = { frag_len u32 | flags u16 | magic u16 | msg_seq u32 | total_len u32 } payload, padding
//
// A message is one record, or several (fragments: FIRST ... LAST) when it is
// larger than a quarter of the ring, so any message up to max_message_size
// flows through a ring smaller than itself. A PAD record fills the end of the
// ring when the next record does not fit there.
//
// Producers serialise on one robust mpx::Lock, consumers on another; each
// side holds its lock for a whole message (so fragments never interleave)
// and publishes with one release store (head for producers, tail for
// consumers). Neither side ever trusts a byte the other wrote: positions,
// lengths, flags and the record magic are checked, and anything out of place
// raises DecodeError. The capacity and limits used for bounds come from this
// process's handle, never from shared memory.
//
// What SIGKILL costs (the fault tests kill each side mid-operation):
//   - a producer killed before its message's last record is published: that
//     message is never delivered (consumers drop the fragments they saw, when
//     the next message starts or when they notice the writer is gone), and
//     nothing else is lost; the next producer takes the lock over;
//   - a consumer killed holding its lock: the next consumer takes it over; a
//     message whose first record it had not yet consumed is delivered to
//     someone else; the one message it was in the middle of taking (consumed
//     records, or taken and not yet returned) is lost, never half-delivered.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "mpx/detail/deadline.hpp"
#include "mpx/detail/shared_object.hpp"
#include "mpx/detail/transfer.hpp"
#include "mpx/synchronize.hpp"

namespace mpx::detail {

struct RingOptions {
  std::size_t ring_bytes = 1 << 20;           // rounded up to a power of two, at least 4 KiB
  std::size_t max_message_size = 256u << 20;  // larger puts raise ValueError; at most 2 GiB
  std::uint32_t maxsize = 0;                  // items; 0 = unbounded (Python's maxsize <= 0)
  bool joinable = false;                      // count unfinished tasks (JoinableQueue)
  /// Consumers wait for data before taking the consumer lock, and a put
  /// wakes one of them: for many mostly idle consumers (a pool's workers),
  /// which then do not hand the lock to each other with a wake-up per
  /// message. Off for queues: busy consumers fare better queued on the lock.
  bool wait_unlocked = false;
};

class MessageRing {
 public:
  /// Called with a message's bytes; they are valid only during the call.
  using Sink = void (*)(void* ctx, std::span<const std::byte> message);

  explicit MessageRing(const RingOptions& options);

  /// Appends one message. Returns false if the deadline passed first (no room,
  /// or the queue held maxsize items). Throws ValueError if the queue is closed
  /// or the message is larger than max_message_size; DecodeError if the
  /// shared state is corrupted.
  bool put(std::span<const std::byte> message, Deadline deadline);

  /// Takes the oldest message and calls sink(ctx, bytes) with it. Returns
  /// false if the deadline passed first. Throws Closed once the queue is
  /// closed and drained; DecodeError if the shared state is corrupted (and
  /// whatever sink throws: the message is consumed either way).
  /// `abort`: also returns false (taking nothing) once it holds non-zero
  /// while this get waits between messages; see interrupt_consumers().
  bool get(Deadline deadline, Sink sink, void* ctx, const std::atomic<std::uint32_t>* abort = nullptr);

  /// get(), then up to max_messages - 1 more messages already in the ring
  /// (each one record: a fragmented message is left for the next get),
  /// under the same hold of the consumers' lock: sink runs once per
  /// message. For a consumer that drains a stream (a pool's result
  /// thread): the lock and the position's cache line change hands once per
  /// batch instead of once per message.
  bool get_many(Deadline deadline, Sink sink, void* ctx, std::size_t max_messages,
                const std::atomic<std::uint32_t>* abort = nullptr);

  /// While a batch is open on this handle, puts wake no consumer; closing
  /// it wakes up to as many sleeping consumers as records were put, with one
  /// system call. For one thread putting many messages in a row under a lock
  /// of its own: waking per message, each put finds the consumer it woke not
  /// yet running, still counted asleep, and wakes again (a system call each).
  /// The batch belongs to this handle, not to the ring: one thread at a time.
  /// It also keeps the producers' lock from its first put to its end: other
  /// producers wait for the whole batch.
  void begin_put_batch() noexcept { ++batch_.depth; }
  void end_put_batch() noexcept;

  /// Wakes the consumers sleeping in get(), so that one whose `abort` word
  /// was just set returns. Costs nothing while none sleeps.
  void interrupt_consumers() noexcept { wake_consumers(); }

  /// Messages put and not yet taken (approximate while others work, as
  /// Python's qsize).
  std::size_t qsize() const noexcept;
  std::uint32_t maxsize() const noexcept { return options_.maxsize; }
  std::size_t ring_bytes() const noexcept { return capacity_; }
  std::size_t max_message_size() const noexcept { return options_.max_message_size; }

  /// No more puts from anyone; consumers drain what is left, then get Closed.
  void close();
  bool closed() const noexcept;

  // JoinableQueue's count of unfinished tasks.
  void task_done();
  bool join(Deadline deadline);
  std::uint32_t unfinished_tasks() const noexcept;

  /// Travels to a spawned child inside a Queue argument: the same ring and
  /// locks there (detail/transfer.hpp).
  template <class Archive>
  void save(Archive& ar) const {
    Transfer* t = Transfer::current();
    if (!t || t->side() != Transfer::Side::Parent) throw_not_inheritable("Queue");
    ar(static_cast<std::uint64_t>(capacity_), static_cast<std::uint64_t>(options_.max_message_size), options_.maxsize,
       options_.joinable, options_.wait_unlocked, t->send_block(block_));
    put_lock_.save(ar);
    get_lock_.save(ar);
  }
  template <class Archive>
  void load(Archive& ar) {
    Transfer* t = Transfer::current();
    if (!t || t->side() != Transfer::Side::Child) throw_not_inheritable("Queue");
    std::uint64_t capacity = 0, max_message = 0, offset = 0;
    std::uint32_t maxsize = 0;
    bool joinable = false, wait_unlocked = false;
    ar(capacity, max_message, maxsize, joinable, wait_unlocked, offset);
    adopt(capacity, max_message, maxsize, joinable, t->receive_block(offset));
    options_.wait_unlocked = wait_unlocked;
    put_lock_.load(ar);
    get_lock_.load(ar);
  }

  /// The shared positions and records, for tests that watch or scribble on them.
  std::atomic<std::uint64_t>& head_for_tests() const noexcept;
  std::atomic<std::uint64_t>& tail_for_tests() const noexcept;
  void* shared_records_for_tests() const noexcept { return data_; }

 private:
  struct Header;
  struct Record;  // 16 bytes: see the layout above
  struct Assembly;

  void adopt(std::uint64_t capacity, std::uint64_t max_message, std::uint32_t maxsize, bool joinable,
             std::shared_ptr<SharedBlock> block);
  bool wait_for_room(std::uint64_t head, std::size_t record_bytes, bool first, Deadline deadline);
  bool await_data(Deadline deadline, const std::atomic<std::uint32_t>* abort);
  int wait_for_data(std::uint64_t tail, bool mid_message, Deadline deadline, const std::atomic<std::uint32_t>* abort);
  void publish_record(std::uint64_t& head, std::span<const std::byte> payload, std::uint16_t flags,
                      std::uint32_t msg_seq, std::uint32_t total);
  std::uint64_t checked_head(std::uint64_t tail) const;
  void wake_consumers();
  void wake_producers(std::uint64_t tail);

  RingOptions options_;
  std::size_t capacity_ = 0;      // from this process's handle, never from shared memory
  std::size_t max_fragment_ = 0;  // payload bytes per record
  std::shared_ptr<SharedBlock> block_;
  Header* header_ = nullptr;
  std::byte* data_ = nullptr;
  Lock put_lock_;
  Lock get_lock_;
  // Past values of the other side's position, so the hot path does not read
  // the line the other side keeps writing. Both only grow, so an old value
  // is always safe (it underestimates room or data), and so is 0; each is
  // touched only under its side's lock, and lives in this process, out of
  // reach of a corrupted segment. A copy starts from 0: a copy made by
  // another thread (a pool's worker arguments, copied by its supervisor
  // while the result thread reads) must not read what a get is writing.
  struct Seen {
    std::uint64_t tail = 0;  // under put_lock_
    std::uint64_t got = 0;   // under put_lock_: msgs_got, for maxsize
    std::uint64_t head = 0;  // under get_lock_
    Seen() = default;
    Seen(const Seen&) noexcept {}
    Seen& operator=(const Seen&) noexcept { return *this; }
  } seen_;
  // A put batch in progress on this handle. A copy starts with none (a
  // copy made by another thread, as a pool's worker arguments are, must not
  // read the fields the batching thread writes).
  struct PutBatch {
    int depth = 0;            // begin_put_batch() calls not yet ended
    int records = 0;          // records published in the batch, their wakes owed
    bool holds_lock = false;  // the batch took put_lock_ at its first put
    PutBatch() = default;
    PutBatch(const PutBatch&) noexcept {}
    PutBatch& operator=(const PutBatch&) noexcept { return *this; }
  } batch_;
};

}  // namespace mpx::detail
