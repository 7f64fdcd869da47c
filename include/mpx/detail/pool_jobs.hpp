// mpx/detail/pool_jobs.hpp — part of mpx/pool.hpp: what a Pool call turns
// into in the parent while its tasks run. One job per apply_async, map_async
// or imap; the result thread hands each finished chunk to its job, which
// stores it, runs the user's callbacks (on that thread, as Python's
// result-handler thread does), and completes the future core.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "mpx/detail/future_core.hpp"
#include "mpx/detail/pool_calls.hpp"
#include "mpx/detail/process_pool.hpp"
#include "mpx/futures.hpp"

namespace mpx {

/// apply_async's callback: called with the result (nothing for void).
namespace detail {
template <class R>
struct CallbackOf {
  using type = std::function<void(const R&)>;
};
template <>
struct CallbackOf<void> {
  using type = std::function<void()>;
};
}  // namespace detail
template <class R>
using Callback = typename detail::CallbackOf<R>::type;
/// apply_async's error_callback: called with the exception.
using ErrorCallback = std::function<void(std::exception_ptr)>;

namespace detail {

/// A progress line on stderr for map/imap (`.progress = true`): items done,
/// rate and ETA (a count and a rate when the total is unknown: an imap over
/// an unsized range), redrawn at most ten times a second — only when stderr
/// is a terminal. Updated by the result thread, finished by either side.
class Progress {
 public:
  Progress(bool enabled, std::size_t total);
  void advance(std::size_t items) noexcept;
  /// The last line (with a newline), once every item is in or the job failed.
  void finish() noexcept;

 private:
  void draw(bool final) noexcept;
  std::mutex mu_;
  bool on_ = false;
  std::size_t total_ = 0;
  std::size_t done_ = 0;
  std::int64_t start_ns_ = 0;
  std::int64_t last_draw_ns_ = 0;
};

/// Whether a pool still lives, for the imap feeds that hold on to it.
struct FeedGate {
  std::mutex mu;
  bool alive = true;
};

/// What an IMapIterator calls to read more of its input (BasicPool::submit_imap).
struct ImapFeed {
  virtual ~ImapFeed() = default;
  virtual void feed() = 0;
};

/// Runs a user callback on the result thread: what it throws is reported on
/// stderr and dropped (Python's result handler would die; mpx keeps serving).
void run_pool_callback(const char* what, const std::function<void()>& fn) noexcept;

/// apply_async: one call, one future.
template <class R>
class ApplyJob final : public PoolJob {
 public:
  ApplyJob(futures::Future<R> future, Callback<R> callback, ErrorCallback error_callback)
      : future_(std::move(future)), callback_(std::move(callback)), error_callback_(std::move(error_callback)) {}

  void chunk_done(std::size_t, std::span<const std::byte> bytes) noexcept override {
    if constexpr (std::is_void_v<R>) {
      if (!bytes.empty()) return chunk_failed(0, std::make_exception_ptr(DecodeError("a void result with bytes")));
      deliver();
    } else {
      std::optional<R> value;
      try {
        value.emplace(decode_exact<R>(bytes));
      } catch (...) {
        return chunk_failed(0, std::current_exception());
      }
      deliver(std::move(*value));
    }
  }
  /// The result (threads: ThreadPool calls this directly).
  template <class... V>
  void deliver(V&&... value) noexcept {
    // Python's ApplyResult._set: the callback runs before get() returns.
    if (callback_) run_pool_callback("callback", [&] { callback_(value...); });
    try {
      future_.set_result(std::forward<V>(value)...);
    } catch (...) {
      future_.set_exception(std::current_exception());
    }
  }
  void chunk_failed(std::size_t, std::exception_ptr error) noexcept override {
    if (error_callback_) run_pool_callback("error_callback", [&] { error_callback_(error); });
    future_.set_exception(error);
  }
  /// No callbacks, and none added to its future (AsyncResult::future()).
  bool quiet() const noexcept override {
    return !callback_ && !error_callback_ && (future_.core()->word() & FutureCore::kLists) == 0;
  }
  bool chunk_done_quietly(std::size_t, std::span<const std::byte> bytes) noexcept override {
    return !callback_ && !error_callback_ && complete_quietly(*future_.core(), bytes);
  }
  bool chunk_failed_quietly(std::size_t, const std::exception_ptr& error) noexcept override {
    return !callback_ && !error_callback_ && fail_quietly(*future_.core(), error);
  }

