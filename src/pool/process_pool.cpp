// The parent side of a process pool: submitting and feeding tasks, close,
// terminate, join (detail/process_pool.hpp has the diagram; the result
// thread and the helpers are pool_results.cpp, the supervisor
// pool_supervisor.cpp).
#include "mpx/detail/process_pool.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "mpx/errors.hpp"
#include "pool/pool_control.hpp"

namespace mpx::detail {

namespace pool {
thread_local const ProcessPoolCore* t_reading = nullptr;

std::string what_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}
}  // namespace pool

using pool::t_reading;
using pool::what_of;

void append_code_prefix(std::vector<std::byte>& out, const void* trampoline, const void* function) {
  // Trivially destructible, so that no thread-exit destructor runs before a
  // submit from an atexit function (this thread's cache would be gone).
  struct Entry {
    const void* trampoline;
    const void* function;
    std::size_t size;
    std::byte bytes[480];
  };
  thread_local std::array<Entry, 4> cache{};
  thread_local unsigned next = 0;
  for (const auto& e : cache) {
    if (e.trampoline == trampoline && e.function == function && e.size != 0) {
      out.insert(out.end(), e.bytes, e.bytes + e.size);
      return;
    }
  }
  const std::size_t at = out.size();
  {
    SpanOut ar(out);
    ar(code_ref(trampoline), code_ref(function));
  }
  const std::size_t size = out.size() - at;
  if (size > sizeof(Entry::bytes)) return;  // object paths too long to keep: encoded each time
  Entry& e = cache[next++ % cache.size()];
  e.trampoline = trampoline;
  e.function = function;
  e.size = size;
  std::memcpy(e.bytes, out.data() + at, size);
}

