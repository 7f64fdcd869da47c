// mpx/detail/process_pool.hpp — the engine under mpx::Pool and
// futures::ProcessPoolExecutor: worker processes fed through shared-memory
// rings, a result thread, and a supervisor that turns a dead worker into a
// failed task instead of a hang.
//
//   parent                                                 worker processes
//   ──────                                                 ────────────────
//   submit ─► pending (parent memory, cancellable)
//      └─ feed ─► task ring (MessageRing) ───────────────► get; claim: slot[w] = id
//                                                          run; put result; slot[w] = 0
//   result thread ◄────────────── result ring ◄────────────┘
//      completes jobs (callbacks run here), feeds more tasks
//   supervisor thread: poll(worker sentinels) ─ a death ─► put WorkerDied into
//      the result ring, start a replacement
//
// Who writes which shared word:
//   - slot[w].task: worker w, while it holds the task ring's consumer lock
//     (inside get()'s sink, before the record is consumed), and 0 once its
//     result is put. slot[w].deadline: worker w, with the task.
//   - last_taken: the highest task id claimed (CAS-max by workers under the
//     consumer lock, and by the supervisor for a dead worker's task).
//
// What kill -9 of a worker costs: only its task. Task ids rise in ring order
// (the parent puts under one mutex), so a message the next consumer sees
// again after a death (its record was claimed but not yet consumed) has an
// id ≤ last_taken or sits in some worker's slot, and is skipped: a task is
// never run twice and never lost. The supervisor learns of the death from the
// worker's pidfd, after every complete result the worker put, so the
// WorkerDied message it puts lands behind them in the ring: the result
// thread knows, when it reads it, whether the slot's task had finished.
//
// Who reads the result ring (one reader at a time, `reader_`): the result
// thread, or a helper: a thread waiting in AsyncResult::get() for a quiet
// call (no callbacks: nothing of the user's runs on completion), or the
// caller of map() while it feeds the ring and while it waits. A helper
// takes the results itself — its own come one wake-up sooner, a map's
// parent side is one thread, and the result thread stays asleep. A helper
// completes only quiet calls: the first message it may not handle (a
// result with callbacks, a death, the end) it hands over, with the rest of
// the batch it read and the reader's role, to the result thread, so
// messages are still handled in ring order. While nobody helps, the result
// thread reads; a helper arriving then asks it to step out (`kick_`).
// Quiet calls nobody waits for are collected by the result thread within a
// park period. Results are read up to 64 per hold of the ring's lock and
// found in an IdTable (ids rise in ring order).
//
// Per-task timeouts: the worker arms a POSIX timer that delivers SIGKILL at
// the task's deadline (two syscalls per timed task, none otherwise); the
// supervisor sees a death past the slot's deadline and reports TimeoutError.
// A task that blocks every signal cannot stop SIGKILL.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "mpx/detail/fd.hpp"
#include "mpx/detail/id_table.hpp"
#include "mpx/detail/message_ring.hpp"
#include "mpx/detail/shipping.hpp"
#include "mpx/detail/transfer.hpp"
#include "mpx/errors.hpp"
#include "mpx/process.hpp"