 private:
  futures::Future<R> future_;
  Callback<R> callback_;
  ErrorCallback error_callback_;
};

/// Where a map's chunks start: chunk i is items [i*size, min((i+1)*size, total)).
struct Chunking {
  std::size_t total = 0;
  std::size_t size = 1;
  std::size_t count() const noexcept { return size == 0 ? 0 : (total + size - 1) / size; }
  std::size_t first(std::size_t chunk) const noexcept { return chunk * size; }
  std::size_t length(std::size_t chunk) const noexcept { return std::min(size, total - first(chunk)); }
};

/// Decodes a chunk's results; DecodeError unless there are exactly `n`.
template <class V>
std::vector<V> decode_chunk(std::span<const std::byte> bytes, std::size_t n) {
  if constexpr (std::is_same_v<V, std::monostate>) {
    auto count = decode_exact<std::uint64_t>(bytes);
    if (count != n) throw DecodeError("a chunk of " + std::to_string(n) + " items returned " + std::to_string(count));
    return std::vector<V>(n);
  }
  auto values = decode_exact<std::vector<V>>(bytes);
  if (values.size() != n) {
    throw DecodeError("a chunk of " + std::to_string(n) + " items returned " + std::to_string(values.size()));
  }
  return values;
}

/// decode_chunk, into the `n` values at `out` (they may be left half
/// written if it throws).
template <class V, class It>
void decode_chunk_into(std::span<const std::byte> bytes, It out, std::size_t n) {
  if constexpr (std::is_same_v<V, std::monostate>) {
    decode_chunk<V>(bytes, n);  // nothing to store
  } else {
    // The layout of a vector<V> (what the worker encodes): the length, then the values.
    SpanIn in(bytes.data(), bytes.size());
    cereal::size_type count = 0;
    in(cereal::make_size_tag(count));
    if (count != n) throw DecodeError("a chunk of " + std::to_string(n) + " items returned " + std::to_string(count));
    for (std::size_t i = 0; i < n; ++i, ++out) {
      V value{};  // (not in(*out): a vector<bool>'s element is a proxy)
      in(value);
      *out = std::move(value);
    }
    if (in.left() != 0) throw DecodeError(std::to_string(in.left()) + " trailing bytes after a chunk's results");
  }
}

/// map_async / starmap_async (and map, which waits on it): one future for
/// the whole list, completed by the last chunk or the first failure.
template <class V>
class MapJob final : public PoolJob {
 public:
  MapJob(futures::Future<std::vector<V>> future, Chunking chunks, Callback<std::vector<V>> callback,
         ErrorCallback error_callback, bool progress)
      : future_(std::move(future)),
        chunks_(chunks),
        values_(chunks.total),
        left_(chunks.count()),
        callback_(std::move(callback)),
        error_callback_(std::move(error_callback)),
        progress_(progress, chunks.total) {}

  /// An empty map is done at once.
  void finish_if_empty() noexcept {
    if (left_ == 0) complete();
  }
  /// map() and starmap(): their caller waits for the list, and nobody else
  /// sees its future, so without callbacks completing it runs nothing of
  /// the user's: a waiting (or feeding) thread may complete its chunks
  /// (ProcessPoolCore::help).
  void completes_quietly() noexcept { quiet_ = !callback_ && !error_callback_; }
  bool quiet() const noexcept override { return quiet_; }
  bool chunk_done_quietly(std::size_t chunk, std::span<const std::byte> bytes) noexcept override {
    if (!quiet_) return false;
    chunk_done(chunk, bytes);
    return true;
  }
  bool chunk_failed_quietly(std::size_t chunk, const std::exception_ptr& error) noexcept override {
    if (!quiet_) return false;
    chunk_failed(chunk, error);
    return true;
  }

