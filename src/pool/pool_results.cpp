// The reading side of a process pool: the result thread, the helpers
// (threads that read the results they wait for), and completing tasks
// (detail/process_pool.hpp has the diagram and who reads when).
#include <string.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "mpx/detail/future_core.hpp"
#include "mpx/detail/process_pool.hpp"
#include "mpx/detail/remote_exception.hpp"
#include "mpx/errors.hpp"
#include "pool/pool_control.hpp"

namespace mpx::detail {

using pool::ResultHeader;
using pool::t_reading;
using pool::what_of;

namespace {

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
    handle_notice(message);
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

// A helper (the role taken) reads results until `enough()` — asked with
// the lock held, before each read — says so, or the deadline passes; then
// it leaves the role. False if it handed the role over instead (a message
// it may not handle). Called and returns with `lock`.
template <class Enough>
bool ProcessPoolCore::read_as_helper(std::unique_lock<std::mutex>& lock, Deadline deadline, Enough enough) {
  t_reading = this;
  bool handed_over = false;
  try {
    // Not thread_local: a wait from an atexit function comes after those are gone.
    ResultBatch batch;
    while (!enough()) {
      lock.unlock();
      const bool got = read_results(batch, deadline, nullptr);
      lock.lock();
      if (!got) break;
      if (!help_with_locked(batch, lock)) {
        handed_over = true;
        break;
      }
    }
  } catch (...) {  // no memory for a message: the result thread reads on
    if (!lock) lock.lock();
  }
  t_reading = nullptr;
  if (!handed_over) leave_helper_locked();
  return !handed_over;
}

void ProcessPoolCore::help(const FutureCore& f, Deadline deadline) {
  if (f.done() || t_reading != nullptr) return;
  std::unique_lock lock(mu_);
  if (f.done() || !become_helper_locked(lock, deadline)) return;
  read_as_helper(lock, deadline, [&] { return f.done(); });
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
  return read_as_helper(lock, Deadline::never(), [&] {
    // The result thread may have taken every result while this one waited
    // for the role: feed before reading, and read only what is in flight
    // (results, or deaths and the end, will come).
    feed_locked(lock);
    return pending_.size() <= keep || in_flight_ == 0 || state_ == State::Terminated || !broken_.empty();
  });
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
  const auto quick = static_cast<std::size_t>(pool::kQueuedWorkNs / std::max<std::int64_t>(completion_gap_ns_, 1));
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

// A message that is not a task's outcome (handle_results_locked takes
// those): a death, or a worker's failed initializer.
void ProcessPoolCore::handle_notice(std::span<const std::byte> message) {
  ResultHeader h;
  std::memcpy(&h, message.data(), sizeof h);
  auto payload = message.subspan(sizeof h);
  auto take = [&](std::uint64_t id) -> std::optional<Entry> {
    std::unique_lock lock(mu_);
    return take_locked(id, lock);
  };
  auto decode_exception = [&] { return decode_remote(payload); };
  switch (h.kind) {
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