namespace mpx::detail {

/// One submission: a single call (apply_async, submit) or a map's chunks.
/// Its methods run on the result thread (or, for a pool that is
/// terminated, on the terminating thread) and must not throw.
class PoolJob {
 public:
  virtual ~PoolJob() = default;
  /// Chunk `index` returned; `bytes` hold its encoded result (valid during the call).
  virtual void chunk_done(std::size_t index, std::span<const std::byte> bytes) noexcept = 0;
  /// Chunk `index` raised, its worker died, or the pool ended first.
  virtual void chunk_failed(std::size_t index, std::exception_ptr error) noexcept = 0;
  /// The chunk is about to leave for a worker: false drops it (a cancelled
  /// future of ProcessPoolExecutor, which Python notifies at this point).
  virtual bool chunk_starting(std::size_t) noexcept { return true; }
  /// The chunk was still pending at shutdown(cancel_futures=true).
  virtual void chunk_cancelled(std::size_t index) noexcept {
    chunk_failed(index, std::make_exception_ptr(CancelledError("")));
  }
  /// Completing it would run nothing of the user's (no callback): a hint
  /// that a waiting thread may complete it (the result thread need not wake).
  virtual bool quiet() const noexcept { return false; }
  /// chunk_done / chunk_failed from a thread waiting for the job
  /// (ProcessPoolCore::help): false, doing nothing, if that would run
  /// anything of the user's (callbacks run on the result thread).
  virtual bool chunk_done_quietly(std::size_t, std::span<const std::byte>) noexcept { return false; }
  virtual bool chunk_failed_quietly(std::size_t, const std::exception_ptr&) noexcept { return false; }
};

class FutureCore;
class ProcessPoolCore;

/// What an AsyncResult keeps to help its pool read results while it waits
/// (ProcessPoolCore::help); the pool is gone once `core` is null.
struct HelpGate {
  std::mutex mu;  // held while helping: one helper at a time
  ProcessPoolCore* core = nullptr;
  std::atomic<std::uint32_t> turned_away{0};  // waiters that found mu taken
  /// Reads results until `f` is done or the deadline passes, if it can.
  void help(const FutureCore& f, Deadline deadline);
};

/// A task's wire header, first in every task message (the args follow).
struct TaskHeader {
  std::uint64_t id = 0;         // assigned when the task is put
  std::int64_t timeout_ns = 0;  // 0: none
  std::uint32_t indirect = 0;   // 1: the body is a SharedBlock, named by an IndirectBody
  std::uint32_t reserved = 0;
};

/// A large task's body lives in the arena, not in the ring: the parent's put
/// never waits for room mid-message (fragments would), and a worker killed
/// while it takes the task message loses no half-assembled task.
struct IndirectBody {
  std::uint64_t offset = 0;  // the SharedBlock, which the parent keeps until the task ends
  std::uint64_t size = 0;
};

/// The worker side's function type: runs `function` on the encoded `args`
/// and appends the encoded result to `out`. Instantiated per call signature
/// (pool.hpp), found again in the worker by its code offset.
using PoolTrampoline = void (*)(const void* function, std::span<const std::byte> args, std::vector<std::byte>& out);

/// Appends the encoded code identities of (trampoline, function) to `out`:
/// what follows the header in every task message. Cached per thread for the
/// last few pairs (a map() ships the same function thousands of times;
/// encoding its two object paths each time cost more than the call).
void append_code_prefix(std::vector<std::byte>& out, const void* trampoline, const void* function);

/// Encodes a task into `out` (its old bytes dropped, its capacity kept):
/// header, the two code identities, then the args from `encode_args`.
template <class EncodeArgs>
void encode_task_message(std::vector<std::byte>& out, const void* trampoline, const void* function,
                         std::chrono::nanoseconds timeout, EncodeArgs&& encode_args) {
  out.clear();
  out.reserve(sizeof(TaskHeader) + 192);
  TaskHeader h;
  h.timeout_ns = timeout.count() > 0 ? timeout.count() : 0;
  const auto* header = reinterpret_cast<const std::byte*>(&h);
  out.insert(out.end(), header, header + sizeof h);
  append_code_prefix(out, trampoline, function);
  SpanOut ar(out);
  encode_args(ar);
}
template <class EncodeArgs>
std::vector<std::byte> make_task_message(const void* trampoline, const void* function, std::chrono::nanoseconds timeout,
                                         EncodeArgs&& encode_args) {
  std::vector<std::byte> out;
  encode_task_message(out, trampoline, function, timeout, std::forward<EncodeArgs>(encode_args));
  return out;
}

struct ProcessPoolConfig {
  int processes = 1;
  std::string start_method;                       // "": the default start method
  std::function<void()> initializer;              // run first in every forked worker
  std::function<ShippedCall()> ship_initializer;  // the same, packed for a spawned one
  long maxtasksperchild = 0;                      // 0: a worker lives as long as the pool
  /// Tasks in the ring or running; more wait in the parent. A few
  /// milliseconds of trivial tasks: enough that no worker waits for the
  /// next, few enough that the ring's records stay in cache (a window of
  /// 65536 map tasks, 12 MiB of records, ran 10% slower).
  std::size_t max_in_flight = 1 << 12;
  /// Above max_in_flight, up to this many while calls complete quickly:
  /// the ring then holds about kQueuedWork of them (adapt_window).
  std::size_t quick_in_flight = 0;
  bool replace_dead_workers = true;  // false: a death breaks the pool (BrokenProcessPool)
  std::string broken_message;        // what a broken pool's tasks fail with
  std::size_t ring_bytes = 4u << 20;
  /// Task messages larger than this travel indirectly (IndirectBody).
  std::size_t inline_limit = 64u << 10;
  /// Submitting after close(): RuntimeError(this) if set (executors), else
  /// Python Pool's ValueError("Pool not running").
  std::string closed_runtime_error;
  /// Workers start one at a time as submits find none idle (Python's
  /// ProcessPoolExecutor for spawn and forkserver, bpo-39207), instead of
  /// all with the pool.
  bool start_on_demand = false;
};

/// What a worker process is started with (travels under spawn and forkserver).
struct PoolWorkerArgs {
  MessageRing tasks{RingOptions{.ring_bytes = 4096}};
  MessageRing results{RingOptions{.ring_bytes = 4096}};
  std::shared_ptr<SharedBlock> control;
  std::uint32_t index = 0;
  std::uint32_t slots = 0;
  std::function<void()> initializer;               // fork: run in place
  std::function<ShippedCall()> ship_initializer;   // spawn: packed by save() ...
  std::optional<ShippedCall> shipped_initializer;  // ... and found here by load()
  std::int64_t maxtasks = 0;