  void chunk_done(std::size_t chunk, std::span<const std::byte> bytes) noexcept override {
    if (failed_) return;
    try {
      // Straight into place: a chunk of one item (chunksize=1) would cost
      // a vector, allocated and freed, per item.
      decode_chunk_into<V>(bytes, values_.begin() + static_cast<std::ptrdiff_t>(chunks_.first(chunk)),
                           chunks_.length(chunk));
    } catch (...) {
      return chunk_failed(chunk, std::current_exception());
    }
    arrived(chunks_.length(chunk));
  }
  void deliver(std::size_t chunk, std::vector<V>&& part) noexcept {
    if (failed_) return;
    std::move(part.begin(), part.end(), values_.begin() + static_cast<std::ptrdiff_t>(chunks_.first(chunk)));
    arrived(part.size());
  }
  void arrived(std::size_t items) noexcept {
    progress_.advance(items);
    if (--left_ == 0) complete();
  }
  // Python's MapResult._set: the first failure completes the map; the
  // chunks still out are ignored when they come back.
  void chunk_failed(std::size_t, std::exception_ptr error) noexcept override {
    if (failed_ || left_ == 0) return;
    failed_ = true;
    progress_.finish();
    if (error_callback_) run_pool_callback("error_callback", [&] { error_callback_(error); });
    future_.set_exception(error);
  }

 private:
  void complete() noexcept {
    progress_.finish();
    if (callback_) run_pool_callback("callback", [&] { callback_(values_); });
    try {
      future_.set_result(std::move(values_));
    } catch (...) {
      future_.set_exception(std::current_exception());
    }
  }

  futures::Future<std::vector<V>> future_;
  Chunking chunks_;
  std::vector<V> values_;
  std::size_t left_;
  bool failed_ = false;
  bool quiet_ = false;
  Callback<std::vector<V>> callback_;
  ErrorCallback error_callback_;
  Progress progress_;
};

/// imap / imap_unordered: items handed to the iterating thread as they
/// come. Its chunks are added as the input is read (IMapIterator reads it
/// lazily, a window ahead of the consumer), so the total is known only once
/// the input ends.
template <class V>
class IMapJob final : public PoolJob {
 public:
  using Outcome = std::variant<V, std::exception_ptr>;

  IMapJob(bool ordered, bool progress, std::size_t expected) : ordered_(ordered), progress_(progress, expected) {}

  // ---- the reading side (the iterating thread) ----
  /// Registers the next chunk of `length` items; returns its index.
  std::size_t add_chunk(std::size_t length) {
    std::lock_guard lock(mu_);
    chunks_.push_back({submitted_, length});
    submitted_ += length;
    return chunks_.size() - 1;
  }
  /// The input ended after the items registered so far.
  void input_done() {
    {
      std::lock_guard lock(mu_);
      input_ended_ = true;
    }
    ready_.notify_all();
  }
  /// Reading the input threw: Python's imap raises it after the items read
  /// so far (in order: where the next chunk would be) and then ends.
  void input_failed(std::exception_ptr error) {
    {
      std::lock_guard lock(mu_);
      store(submitted_, Outcome(std::in_place_index<1>, std::move(error)));
      ++submitted_;
      input_ended_ = true;
      end_after_ = std::min(end_after_, submitted_);
    }
    ready_.notify_all();
  }
  /// Items registered and not yet taken: how far ahead of the consumer the reading is.
  std::size_t ahead() {
    std::lock_guard lock(mu_);
    return submitted_ - taken_;
  }

