// The parent side of a process pool: submitting and feeding tasks, the
// result thread (detail/process_pool.hpp has the diagram; the supervisor is
// pool_supervisor.cpp).
#include "mpx/detail/process_pool.hpp"

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

#include "mpx/context.hpp"
#include "mpx/detail/future_core.hpp"
#include "mpx/detail/remote_exception.hpp"
#include "mpx/errors.hpp"
#include "pool/pool_control.hpp"

namespace mpx::detail {

namespace {

using pool::ResultHeader;

std::string describe_exit(int exitcode) {
  if (exitcode < 0) {
    const char* abbrev = ::sigabbrev_np(-exitcode);
    return "was killed by SIG" + std::string(abbrev ? abbrev : "?") + " (exit code " + std::to_string(exitcode) + ")";
  }
  return "exited with code " + std::to_string(exitcode);
}

// A task's exception, as sent by its worker (or the error decoding it).
std::exception_ptr decode_remote(std::span<const std::byte> payload) {
  try {
    return rebuild(decode<RemoteException>(payload));
  } catch (...) {
    return std::current_exception();
  }
}

// An error's message, for a BrokenProcessPool that names its cause.
std::string what_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

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

namespace {
// The pool whose results this thread reads now (the result thread, or a
// helper): a wait from inside (a callback) must not try to help again, nor
// wait for a worker to start (the supervisor may be waiting for it to read).
thread_local const ProcessPoolCore* t_reading = nullptr;
}  // namespace

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
// How much work the widened window lets wait in the ring, at the rate calls
// have been completing.
constexpr std::int64_t kQueuedWorkNs = 200'000;
}  // namespace

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
  if (window_ > config_.max_in_flight && pool::steady_ns() - last_completion_ns_ > kQueuedWorkNs)
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

// ---- the result thread ------------------------------------------------------

namespace {
// How long the result thread leaves unread results to a helper that may come.
constexpr auto kPark = std::chrono::milliseconds(1);
}  // namespace

void ProcessPoolCore::wake_result_thread_locked() noexcept {
  if (parked_) park_cv_.notify_one();
}

void ProcessPoolCore::ResultBatch::add(std::span<const std::byte> message) {
  if (message.size() < sizeof(ResultHeader)) {
    std::fprintf(stderr, "mpx pool: dropped a result of %zu bytes\n", message.size());
    return;
  }
  ends.push_back(bytes.size() + message.size());
  bytes.insert(bytes.end(), message.begin(), message.end());
}

std::span<const std::byte> ProcessPoolCore::ResultBatch::operator[](std::size_t i) const {
  const std::size_t begin = i == 0 ? 0 : ends[i - 1];
  return std::span<const std::byte>(bytes).subspan(begin, ends[i] - begin);
}

// The messages waiting (at least one, at most kResultBatch) into `batch`;
// false if the deadline passed or `abort` was set first.
bool ProcessPoolCore::read_results(ResultBatch& batch, Deadline deadline, const std::atomic<std::uint32_t>* abort) {
  constexpr std::size_t kResultBatch = 64;
  auto add = [](void* ctx, std::span<const std::byte> bytes) { static_cast<ResultBatch*>(ctx)->add(bytes); };
  batch.clear();
  while (batch.size() == 0) {
    try {
      if (!args_.results.get_many(deadline, add, &batch, kResultBatch, abort)) return false;
    } catch (const DecodeError& e) {
      std::fprintf(stderr, "mpx pool: dropped a malformed result: %s\n", e.what());
    }
  }
  return true;
}

// Whether the parked result thread should take the ring: results only it
// handles are due, or (after a whole park period) results nobody else reads.
bool ProcessPoolCore::result_thread_needed_locked(bool timed_out, std::uint64_t helps_before) const {
  if (reader_ != Reader::None) return false;
  if (loud_out_ > 0 || notices_ > 0) return true;
  // A period without helpers: back to reading, as if none had ever come.
  return timed_out ? !table_.empty() || helps_ == helps_before : !table_.empty();
}

void ProcessPoolCore::result_loop() {
  t_reading = this;
  ResultBatch batch;
  std::unique_lock lock(mu_);
  for (;;) {
    if (reader_ != Reader::Thread) {
      if (reader_ == Reader::None && (loud_out_ > 0 || notices_ > 0)) {
        reader_ = Reader::Thread;
        continue;
      }
      const std::uint64_t helps_before = helps_;
      parked_ = true;
      const bool timed_out = park_cv_.wait_for(lock, kPark) == std::cv_status::timeout;
      parked_ = false;
      if (result_thread_needed_locked(timed_out, helps_before)) reader_ = Reader::Thread;
      continue;
    }
    if (handoff_.size() != 0) {
      batch.clear();
      std::swap(batch, handoff_);
    } else if (kick_.load(std::memory_order_seq_cst) != 0) {
      kick_.store(0, std::memory_order_relaxed);
      reader_ = Reader::None;
      reader_cv_.notify_all();
      continue;
    } else {
      lock.unlock();
      const bool got = read_results(batch, Deadline::never(), &kick_);
      lock.lock();
      if (!got) continue;
    }
    if (!handle_results_locked(batch, lock)) break;
  }
  lock.unlock();
  std::exception_ptr why;
  {
    std::lock_guard guard(mu_);
    why = terminated_why_    ? terminated_why_
          : !broken_.empty() ? broken_error()
                             : std::make_exception_ptr(ProcessError("the pool's workers have ended"));
  }
  fail_everything(why);
  {
    std::lock_guard guard(mu_);
    finished_ = true;
  }
  workers_changed_.notify_all();
}

// The result thread's messages, in ring order. A run of results is taken
// out of the table under one hold of the lock and completed after it is
// let go. False once the end (kStop) is read.
bool ProcessPoolCore::handle_results_locked(const ResultBatch& batch, std::unique_lock<std::mutex>& lock) {
  std::vector<Completing>& done = completing_;  // only the result thread uses it
  std::size_t i = 0;
  while (i < batch.size()) {
    done.clear();
    for (; i < batch.size(); ++i) {
      ResultHeader h;
      std::memcpy(&h, batch[i].data(), sizeof h);
      if (h.kind != pool::kReturned && h.kind != pool::kRaised) break;
      if (auto e = take_locked(h.id, lock)) done.push_back({std::move(e), h.kind, batch[i].subspan(sizeof h)});
    }
    if (!done.empty()) {
      lock.unlock();
      for (auto& d : done) {
        if (d.kind == pool::kReturned) {
          d.entry->job->chunk_done(d.entry->index, d.payload);
        } else {
          d.entry->job->chunk_failed(d.entry->index, decode_remote(d.payload));
        }
      }
      done.clear();  // the entries go before the lock is taken again
      lock.lock();
    }
    if (i == batch.size()) break;
    std::span<const std::byte> message = batch[i++];
    ResultHeader h;
    std::memcpy(&h, message.data(), sizeof h);
    if (h.kind == pool::kDied || h.kind == pool::kStop) --notices_;
    if (h.kind == pool::kStop) {
      stopped_ = true;
      reader_cv_.notify_all();
      return false;
    }
    lock.unlock();
    handle_result(message);
    lock.lock();
  }
  return true;
}

void HelpGate::help(const FutureCore& f, Deadline deadline) {
  std::unique_lock lock(mu, std::try_to_lock);
  if (!lock) {
    // It waits as usual: the helper, when it leaves, wakes the result thread for it.
    turned_away.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (core) core->help(f, deadline);
}

// Takes the reader's role for this thread (a helper): asks the result
// thread to step out between two messages, and waits until it has. False
// if it cannot (the result thread came back in for results only it
// handles, the end was read, or the deadline passed).
bool ProcessPoolCore::become_helper_locked(std::unique_lock<std::mutex>& lock, Deadline deadline) {
  if (reader_ == Reader::Thread && !stopped_) {
    kick_.store(1, std::memory_order_seq_cst);
    args_.results.interrupt_consumers();
    auto out = [&] { return reader_ != Reader::Thread || stopped_ || kick_.load() == 0; };
    if (deadline.is_never()) {
      reader_cv_.wait(lock, out);
    } else if (!reader_cv_.wait_for(lock, deadline.remaining(), out)) {
      return false;
    }
  }
  if (stopped_ || reader_ != Reader::None) return false;
  reader_ = Reader::Helper;
  ++helps_;
  gate_->turned_away.store(0, std::memory_order_relaxed);
  return true;
}

// A helper gives the role up (not handed over): the rest is the result
// thread's if it has work only it does, or others wait meanwhile; else a
// quiet period of kPark (the helper may well be back before).
void ProcessPoolCore::leave_helper_locked() noexcept {
  reader_ = Reader::None;
  if (loud_out_ > 0 || notices_ > 0 || (!table_.empty() && gate_->turned_away.load(std::memory_order_relaxed) != 0))
    wake_result_thread_locked();
}

void ProcessPoolCore::help(const FutureCore& f, Deadline deadline) {
  if (f.done() || t_reading != nullptr) return;
  {
    std::unique_lock lock(mu_);
    if (f.done() || !become_helper_locked(lock, deadline)) return;
  }
  t_reading = this;
  bool handed_over = false;
  try {
    // Not thread_local: a wait from an atexit function comes after those are gone.
    ResultBatch batch;
    while (!f.done() && read_results(batch, deadline, nullptr)) {
      std::unique_lock lock(mu_);
      if (!help_with_locked(batch, lock)) {
        handed_over = true;
        break;
      }
    }
  } catch (...) {  // no memory for a message: the result thread reads on
  }
  t_reading = nullptr;
  if (handed_over) return;
  std::lock_guard lock(mu_);
  leave_helper_locked();
}

// submit_batch's feeding caller, while it waits for room: reads the
// results itself (a helper) and feeds as they free room, until at most
// `keep` tasks are pending. One thread then does the parent's whole share
// of a map; with the result thread in between, the two handed the pool's
// lock back and forth for every batch of results. False if it could not
// read (another thread does) or handed the role over.
bool ProcessPoolCore::read_while_feeding(std::unique_lock<std::mutex>& lock, std::size_t keep) {
  std::unique_lock gate(gate_->mu, std::try_to_lock);
  if (!gate || !become_helper_locked(lock, Deadline::never())) return false;
  t_reading = this;
  bool handed_over = false;
  try {
    ResultBatch batch;
    for (;;) {
      // The result thread may have taken every result while this one waited
      // for the role: feed before reading, and read only what is in flight.
      feed_locked(lock);
      if (pending_.size() <= keep || in_flight_ == 0 || state_ == State::Terminated || !broken_.empty()) break;
      lock.unlock();
      read_results(batch, Deadline::never(), nullptr);  // in flight: results, or deaths and the end, will come
      lock.lock();
      if (!help_with_locked(batch, lock)) {
        handed_over = true;
        break;
      }
    }
  } catch (...) {
    if (!lock) lock.lock();
  }
  t_reading = nullptr;
  if (!handed_over) leave_helper_locked();
  return !handed_over;
}

// A helper's batch, in ring order: the outcomes of calls whose completion
// runs nothing of the user's (or of ones nobody waits for any more) are
// completed here; the first message that is not such an outcome goes with
// the rest of the batch and the reader's role to the result thread
// (false). The jobs are completed before their entries leave the table:
// only the reader touches the entries. Called and returns with `lock`.
bool ProcessPoolCore::help_with_locked(const ResultBatch& batch, std::unique_lock<std::mutex>& lock) {
  // One helper at a time (the gate): its buffers can be members.
  std::vector<HelperCall>& calls = helper_calls_;
  calls.clear();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    ResultHeader h;
    std::memcpy(&h, batch[i].data(), sizeof h);
    if (h.kind != pool::kReturned && h.kind != pool::kRaised) break;
    const Entry* e = table_.find(h.id);
    calls.push_back({e ? e->job.get() : nullptr, e ? e->index : 0, h.id});
  }
  lock.unlock();
  std::size_t done = 0;
  for (; done < calls.size(); ++done) {
    const HelperCall& c = calls[done];
    if (!c.job) continue;  // its entry is gone: nobody waits for it
    ResultHeader h;
    std::memcpy(&h, batch[done].data(), sizeof h);
    auto payload = batch[done].subspan(sizeof h);
    const bool quiet = h.kind == pool::kReturned ? c.job->chunk_done_quietly(c.index, payload)
                                                 : c.job->chunk_failed_quietly(c.index, decode_remote(payload));
    if (!quiet) break;
  }
  std::vector<std::optional<Entry>>& taken = helper_taken_;  // destroyed after the lock is let go
  lock.lock();
  for (std::size_t k = 0; k < done; ++k) {
    if (calls[k].job) taken.push_back(take_locked(calls[k].id, lock));
  }
  if (done < batch.size()) {
    handoff_.clear();
    for (std::size_t k = done; k < batch.size(); ++k) handoff_.add(batch[k]);
    reader_ = Reader::Thread;
    wake_result_thread_locked();
  }
  lock.unlock();
  taken.clear();
  calls.clear();
  lock.lock();
  return done == batch.size();
}

// An executor's window is Python's: the max_workers calls running and
// max_workers + 1 queued (the rest stay cancellable). With calls that take
// microseconds that window drains before the next is fed: every worker
// sleeps and is woken for each call. So while calls complete quickly the
// window widens to about kQueuedWorkNs of them (at most quick_in_flight);
// calls of a millisecond or more keep it at Python's size. Either way a
// call in the ring has been marked running, as in Python's call queue.
void ProcessPoolCore::adapt_window_locked() {
  const std::int64_t now = pool::steady_ns();
  const std::int64_t gap = now - last_completion_ns_;
  last_completion_ns_ = now;
  completion_gap_ns_ += (gap - completion_gap_ns_) / 8;
  const auto quick = static_cast<std::size_t>(kQueuedWorkNs / std::max<std::int64_t>(completion_gap_ns_, 1));
  window_ = std::clamp(quick, config_.max_in_flight, config_.quick_in_flight);
}

std::optional<ProcessPoolCore::Entry> ProcessPoolCore::take_locked(std::uint64_t id,
                                                                   std::unique_lock<std::mutex>& lock) {
  std::optional<Entry> taken = table_.take(id);
  if (!taken) return taken;
  --in_flight_;
  if (config_.start_on_demand) ++idle_;  // Python: _idle_worker_semaphore.release()
  if (config_.quick_in_flight > config_.max_in_flight) adapt_window_locked();
  if (taken->loud) --loud_out_;
  // Refilled every quarter window of completions (at most kRefill): a
  // refill per completion would put one task at a time into a ring the
  // workers have emptied, and wake one of them for each.
  constexpr std::size_t kRefill = 64;
  if (in_flight_ == 0 || ++completions_since_feed_ >= std::clamp<std::size_t>(window_ / 4, 1, kRefill)) {
    completions_since_feed_ = 0;
    if (feeders_ > 0) {
      feeder_cv_.notify_one();  // a map's caller feeds (submit_batch)
    } else {
      feed_locked(lock);
    }
  }
  return taken;
}

void ProcessPoolCore::handle_result(std::span<const std::byte> message) {
  ResultHeader h;
  std::memcpy(&h, message.data(), sizeof h);
  auto payload = message.subspan(sizeof h);
  auto take = [&](std::uint64_t id) -> std::optional<Entry> {
    std::unique_lock lock(mu_);
    return take_locked(id, lock);
  };
  auto decode_exception = [&] { return decode_remote(payload); };
  switch (h.kind) {
    case pool::kReturned:
      if (auto e = take(h.id)) e->job->chunk_done(e->index, payload);
      break;
    case pool::kRaised:
      if (auto e = take(h.id)) e->job->chunk_failed(e->index, decode_exception());
      break;
    case pool::kDied: {
      std::exception_ptr broken;
      std::exception_ptr terminated;
      {
        std::lock_guard lock(mu_);
        terminated = terminated_why_;
        if (!terminated && !h.clean && !config_.replace_dead_workers && broken_.empty()) {
          broken_ = config_.broken_message;
        }
        if (!broken_.empty()) broken = broken_error();
      }
      if (h.id != 0) {
        if (auto e = take(h.id)) {
          std::exception_ptr why;
          if (terminated) {
            why = terminated;
          } else if (broken) {
            why = broken;
          } else if (h.timed_out) {
            why = std::make_exception_ptr(TimeoutError("the task overran its timeout; its worker was killed"));
          } else {
            why = std::make_exception_ptr(
                WorkerLost("the worker running this task " + describe_exit(h.exitcode), h.exitcode));
          }
          e->job->chunk_failed(e->index, why);
        }
      }
      if (broken && !terminated) {
        // ProcessPoolExecutor: one abrupt death fails everything (Python's BrokenProcessPool).
        terminate(broken);
        fail_everything(broken);
      }
      break;
    }
    case pool::kInitFailed: {
      const std::string what = what_of(decode_exception());
      std::exception_ptr broken;
      {
        std::lock_guard lock(mu_);
        if (broken_.empty()) broken_ = "A process in the pool failed in its initializer: " + what;
        broken = broken_error();
      }
      terminate(broken);
      fail_everything(broken);
      break;
    }
    default:
      std::fprintf(stderr, "mpx pool: dropped a result of unknown kind %u\n", h.kind);
  }
}

void ProcessPoolCore::fail_everything(const std::exception_ptr& why) {
  IdTable<Entry> table;
  std::deque<Pending> pending;
  {
    std::lock_guard lock(mu_);
    table.swap(table_);
    pending.swap(pending_);
    feeder_cv_.notify_all();
    in_flight_ = 0;
    loud_out_ = 0;
  }
  table.drain([&](std::uint64_t, Entry& e) { e.job->chunk_failed(e.index, why); });
  for (auto& p : pending) {
    if (p.job->chunk_starting(p.index)) p.job->chunk_failed(p.index, why);
  }
}

}  // namespace mpx::detail