  template <class Archive>
  void save(Archive& ar) const {
    Transfer* t = Transfer::current();
    if (!t || t->side() != Transfer::Side::Parent) throw_not_inheritable("Pool worker");
    tasks.save(ar);
    results.save(ar);
    std::optional<ShippedCall> init;
    if (ship_initializer) init = ship_initializer();
    ar(t->send_block(control), index, slots, init, maxtasks);
  }
  template <class Archive>
  void load(Archive& ar) {
    Transfer* t = Transfer::current();
    if (!t || t->side() != Transfer::Side::Child) throw_not_inheritable("Pool worker");
    tasks.load(ar);
    results.load(ar);
    std::uint64_t offset = 0;
    ar(offset, index, slots, shipped_initializer, maxtasks);
    control = t->receive_block(offset);
  }
};

/// The worker process's main loop.
void pool_worker_main(PoolWorkerArgs args);

class ProcessPoolCore {
 public:
  /// Starts the workers and the two threads.
  /// Throws: ValueError if processes < 1; what starting a worker throws.
  explicit ProcessPoolCore(ProcessPoolConfig config);
  /// terminate(), then joins the threads.
  ~ProcessPoolCore();
  ProcessPoolCore(const ProcessPoolCore&) = delete;
  ProcessPoolCore& operator=(const ProcessPoolCore&) = delete;

  /// Queues chunk `index` of `job`. `message` comes from make_task_message.
  /// Throws: ValueError("Pool not running") after close()/terminate();
  ///   the broken message (BrokenProcessPool) once broken.
  /// `continuation`: more of an imap already under way, taken after close().
  void submit(const std::shared_ptr<PoolJob>& job, std::size_t index, std::vector<std::byte> message,
              bool continuation = false);
  /// submit() of chunks first_index, first_index + 1... of `job`, under
  /// one lock (the messages are moved from). `feed_here`: this thread then
  /// feeds the ring itself until at most about a batch is left waiting
  /// (Python's task handler thread, played by a caller that waits anyway).
  void submit_batch(const std::shared_ptr<PoolJob>& job, std::size_t first_index,
                    std::vector<std::vector<std::byte>>& messages, bool feed_here = false);
  /// Resizes `buffers` to `n`, with buffers the feed has sent (their
  /// capacity kept) where it has some: a map of small tasks then encodes
  /// into the same few hundred buffers instead of allocating one per task.
  void take_spare_buffers(std::vector<std::vector<std::byte>>& buffers, std::size_t n);
  /// An imap reading its input lazily begins / ends: the task ring stays
  /// open after close() until the last one ends.
  void open_feed();
  void close_feed() noexcept;