ProcessPoolCore::ProcessPoolCore(ProcessPoolConfig config) : config_(std::move(config)) {
  if (config_.processes < 1) throw ValueError("Number of processes must be at least 1");
  const auto slots = static_cast<std::uint32_t>(config_.processes);
  args_.tasks = MessageRing(RingOptions{.ring_bytes = config_.ring_bytes, .wait_unlocked = true});
  args_.results = MessageRing(RingOptions{.ring_bytes = config_.ring_bytes, .wait_unlocked = true});
  args_.control = std::make_shared<SharedBlock>(pool::control_bytes(slots));
  args_.slots = slots;
  args_.initializer = config_.initializer;
  args_.ship_initializer = config_.ship_initializer;
  args_.maxtasks = config_.maxtasksperchild;
  workers_.resize(slots);
  window_ = config_.max_in_flight;
  completion_gap_ns_ = std::int64_t{1'000'000'000};
  gate_->core = this;
  wake_ = Fd::eventfd(0, true);
  result_thread_ = std::thread([this] { result_loop(); });
  supervisor_ = std::thread([this] { supervisor_loop(); });
  std::unique_lock lock(mu_);
  workers_changed_.wait(lock, [&] { return started_; });
  if (start_error_) {
    lock.unlock();
    terminate();
    join(Deadline::never());
    std::rethrow_exception(start_error_);
  }
}

ProcessPoolCore::~ProcessPoolCore() {
  terminate();
  join(Deadline::never());
  // Helpers have left: each hands the end (kStop) to the result thread.
  std::lock_guard lock(gate_->mu);
  gate_->core = nullptr;
}

std::shared_ptr<SharedBlock> ProcessPoolCore::move_large_body(std::vector<std::byte>& message) const {
  if (message.size() <= config_.inline_limit) return nullptr;
  // In the arena, where every worker (forked or spawned) maps it.
  const std::size_t n = message.size() - sizeof(TaskHeader);
  auto body = std::make_shared<SharedBlock>(n);
  std::memcpy(body->data(), message.data() + sizeof(TaskHeader), n);
  TaskHeader h;
  std::memcpy(&h, message.data(), sizeof h);
  h.indirect = 1;
  const IndirectBody ref{body->offset(), n};
  message.resize(sizeof h + sizeof ref);
  std::memcpy(message.data(), &h, sizeof h);
  std::memcpy(message.data() + sizeof h, &ref, sizeof ref);
  return body;
}

void ProcessPoolCore::check_accepting_locked(bool continuation) const {
  if (!broken_.empty()) std::rethrow_exception(broken_error());
  if (state_ == State::Terminated || (state_ == State::Closed && !continuation)) {
    if (!config_.closed_runtime_error.empty()) throw RuntimeError(config_.closed_runtime_error);
    throw ValueError("Pool not running");
  }
}

void ProcessPoolCore::submit(const std::shared_ptr<PoolJob>& job, std::size_t index, std::vector<std::byte> message,
                             bool continuation) {
  std::shared_ptr<SharedBlock> body = move_large_body(message);
  std::unique_lock lock(mu_);
  check_accepting_locked(continuation);
  pending_.push_back({job, index, std::move(message), std::move(body)});
  feed_locked(lock);
  if (config_.start_on_demand) adjust_process_count(lock);
}

void ProcessPoolCore::submit_batch(const std::shared_ptr<PoolJob>& job, std::size_t first_index,
                                   std::vector<std::vector<std::byte>>& messages, bool feed_here) {
  std::vector<std::shared_ptr<SharedBlock>> bodies(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) bodies[i] = move_large_body(messages[i]);
  std::unique_lock lock(mu_);
  check_accepting_locked(false);
  for (std::size_t i = 0; i < messages.size(); ++i)
    pending_.push_back({job, first_index + i, std::move(messages[i]), std::move(bodies[i])});
  feed_locked(lock);
  if (config_.start_on_demand) adjust_process_count(lock);
  // The reading thread (a callback's map) must not wait for itself to read.
  if (!feed_here || t_reading == this) return;
  // Feed what is pending as completions make room, until no more than
  // this batch waits: the result thread is left to read (it would feed
  // otherwise, a put per task on the thread every result goes through).
  const std::size_t keep = messages.size();
  ++feeders_;
  // A quiet job's results this thread reads itself (read_while_feeding),
  // unless it cannot or had to hand them over: then it waits for room.
  // Room is looked for right before each wait, without letting the lock go
  // in between: a completion's notify is never missed.
  bool read_here = job->quiet();
  for (;;) {
    feed_locked(lock);
    if (pending_.size() <= keep || state_ == State::Terminated || !broken_.empty()) break;
    if (read_here) {
      read_here = read_while_feeding(lock, keep);
      continue;
    }
    feeder_cv_.wait(lock);
  }
  --feeders_;
}

// Python's _adjust_process_count: an idle worker takes the task, else one
// more starts (up to `processes`). The supervisor starts it (it must be the
// parent thread of every worker); the submit waits, so that the worker
// exists when submit returns, as in Python.
void ProcessPoolCore::adjust_process_count(std::unique_lock<std::mutex>& lock) {
  if (idle_ > 0) {
    --idle_;
    return;
  }
  std::optional<std::uint32_t> free_slot;
  for (std::uint32_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].alive || workers_[i].starting) continue;
    if (!free_slot) free_slot = i;
  }
  if (!free_slot || state_ == State::Terminated) return;
  const std::uint32_t i = *free_slot;
  workers_[i].starting = true;
  wake_supervisor();
  if (t_reading == this) return;  // a callback's submit: the worker comes soon after
  workers_changed_.wait(lock, [&] { return !workers_[i].starting; });
  if (workers_[i].alive || !demand_error_) return;
  std::exception_ptr error = std::exchange(demand_error_, nullptr);
  bool none_left = true;
  for (const auto& w : workers_) none_left = none_left && !w.alive && !w.starting;
  if (none_left) {
    // Nothing would ever run what is queued: the pool is broken.
    if (broken_.empty()) broken_ = "A child process could not be started: " + what_of(error);
    std::exception_ptr broken = broken_error();
    lock.unlock();
    terminate(broken);
    lock.lock();
  }
  std::rethrow_exception(error);
}

namespace {
// Buffers of sent messages kept for the next ones (take_spare_buffers):
// about two batches of small messages.
constexpr std::size_t kMaxSpares = 512;
constexpr std::size_t kMaxSpareBytes = 1024;
}  // namespace

void ProcessPoolCore::take_spare_buffers(std::vector<std::vector<std::byte>>& buffers, std::size_t n) {
  buffers.resize(n);
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < n && !spares_.empty(); ++i) {
    buffers[i] = std::move(spares_.back());
    spares_.pop_back();
  }
}

// Moves pending tasks into the ring while there is room and credit. Never
// blocks: a full ring leaves them pending until a result frees room.
void ProcessPoolCore::feed_locked(std::unique_lock<std::mutex>&) {
  // Terminated: the task ring is closed, and what is pending fails with the pool.
  if (state_ == State::Terminated) return;
  // A window widened by quick calls (adapt_window_locked) holds only while
  // they keep completing: calls submitted after a pause get Python's.
  if (window_ > config_.max_in_flight && pool::steady_ns() - last_completion_ns_ > pool::kQueuedWorkNs)
    window_ = config_.max_in_flight;
  completions_since_feed_ = 0;
  // One wake-up call for the whole feed (MessageRing::begin_put_batch).
  args_.tasks.begin_put_batch();
  struct EndBatch {
    MessageRing& ring;
    ~EndBatch() { ring.end_put_batch(); }
  } end_batch{args_.tasks};
  while (!pending_.empty() && in_flight_ < window_) {
    Pending& p = pending_.front();
    if (!p.job->chunk_starting(p.index)) {
      pending_.pop_front();
      continue;
    }
    const std::uint64_t id = next_id_;
    if (!put_locked(id, p.message)) break;
    ++next_id_;
    const bool loud = !p.job->quiet();
    table_.emplace(id, Entry{std::move(p.job), p.index, std::move(p.body), loud});
    ++in_flight_;
    if (spares_.size() < kMaxSpares && p.message.capacity() <= kMaxSpareBytes) spares_.push_back(std::move(p.message));
    // Its result needs the result thread: a helper hands it over, or leaves
    // and wakes the thread; with no helper, the thread reads now.
    if (loud && ++loud_out_ == 1 && reader_ == Reader::None) wake_result_thread_locked();
    pending_.pop_front();
  }
  if (state_ == State::Closed && pending_.empty() && feeds_ == 0 && !args_.tasks.closed()) args_.tasks.close();
}

