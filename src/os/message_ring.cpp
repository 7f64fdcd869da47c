// The shared-memory message ring under the process queues (detail/message_ring.hpp).
#include "mpx/detail/message_ring.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>

#include "mpx/detail/bytes.hpp"
#include "mpx/detail/futex.hpp"
#include "mpx/detail/sync_state.hpp"
#include "mpx/errors.hpp"

namespace mpx::detail {

namespace {

constexpr std::uint32_t kHeaderMagic = 0x5158504d;  // "MPXQ"
constexpr std::uint16_t kRecordMagic = 0x5152;      // "RQ"
constexpr std::uint16_t kFirst = 1;
constexpr std::uint16_t kLast = 2;
constexpr std::uint16_t kPad = 4;
constexpr std::size_t kAlign = 16;
constexpr std::size_t kMinRing = 4096;
constexpr std::size_t kMaxMessage = std::size_t{1} << 31;

constexpr std::size_t round_up(std::size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

std::size_t ring_capacity(std::size_t requested) {
  if (requested > (std::size_t{1} << 40)) throw ValueError("queue ring_bytes too large");
  std::size_t c = kMinRing;
  while (c < requested) c <<= 1;
  return c;
}

[[noreturn]] void corrupted(const std::string& what) { throw DecodeError("queue: shared state corrupted: " + what); }

}  // namespace

struct MessageRing::Record {
  std::uint32_t frag_len;
  std::uint16_t flags;
  std::uint16_t magic;
  std::uint32_t msg_seq;
  std::uint32_t total_len;
};

// One line per writer and purpose: a consumer spinning on `head` must not
// pull in a line the producer writes for other reasons, and the other way
// round; the counters only one side reads sit on lines of their own.
struct MessageRing::Header {
  std::uint32_t magic;
  // Read by spinning consumers; written once per record by the producer holding put_lock_.
  alignas(64) std::atomic<std::uint64_t> head;  // bytes published (a position, not wrapped)
  std::atomic<std::uint32_t> writer_pid;        // a producer between a message's FIRST and LAST records
  // Producers only (under put_lock_), but for qsize().
  alignas(64) std::atomic<std::uint64_t> msgs_put;  // complete messages published
  std::atomic<std::uint32_t> put_seq;               // futex word: bumped when consumers sleep, and by close()
  std::uint32_t next_msg_seq;
  // Read by producers short of room; written once per record by the consumer holding get_lock_.
  alignas(64) std::atomic<std::uint64_t> tail;  // bytes consumed
  // Consumers only (under get_lock_), but for qsize() and maxsize.
  alignas(64) std::atomic<std::uint64_t> msgs_got;  // complete messages taken (or dropped as unfinishable)
  std::atomic<std::uint32_t> get_seq;               // futex word: bumped when producers sleep, and by close()
  // Rarely written, read by both sides on every operation.
  alignas(64) std::atomic<std::uint32_t> consumers_sleeping;
  std::atomic<std::uint32_t> holders_sleeping;  // of consumers_sleeping: the one holding get_lock_
  std::atomic<std::uint32_t> producers_sleeping;
  std::atomic<std::uint32_t> closed;
  std::atomic<std::uint32_t> joiners_sleeping;
  alignas(64) std::atomic<std::uint32_t> unfinished;  // JoinableQueue; futex word for join()
};

MessageRing::MessageRing(const RingOptions& options) : options_(options), capacity_(ring_capacity(options.ring_bytes)) {
  if (options_.max_message_size > kMaxMessage) throw ValueError("queue max_message_size is at most 2 GiB");
  // A fragment of at most a quarter of the ring always fits once the ring
  // drains, padding included.
  max_fragment_ = capacity_ / 4 - sizeof(Record);
  block_ = std::make_shared<SharedBlock>(sizeof(Header) + capacity_);
  header_ = new (block_->data()) Header{};
  header_->magic = kHeaderMagic;
  data_ = static_cast<std::byte*>(block_->data()) + sizeof(Header);
}

void MessageRing::adopt(std::uint64_t capacity, std::uint64_t max_message, std::uint32_t maxsize, bool joinable,
                        std::shared_ptr<SharedBlock> block) {
  // Checked as hostile input: these numbers bound every access from now on.
  if (capacity < kMinRing || (capacity & (capacity - 1)) != 0 || capacity > (std::uint64_t{1} << 40) ||
      max_message > kMaxMessage || block->size() < sizeof(Header) + capacity) {
    throw DecodeError("queue: the ring sent to this process is malformed");
  }
  auto* header = static_cast<Header*>(block->data());
  if (header->magic != kHeaderMagic) throw DecodeError("queue: no ring at the offset sent");
  options_ = RingOptions{static_cast<std::size_t>(capacity), static_cast<std::size_t>(max_message), maxsize, joinable};
  capacity_ = static_cast<std::size_t>(capacity);
  max_fragment_ = capacity_ / 4 - sizeof(Record);
  header_ = header;
  data_ = static_cast<std::byte*>(block->data()) + sizeof(Header);
  block_ = std::move(block);
  seen_.tail = seen_.got = seen_.head = 0;
}

std::atomic<std::uint64_t>& MessageRing::head_for_tests() const noexcept { return header_->head; }
std::atomic<std::uint64_t>& MessageRing::tail_for_tests() const noexcept { return header_->tail; }

std::size_t MessageRing::qsize() const noexcept {
  std::uint64_t got = header_->msgs_got.load(std::memory_order_acquire);
  std::uint64_t put = header_->msgs_put.load(std::memory_order_acquire);
  return put > got ? static_cast<std::size_t>(put - got) : 0;
}

bool MessageRing::closed() const noexcept { return header_->closed.load(std::memory_order_acquire) != 0; }

void MessageRing::close() {
  Header& h = *header_;
  if (h.closed.exchange(1, std::memory_order_seq_cst) != 0) return;
  h.put_seq.fetch_add(1, std::memory_order_seq_cst);
  h.get_seq.fetch_add(1, std::memory_order_seq_cst);
  futex_wake(h.put_seq);
  futex_wake(h.get_seq);
}

// A sleeper counts itself, then looks at the position, then sleeps on the
// seq word it read before counting itself; a waker moves the position
// (seq_cst), then reads the count. Either the waker sees the sleeper, bumps
// the seq word and wakes it, or the sleeper sees the new position: no lost
// wake-up, and no write to the seq word while nobody sleeps.
//
// With wait_unlocked, consumers wait for data before taking get_lock_
// (await_data), so one put wakes one of them: the others stay asleep
// instead of queueing on the lock (each hand-off of which cost a wake-up).
// Only a consumer that sleeps
// holding the lock (a message half taken, or a race for the data lost) needs
// every sleeper woken, to be sure to be among them. A consumer woken and
// killed before it takes the data costs the others at most one sleep slice.
void MessageRing::wake_consumers() {
  Header& h = *header_;
  if (h.consumers_sleeping.load(std::memory_order_seq_cst) != 0) {
    h.put_seq.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(h.put_seq, h.holders_sleeping.load(std::memory_order_seq_cst) != 0 ? INT_MAX : 1);
  }
}

// A producer short of room waits holding put_lock_, so nobody fills the ring
// while it sleeps, and the room only grows. Woken for every message taken,
// it would put one and sleep again: a wake-up per message on both sides,
// the whole cost of a full ring with a slower consumer. So it is woken once
// half the ring is free (room for any record plus the padding before it:
// a record is at most a quarter of the ring), or at once if it may be
// waiting for maxsize instead. A deadline still ends its wait on time.
void MessageRing::wake_producers(std::uint64_t tail) {
  Header& h = *header_;
  if (h.producers_sleeping.load(std::memory_order_seq_cst) == 0) return;
  if (options_.maxsize == 0) {
    const std::uint64_t head = h.head.load(std::memory_order_acquire);
    if (head >= tail && head - tail > capacity_ / 2) return;
  }
  h.get_seq.fetch_add(1, std::memory_order_seq_cst);
  futex_wake(h.get_seq);
}

// The consumers' position, checked against ours: a producer never writes
// outside [head, tail + capacity).
std::uint64_t MessageRing::checked_head(std::uint64_t tail) const {
  std::uint64_t head = header_->head.load(std::memory_order_acquire);
  if (head < tail || head - tail > capacity_ || head % kAlign != 0) {
    corrupted("head " + std::to_string(head) + ", tail " + std::to_string(tail));
  }
  return head;
}

// ---- producers -----------------------------------------------------------

// Waits (holding put_lock_) until `record_bytes` fit after `head` and, for a
// message's first record, the queue holds fewer than maxsize messages.
bool MessageRing::wait_for_room(std::uint64_t head, std::size_t record_bytes, bool first, Deadline deadline) {
  Header& h = *header_;
  auto room = [&] {
    // Closed before the first record: the caller throws. Mid-message a close
    // changes nothing: the message is finished (consumers drain it).
    if (first && h.closed.load(std::memory_order_acquire) != 0) return true;
    // The consumers' line changes with every get: read it only when the
    // last value seen does not leave room (a ring's usual trick).
    std::uint64_t tail = seen_.tail;
    if (tail > head || head - tail > capacity_ || capacity_ - (head - tail) < record_bytes) {
      tail = h.tail.load(std::memory_order_acquire);
      if (tail > head || head - tail > capacity_ || tail % kAlign != 0) {
        corrupted("tail " + std::to_string(tail) + ", head " + std::to_string(head));
      }
      seen_.tail = tail;
    }
    if (capacity_ - (head - tail) < record_bytes) return false;
    if (first && options_.maxsize != 0) {
      std::uint64_t put = h.msgs_put.load(std::memory_order_relaxed);
      if (seen_.got > put || put - seen_.got >= options_.maxsize) {
        seen_.got = h.msgs_got.load(std::memory_order_acquire);
        if (seen_.got <= put && put - seen_.got >= options_.maxsize) return false;
      }
    }
    return true;
  };
  // A try-once put (a pool feeding its ring) finds a full ring often: a
  // spin there only delays the thread that would free room.
  if (deadline.is_passed()) return room();
  if (spin(room)) return true;
  for (;;) {
    std::uint32_t seen = h.get_seq.load(std::memory_order_seq_cst);
    h.producers_sleeping.fetch_add(1, std::memory_order_seq_cst);
    if (room()) {
      h.producers_sleeping.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
    bool in_time = futex_wait(h.get_seq, seen, deadline);
    h.producers_sleeping.fetch_sub(1, std::memory_order_relaxed);
    if (room()) return true;
    if (!in_time || deadline.expired()) return false;
  }
}

void MessageRing::publish_record(std::uint64_t& head, std::span<const std::byte> payload, std::uint16_t flags,
                                 std::uint32_t msg_seq, std::uint32_t total) {
  std::size_t at = static_cast<std::size_t>(head & (capacity_ - 1));
  Record rec{static_cast<std::uint32_t>(payload.size()), flags, kRecordMagic, msg_seq, total};
  std::memcpy(data_ + at, &rec, sizeof rec);
  if (!payload.empty()) std::memcpy(data_ + at + sizeof rec, payload.data(), payload.size());
  head += sizeof(Record) + round_up(payload.size());
  header_->head.store(head, std::memory_order_seq_cst);
  if (batch_.depth > 0) {
    ++batch_.records;
  } else {
    wake_consumers();
  }
}

void MessageRing::end_put_batch() noexcept {
  if (--batch_.depth > 0) return;
  if (std::exchange(batch_.holds_lock, false)) put_lock_.release();
  if (batch_.records == 0) return;
  const int owed = std::exchange(batch_.records, 0);
  Header& h = *header_;
  if (h.consumers_sleeping.load(std::memory_order_seq_cst) != 0) {
    h.put_seq.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(h.put_seq, h.holders_sleeping.load(std::memory_order_seq_cst) != 0 ? INT_MAX : owed);
  }
}

bool MessageRing::put(std::span<const std::byte> message, Deadline deadline) {
  if (message.size() > options_.max_message_size) {
    throw ValueError("queue: a message of " + std::to_string(message.size()) +
                     " bytes is larger than max_message_size (" + std::to_string(options_.max_message_size) + ")");
  }
  Header& h = *header_;
  if (h.closed.load(std::memory_order_acquire) != 0) throw ValueError("Queue is closed");
  // In a put batch the lock is taken once, and let go by end_put_batch().
  const bool batch_holds = batch_.depth > 0 && batch_.holds_lock;
  if (!batch_holds) {
    if (!put_lock_.acquire_until(deadline)) return false;
    if (put_lock_.owner_died()) {
      // The last producer died mid-message: its fragments are dropped by the
      // consumers when this message's FIRST record arrives.
      h.writer_pid.store(0, std::memory_order_relaxed);
    }
  }
  std::unique_lock hold(put_lock_, std::adopt_lock);
  if (batch_.depth > 0) {
    batch_.holds_lock = true;
    hold.release();
  }
  const std::uint32_t me = this_pid();
  const std::uint32_t seq = h.next_msg_seq++;
  const auto total = static_cast<std::uint32_t>(message.size());
  std::uint64_t head = h.head.load(std::memory_order_relaxed);
  if (head % kAlign != 0) corrupted("head " + std::to_string(head));
  std::size_t sent = 0;
  bool first = true;
  do {
    std::size_t chunk = std::min(message.size() - sent, max_fragment_);
    std::size_t record_bytes = sizeof(Record) + round_up(chunk);
    std::size_t at = static_cast<std::size_t>(head & (capacity_ - 1));
    std::size_t pad = capacity_ - at < record_bytes ? capacity_ - at : 0;
    if (!wait_for_room(head, pad + record_bytes, first, deadline)) {
      if (first) return false;
      // Mid-message the deadline no longer applies: the message's first
      // part is out, and stopping would tear it.
      wait_for_room(head, pad + record_bytes, false, Deadline::never());
    }
    if (h.closed.load(std::memory_order_acquire) != 0 && first) throw ValueError("Queue is closed");
    if (pad != 0) publish_record(head, std::span<const std::byte>(data_, pad - sizeof(Record)), kPad, 0, 0);
    bool last = sent + chunk == message.size();
    std::uint16_t flags = static_cast<std::uint16_t>((first ? kFirst : 0) | (last ? kLast : 0));
    if (first && !last) h.writer_pid.store(me, std::memory_order_relaxed);
    if (last) h.msgs_put.store(h.msgs_put.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    if (last && options_.joinable) h.unfinished.fetch_add(1, std::memory_order_relaxed);
    publish_record(head, message.subspan(sent, chunk), flags, seq, total);
    sent += chunk;
    first = false;
  } while (sent < message.size());
  h.writer_pid.store(0, std::memory_order_relaxed);
  return true;
}

// ---- consumers -----------------------------------------------------------

namespace {
// The buffer fragments are put together in, kept per thread between gets:
// a fresh one for every large item would cost a page fault per 4 KiB
// (~10 µs each here), more than the copying. Returned when very large.
thread_local Bytes t_assembly_buffer;
constexpr std::size_t kKeepAssemblyBuffer = 64u << 20;
}  // namespace

// A message being put together from fragments.
struct MessageRing::Assembly {
  bool active = false;
  std::uint32_t msg_seq = 0;
  std::uint32_t total = 0;
  Bytes& bytes = t_assembly_buffer;
  Assembly() { bytes.clear(); }
  ~Assembly() {
    bytes.clear();
    if (bytes.capacity() > kKeepAssemblyBuffer) Bytes().swap(bytes);
  }
  Assembly(const Assembly&) = delete;
  Assembly& operator=(const Assembly&) = delete;
  void drop() {
    active = false;
    bytes.clear();
  }
  // resize + memcpy: vector::insert through an allocator with construct()
  // copies byte by byte.
  void append(std::span<const std::byte> payload) {
    std::size_t at = bytes.size();
    bytes.resize(at + payload.size());
    if (!payload.empty()) std::memcpy(bytes.data() + at, payload.data(), payload.size());
  }
};

enum : int { kData = 1, kTimedOut = 0, kWriterGone = 2, kClosedEmpty = 3 };

// Waits (holding get_lock_) until a record is published after `tail`.
int MessageRing::wait_for_data(std::uint64_t tail, bool mid_message, Deadline deadline,
                               const std::atomic<std::uint32_t>* abort) {
  Header& h = *header_;
  auto data = [&] { return h.head.load(std::memory_order_acquire) != tail; };
  // Between messages only: a message half taken is finished first.
  auto aborted = [&] { return !mid_message && abort && abort->load(std::memory_order_seq_cst) != 0; };
  if (spin([&] { return data() || aborted(); })) return data() ? kData : kTimedOut;
  for (;;) {
    std::uint32_t seen = h.put_seq.load(std::memory_order_seq_cst);
    if (data()) return kData;
    if (aborted()) return kTimedOut;
    if (!mid_message && h.closed.load(std::memory_order_acquire) != 0) return kClosedEmpty;
    if (mid_message) {
      // The rest of a message comes from one producer: if it died, it never will.
      std::uint32_t writer = h.writer_pid.load(std::memory_order_relaxed);
      if (writer != 0 && !process_alive(writer)) return kWriterGone;
    }
    if (deadline.expired()) return kTimedOut;
    Deadline until = deadline;
    if (mid_message) {
      Deadline slice = Deadline::after(kOwnerCheck);
      if (deadline.is_never() || slice.ns() < deadline.ns()) until = slice;
    }
    // Counted as a holder first: a producer that sees this consumer asleep
    // then sees it holds the lock, and wakes everyone.
    h.holders_sleeping.fetch_add(1, std::memory_order_seq_cst);
    h.consumers_sleeping.fetch_add(1, std::memory_order_seq_cst);
    if (data() || aborted()) {
      h.consumers_sleeping.fetch_sub(1, std::memory_order_relaxed);
      h.holders_sleeping.fetch_sub(1, std::memory_order_relaxed);
      return data() ? kData : kTimedOut;
    }
    futex_wait(h.put_seq, seen, until);
    h.consumers_sleeping.fetch_sub(1, std::memory_order_relaxed);
    h.holders_sleeping.fetch_sub(1, std::memory_order_relaxed);
  }
}

// Waits, without the lock, until there is something for get() to look at:
// data, a close, or `abort`. False if the deadline passed first.
bool MessageRing::await_data(Deadline deadline, const std::atomic<std::uint32_t>* abort) {
  Header& h = *header_;
  auto ready = [&] {
    return h.head.load(std::memory_order_acquire) != h.tail.load(std::memory_order_acquire) ||
           h.closed.load(std::memory_order_acquire) != 0 || (abort && abort->load(std::memory_order_seq_cst) != 0);
  };
  if (spin(ready)) return true;
  for (;;) {
    std::uint32_t seen = h.put_seq.load(std::memory_order_seq_cst);
    h.consumers_sleeping.fetch_add(1, std::memory_order_seq_cst);
    if (ready()) {
      h.consumers_sleeping.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
    // In slices: a wake-up may have gone to a consumer killed since.
    Deadline slice = Deadline::after(kOwnerCheck);
    futex_wait(h.put_seq, seen, deadline.is_never() || slice.ns() < deadline.ns() ? slice : deadline);
    h.consumers_sleeping.fetch_sub(1, std::memory_order_relaxed);
    if (ready()) return true;
    if (deadline.expired()) return false;
  }
}

bool MessageRing::get(Deadline deadline, Sink sink, void* ctx, const std::atomic<std::uint32_t>* abort) {
  return get_many(deadline, sink, ctx, 1, abort);
}

bool MessageRing::get_many(Deadline deadline, Sink sink, void* ctx, std::size_t max_messages,
                           const std::atomic<std::uint32_t>* abort) {
  Header& h = *header_;
  std::size_t taken = 0;
  if ((options_.wait_unlocked && !await_data(deadline, abort)) || !get_lock_.acquire_until(deadline)) {
    if (closed() && qsize() == 0) throw Closed("queue is closed and empty");
    return false;
  }
  std::unique_lock hold(get_lock_, std::adopt_lock);
  Assembly assembly;
  std::uint64_t tail = h.tail.load(std::memory_order_relaxed);
  if (tail % kAlign != 0) corrupted("tail " + std::to_string(tail));
  // The producers' line changes with every put: read it only when the last
  // value seen has been consumed up to.
  std::uint64_t head = seen_.head;
  if (head <= tail || head - tail > capacity_) seen_.head = head = checked_head(tail);
  auto consume = [&](std::size_t record_bytes) {
    tail += record_bytes;
    h.tail.store(tail, std::memory_order_seq_cst);
    wake_producers(tail);
  };
  for (;;) {
    if (tail == head && taken > 0) {
      // More of a batch only if it is there already.
      seen_.head = head = checked_head(tail);
      if (tail == head) return true;
    }
    if (tail == head) {
      int got = wait_for_data(tail, assembly.active, deadline, abort);
      if (got == kTimedOut) return false;
      if (got == kClosedEmpty) throw Closed("queue is closed and empty");
      if (got == kWriterGone) {
        // Its message can never be finished: drop what arrived of it. (Only
        // that writer's mark is cleared: a producer that took the lock over
        // since then has put its own.)
        std::uint32_t dead = h.writer_pid.load(std::memory_order_relaxed);
        if (dead != 0 && !process_alive(dead)) h.writer_pid.compare_exchange_strong(dead, 0);
        assembly.drop();
        continue;
      }
      seen_.head = head = checked_head(tail);
      continue;
    }
    std::size_t at = static_cast<std::size_t>(tail & (capacity_ - 1));
    if (head - tail < sizeof(Record) || capacity_ - at < sizeof(Record)) corrupted("record header past the end");
    Record rec;
    std::memcpy(&rec, data_ + at, sizeof rec);
    if (rec.magic != kRecordMagic || (rec.flags & ~(kFirst | kLast | kPad)) != 0) {
      corrupted("bad record at " + std::to_string(tail));
    }
    std::size_t record_bytes = sizeof(Record) + round_up(rec.frag_len);
    if (record_bytes > head - tail || record_bytes > capacity_ - at) {
      corrupted("record of " + std::to_string(rec.frag_len) + " bytes overruns the ring");
    }
    std::span<const std::byte> payload(data_ + at + sizeof(Record), rec.frag_len);
    if (rec.flags & kPad) {
      consume(record_bytes);
      continue;
    }
    if (rec.flags & kFirst) {
      if (taken > 0 && !(rec.flags & kLast)) return true;  // a fragmented message: the next get's
      // A message that started before and never finished was torn by its
      // producer's death: drop it.
      assembly.drop();
      if (rec.total_len > options_.max_message_size || rec.frag_len > rec.total_len) {
        corrupted("message of " + std::to_string(rec.total_len) + " bytes");
      }
      if (rec.flags & kLast) {
        if (rec.frag_len != rec.total_len) corrupted("single record shorter than its message");
        // The common case: hand the bytes over in place, then consume the
        // record, even if the sink throws (a message that cannot be decoded
        // is dropped, not retried for ever).
        {
          struct Consume {
            decltype(consume)& fn;
            std::size_t bytes;
            Header& h;
            ~Consume() {
              h.msgs_got.store(h.msgs_got.load(std::memory_order_relaxed) + 1, std::memory_order_release);
              fn(bytes);
            }
          } after{consume, record_bytes, h};
          sink(ctx, payload);
        }
        if (++taken >= max_messages) return true;
        continue;
      }
      assembly.active = true;
      assembly.msg_seq = rec.msg_seq;
      assembly.total = rec.total_len;
      assembly.bytes.reserve(rec.total_len);
      assembly.append(payload);
      consume(record_bytes);
      continue;
    }
    // A continuation record.
    if (!assembly.active || rec.msg_seq != assembly.msg_seq) {
      // The rest of a message whose start a consumer killed mid-get took
      // with it: skip it (counting it taken when its last record goes by).
      if (rec.flags & kLast)
        h.msgs_got.store(h.msgs_got.load(std::memory_order_relaxed) + 1, std::memory_order_release);
      consume(record_bytes);
      continue;
    }
    if (rec.frag_len > assembly.total - assembly.bytes.size()) corrupted("fragment longer than its message");
    assembly.append(payload);
    consume(record_bytes);
    if (rec.flags & kLast) {
      if (assembly.bytes.size() != assembly.total) corrupted("message shorter than announced");
      h.msgs_got.store(h.msgs_got.load(std::memory_order_relaxed) + 1, std::memory_order_release);
      hold.unlock();
      sink(ctx, std::span<const std::byte>(assembly.bytes.data(), assembly.bytes.size()));
      return true;
    }
  }
}

// ---- JoinableQueue -------------------------------------------------------

void MessageRing::task_done() {
  Header& h = *header_;
  std::uint32_t v = h.unfinished.load(std::memory_order_relaxed);
  do {
    if (v == 0) throw ValueError("task_done() called too many times");
  } while (!h.unfinished.compare_exchange_weak(v, v - 1, std::memory_order_seq_cst, std::memory_order_relaxed));
  if (v == 1 && h.joiners_sleeping.load(std::memory_order_seq_cst) != 0) futex_wake(h.unfinished);
}

bool MessageRing::join(Deadline deadline) {
  Header& h = *header_;
  auto done = [](std::uint32_t v) { return v == 0; };
  std::uint32_t seen = 0;
  if (spin([&] { return done(seen = h.unfinished.load(std::memory_order_acquire)); })) return true;
  h.joiners_sleeping.fetch_add(1, std::memory_order_seq_cst);
  bool ok = sleep_until(h.unfinished, done, h.unfinished.load(std::memory_order_seq_cst), deadline);
  h.joiners_sleeping.fetch_sub(1, std::memory_order_relaxed);
  return ok;
}

std::uint32_t MessageRing::unfinished_tasks() const noexcept {
  return header_->unfinished.load(std::memory_order_relaxed);
}

}  // namespace mpx::detail