  /// No more submits; the workers exit once the queued tasks are done.
  void close();
  /// The tasks not yet handed to a worker are dropped (chunk_cancelled).
  void cancel_pending();
  /// Stops the workers now: the busy ones are killed (SIGKILL), the idle
  /// ones exit; queued and running tasks fail with `why` (default:
  /// ProcessError("the pool was terminated")).
  void terminate(std::exception_ptr why = nullptr);
  /// After close() or terminate(): waits for the workers and the threads.
  bool join(Deadline deadline);

  bool closed() const;
  /// Python's _broken / BrokenProcessPool: the reason, or "" if not broken.
  std::string broken() const;
  /// Live worker processes (for tests: pids, kill -9).
  std::vector<Process> workers() const;
  int processes() const noexcept { return config_.processes; }
  /// Tasks queued or running.
  std::size_t outstanding() const;

  /// Called by a thread about to wait for `f`, a quiet call's future: reads
  /// the result ring itself until `f` is done (or the deadline passes, or it
  /// meets a message only the result thread handles). Returns at once if
  /// another thread reads. The caller then waits on `f` as usual.
  void help(const FutureCore& f, Deadline deadline);
  const std::shared_ptr<HelpGate>& help_gate() const noexcept { return gate_; }

 private:
  struct Entry {
    std::shared_ptr<PoolJob> job;
    std::size_t index;
    std::shared_ptr<SharedBlock> body;  // an indirect task's body, kept until it ends
    bool loud = true;                   // counted in loud_out_
  };
  enum class Reader { None, Thread, Helper };
  struct Worker {
    Process process;
    bool alive = false;
    bool starting = false;  // on demand: a submit asked the supervisor to start it
  };

  void start_worker(std::uint32_t index);  // supervisor thread only: PR_SET_PDEATHSIG follows it
  void start_requested_workers();          // supervisor thread: the slots submits marked `starting`
  void adjust_process_count(std::unique_lock<std::mutex>& lock);
  void feed_locked(std::unique_lock<std::mutex>& lock);
  void adapt_window_locked();
  /// A message larger than inline_limit moves into a block of the arena.
  std::shared_ptr<SharedBlock> move_large_body(std::vector<std::byte>& message) const;
  /// Throws what submit throws when the pool takes no more.
  void check_accepting_locked(bool continuation) const;
  bool put_locked(std::uint64_t id, std::vector<std::byte>& message);
  void result_loop();
  void supervisor_loop();
  void handle_notice(std::span<const std::byte> message);
  std::optional<Entry> take_locked(std::uint64_t id, std::unique_lock<std::mutex>& lock);
  /// Messages read together by the result thread (MessageRing::get_many).
  struct ResultBatch {
    std::vector<std::byte> bytes;
    std::vector<std::size_t> ends;  // where each message ends in `bytes`
    void add(std::span<const std::byte> message);
    void clear() noexcept {
      bytes.clear();
      ends.clear();
    }
    std::size_t size() const noexcept { return ends.size(); }
    std::span<const std::byte> operator[](std::size_t i) const;
  };
  bool read_results(ResultBatch& batch, Deadline deadline, const std::atomic<std::uint32_t>* abort);
  bool handle_results_locked(const ResultBatch& batch, std::unique_lock<std::mutex>& lock);
  bool become_helper_locked(std::unique_lock<std::mutex>& lock, Deadline deadline);
  void leave_helper_locked() noexcept;
  bool help_with_locked(const ResultBatch& batch, std::unique_lock<std::mutex>& lock);
  bool read_while_feeding(std::unique_lock<std::mutex>& lock, std::size_t keep);
  template <class Enough>
  bool read_as_helper(std::unique_lock<std::mutex>& lock, Deadline deadline, Enough enough);
  bool result_thread_needed_locked(bool timed_out, std::uint64_t helps_before) const;
  void wake_result_thread_locked() noexcept;
  void handle_death(std::uint32_t index, std::optional<int> exitcode);
  void fail_everything(const std::exception_ptr& why);
  void wake_supervisor() noexcept;
  std::exception_ptr broken_error() const;