void ProcessPoolCore::open_feed() {
  std::lock_guard lock(mu_);
  ++feeds_;
}

void ProcessPoolCore::close_feed() noexcept {
  std::unique_lock lock(mu_);
  --feeds_;
  feed_locked(lock);
}

bool ProcessPoolCore::put_locked(std::uint64_t id, std::vector<std::byte>& message) {
  TaskHeader h;
  std::memcpy(&h, message.data(), sizeof h);
  h.id = id;
  std::memcpy(message.data(), &h, sizeof h);
  return args_.tasks.put(message, Deadline::passed());
}

void ProcessPoolCore::close() {
  std::unique_lock lock(mu_);
  if (state_ != State::Running) return;
  state_ = State::Closed;
  feed_locked(lock);
  wake_supervisor();
}

void ProcessPoolCore::cancel_pending() {
  std::deque<Pending> pending;
  {
    std::unique_lock lock(mu_);
    pending.swap(pending_);
    if (state_ == State::Closed && feeds_ == 0 && !args_.tasks.closed()) args_.tasks.close();
  }
  for (auto& p : pending) p.job->chunk_cancelled(p.index);
}

void ProcessPoolCore::terminate(std::exception_ptr why) {
  std::vector<std::pair<std::uint32_t, Process>> workers;
  {
    std::unique_lock lock(mu_);
    if (state_ == State::Terminated) return;
    state_ = State::Terminated;
    feeder_cv_.notify_all();
    terminated_why_ = why ? why : std::make_exception_ptr(ProcessError("the pool was terminated"));
    terminate_deadline_ = Deadline::after(std::chrono::seconds(1));
    pool::header(args_.control).terminating.store(1, std::memory_order_seq_cst);
    if (!args_.tasks.closed()) args_.tasks.close();
    // Busy: running a task whose result has not come back (one that has
    // is a worker about to go idle).
    for (std::uint32_t i = 0; i < workers_.size(); ++i) {
      const std::uint64_t task = pool::slot(args_.control, i).task.load(std::memory_order_seq_cst);
      if (workers_[i].alive && task != 0 && table_.contains(task)) workers.emplace_back(i, workers_[i].process);
    }
  }
  // A busy worker is killed now (SIGKILL, not Python's SIGTERM: a task may
  // catch or block SIGTERM). An idle one is woken by the closed ring, claims
  // nothing more and exits by itself — giving its counts on the shared
  // blocks back, which a killed process cannot. The supervisor kills what
  // is left after a second.
  for (auto& [index, p] : workers) p.kill();
  wake_supervisor();
}

bool ProcessPoolCore::join(Deadline deadline) {
  {
    std::unique_lock lock(mu_);
    auto done = [&] { return finished_; };
    if (!deadline.is_never()) {
      if (!workers_changed_.wait_for(lock, deadline.remaining(), done)) return false;
    } else {
      workers_changed_.wait(lock, done);
    }
    if (threads_joined_) return true;
    threads_joined_ = true;
  }
  supervisor_.join();
  result_thread_.join();
  return true;
}

bool ProcessPoolCore::closed() const {
  std::lock_guard lock(mu_);
  return state_ != State::Running;
}

std::string ProcessPoolCore::broken() const {
  std::lock_guard lock(mu_);
  return broken_;
}

std::exception_ptr ProcessPoolCore::broken_error() const { return std::make_exception_ptr(BrokenProcessPool(broken_)); }

std::vector<Process> ProcessPoolCore::workers() const {
  std::lock_guard lock(mu_);
  std::vector<Process> out;
  for (const auto& w : workers_) {
    if (w.alive) out.push_back(w.process);
  }
  return out;
}

std::size_t ProcessPoolCore::outstanding() const {
  std::lock_guard lock(mu_);
  return table_.size() + pending_.size();
}

}  // namespace mpx::detail