  // ---- the result thread ----
  void chunk_done(std::size_t chunk, std::span<const std::byte> bytes) noexcept override {
    std::vector<V> part;
    try {
      part = decode_chunk<V>(bytes, chunk_at(chunk).second);
    } catch (...) {
      return chunk_failed(chunk, std::current_exception());
    }
    deliver(chunk, std::move(part));
  }
  void deliver(std::size_t chunk, std::vector<V>&& part) noexcept {
    {
      std::lock_guard lock(mu_);
      std::size_t at = chunks_[chunk].first;
      for (V& v : part) store(at++, Outcome(std::in_place_index<0>, std::move(v)));
    }
    progress_.advance(part.size());
    ready_.notify_all();
  }
  // A failed chunk: Python yields its exception where the chunk's first item
  // would be; with chunksize > 1 its generator then ends (the exception
  // escapes `for item in chunk`), so here the iteration ends there too.
  void chunk_failed(std::size_t chunk, std::exception_ptr error) noexcept override {
    std::size_t n;
    {
      std::lock_guard lock(mu_);
      const auto [first, length] = chunks_[chunk];
      n = length;
      store(first, Outcome(std::in_place_index<1>, error));
      if (length > 1) end_after_ = std::min(end_after_, ordered_ ? first + 1 : taken_ + unordered_.size());
      // The rest of an unordered chunk never comes: count it as taken.
      if (!ordered_) skipped_ += length - 1;
    }
    progress_.advance(n);
    ready_.notify_all();
  }

  /// The next item, or nullopt at the end; throws the item's exception, or
  /// TimeoutError if nothing came before `deadline`.
  std::optional<V> next(Deadline deadline) {
    std::unique_lock lock(mu_);
    auto finished = [&] { return taken_ >= end_after_ || (input_ended_ && taken_ + skipped_ >= submitted_); };
    auto available = [&] {
      if (ordered_) return !ahead_.empty() && ahead_.front().has_value();
      return !unordered_.empty();
    };
    auto ready = [&] { return available() || finished(); };
    if (!ready()) {
      if (deadline.is_never()) {
        ready_.wait(lock, ready);
      } else if (!ready_.wait_for(lock, deadline.remaining(), ready)) {
        throw TimeoutError("");
      }
    }
    if (!available()) {
      progress_.finish();
      return std::nullopt;
    }
    Outcome out = take();
    ++taken_;
    if (out.index() == 1) std::rethrow_exception(std::get<1>(out));
    return std::optional<V>(std::move(std::get<0>(out)));
  }

 private:
  std::pair<std::size_t, std::size_t> chunk_at(std::size_t chunk) {
    std::lock_guard lock(mu_);
    return chunks_[chunk];
  }
  void store(std::size_t at, Outcome&& o) {
    if (!ordered_) {
      unordered_.push_back(std::move(o));
      return;
    }
    if (at < taken_) return;  // cannot happen; never write behind the reader
    const std::size_t i = at - taken_;
    if (ahead_.size() <= i) ahead_.resize(i + 1);
    ahead_[i].emplace(std::move(o));
  }
  Outcome take() {
    if (ordered_) {
      Outcome o = std::move(*ahead_.front());
      ahead_.pop_front();
      return o;
    }
    Outcome o = std::move(unordered_.front());
    unordered_.pop_front();
    return o;
  }

  const bool ordered_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::vector<std::pair<std::size_t, std::size_t>> chunks_;  // first item, length
  std::deque<std::optional<Outcome>> ahead_;                 // ordered: items from taken_ on
  std::deque<Outcome> unordered_;
  std::size_t submitted_ = 0;
  std::size_t taken_ = 0;
  std::size_t skipped_ = 0;
  std::size_t end_after_ = static_cast<std::size_t>(-1);
  bool input_ended_ = false;
  Progress progress_;
};

}  // namespace detail
}  // namespace mpx