  ProcessPoolConfig config_;
  PoolWorkerArgs args_;  // what each worker gets (its index filled in)

  mutable std::mutex mu_;  // guards everything below
  IdTable<Entry> table_;   // sent, not yet completed
  struct Pending {
    std::shared_ptr<PoolJob> job;
    std::size_t index;
    std::vector<std::byte> message;
    std::shared_ptr<SharedBlock> body;
  };
  std::deque<Pending> pending_;                 // not yet sent
  std::vector<std::vector<std::byte>> spares_;  // sent messages' buffers, for take_spare_buffers
  std::uint64_t next_id_ = 1;
  std::size_t in_flight_ = 0;
  int feeders_ = 0;                         // submit_batch callers waiting to feed
  std::size_t completions_since_feed_ = 0;  // take_locked refills every so many
  std::condition_variable feeder_cv_;       // room for them
  std::size_t window_ = 0;                  // in flight allowed now: max_in_flight, more while calls are quick
  std::int64_t last_completion_ns_ = 0;     // adapt_window's clock
  std::int64_t completion_gap_ns_ = 0;      // its moving average of the time between completions
  int feeds_ = 0;
  enum class State { Running, Closed, Terminated } state_ = State::Running;
  std::string broken_;
  std::vector<Worker> workers_;
  std::condition_variable workers_changed_;

  Fd wake_;  // eventfd: wakes the supervisor
  std::exception_ptr terminated_why_;
  Deadline terminate_deadline_ = Deadline::never();  // then the supervisor kills the stragglers
  std::exception_ptr start_error_;                   // the constructor's: starting the first workers failed
  std::exception_ptr demand_error_;                  // on demand: the last start that failed
  std::size_t idle_ = 0;                             // on demand: Python's _idle_worker_semaphore
  bool started_ = false;
  bool finished_ = false;  // the result thread has ended
  std::thread supervisor_;
  std::thread result_thread_;
  bool threads_joined_ = false;

  // The result ring's reader (the file comment), all under mu_.
  Reader reader_ = Reader::Thread;
  ResultBatch handoff_;                 // the messages a helper handed over with the role
  std::atomic<std::uint32_t> kick_{0};  // a helper asks the reading result thread to step out
  std::condition_variable reader_cv_;   // the result thread stepped out
  std::condition_variable park_cv_;     // wakes the parked result thread
  bool parked_ = false;                 // the result thread waits on park_cv_
  bool stopped_ = false;                // the result thread has read kStop: nobody reads any more
  std::uint64_t helps_ = 0;             // helpers so far
  std::size_t loud_out_ = 0;            // tasks in table_ whose job is not quiet
  std::size_t notices_ = 0;             // supervisor messages put or about to be, not yet handled
  std::shared_ptr<HelpGate> gate_ = std::make_shared<HelpGate>();
  // The result thread's: results taken out of the table, to complete.
  struct Completing {
    std::optional<Entry> entry;
    std::uint32_t kind;
    std::span<const std::byte> payload;
  };
  std::vector<Completing> completing_;
  // The helper's (help_with_locked): the calls of a batch, by plain pointer
  // to their jobs (their entries, which keep the jobs alive, stay in the
  // table until the helper takes them), and the entries it took.
  struct HelperCall {
    PoolJob* job;
    std::size_t index;
    std::uint64_t id;
  };
  std::vector<HelperCall> helper_calls_;
  std::vector<std::optional<Entry>> helper_taken_;
};

}  // namespace mpx::detail
