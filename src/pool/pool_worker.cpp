// The worker process of a process pool (detail/process_pool.hpp): claim a
// task, run it under its deadline, put the result.
#include <signal.h>
#include <time.h>

#include <cstring>
#include <map>
#include <utility>

#include "mpx/detail/future_core.hpp"
#include "mpx/detail/process_pool.hpp"
#include "mpx/detail/remote_exception.hpp"
#include "mpx/errors.hpp"
#include "pool/pool_control.hpp"

namespace mpx::detail {

namespace {

using pool::ResultHeader;

// What the task ring's sink sees; it runs under the ring's consumer lock.
struct Claim {
  const PoolWorkerArgs* args;
  std::vector<std::byte>* message;
  bool claimed = false;
};

// Claims the task (see the header's diagram) and copies it out. A message
// whose id was claimed before — by a worker killed between its claim and the
// record's consumption — is skipped.
void claim_task(void* ctx, std::span<const std::byte> bytes) {
  auto& c = *static_cast<Claim*>(ctx);
  c.claimed = false;
  if (bytes.size() < sizeof(TaskHeader)) throw DecodeError("pool task shorter than its header");
  TaskHeader h;
  std::memcpy(&h, bytes.data(), sizeof h);
  const auto& control = c.args->control;
  auto& header = pool::header(control);
  if (h.id == 0 || h.id <= header.last_taken.load(std::memory_order_seq_cst)) return;
  if (header.terminating.load(std::memory_order_seq_cst)) return;
  for (std::uint32_t i = 0; i < c.args->slots; ++i) {
    if (pool::slot(control, i).task.load(std::memory_order_seq_cst) == h.id) return;
  }
  auto& mine = pool::slot(control, c.args->index);
  mine.deadline_ns.store(h.timeout_ns > 0 ? pool::steady_ns() + h.timeout_ns : 0, std::memory_order_relaxed);
  mine.task.store(h.id, std::memory_order_seq_cst);
  pool::raise_to(header.last_taken, h.id);
  c.message->assign(bytes.begin(), bytes.end());
  c.claimed = true;
}

// A POSIX timer that SIGKILLs this process: the per-task timeout.
class KillTimer {
 public:
  ~KillTimer() {
    if (made_) ::timer_delete(timer_);
  }
  void arm(std::int64_t ns) {
    if (!made_) {
      sigevent ev{};
      ev.sigev_notify = SIGEV_SIGNAL;
      ev.sigev_signo = SIGKILL;
      if (::timer_create(CLOCK_MONOTONIC, &ev, &timer_) != 0) throw_os_error("timer_create");
      made_ = true;
    }
    set(ns);
  }
  void disarm() {
    if (made_) set(0);
  }

 private:
  void set(std::int64_t ns) {
    itimerspec its{};
    its.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    its.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    if (ns > 0 && its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
    if (::timer_settime(timer_, 0, &its, nullptr) != 0) throw_os_error("timer_settime");
  }
  timer_t timer_{};
  bool made_ = false;
};

// Code identities seen before: the same map() ships one function many
// times. The last pair's encoded bytes are kept: a task that starts with the
// same bytes names the same code, without decoding two object paths again.
class CodeCache {
 public:
  struct Resolved {
    PoolTrampoline trampoline;
    const void* function;
    std::size_t prefix_bytes;  // where the task's arguments start
  };
  Resolved resolve(std::span<const std::byte> body) {
    if (!last_prefix_.empty() && body.size() >= last_prefix_.size() &&
        std::memcmp(body.data(), last_prefix_.data(), last_prefix_.size()) == 0) {
      return last_;
    }
    SpanIn ar(body.data(), body.size());
    CodeRef trampoline_ref, function_ref;
    ar(trampoline_ref, function_ref);
    Resolved r{reinterpret_cast<PoolTrampoline>(const_cast<void*>(find(trampoline_ref))), find(function_ref),
               body.size() - ar.left()};
    last_prefix_.assign(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(r.prefix_bytes));
    last_ = r;
    return r;
  }

 private:
  const void* find(const CodeRef& ref) {
    auto key = std::make_pair(ref.object, ref.offset);
    auto it = cache_.find(key);
    if (it == cache_.end()) it = cache_.emplace(std::move(key), code_address(ref)).first;
    return it->second;
  }
  std::map<std::pair<std::string, std::uint64_t>, const void*> cache_;
  std::vector<std::byte> last_prefix_;
  Resolved last_{};
};

void put_result(MessageRing& results, std::vector<std::byte>& out, const ResultHeader& h) {
  std::memcpy(out.data(), &h, sizeof h);
  results.put(out, Deadline::never());
}

void put_exception(MessageRing& results, std::vector<std::byte>& out, ResultHeader h, const std::exception_ptr& e) {
  out.resize(sizeof(ResultHeader));
  SpanOut ar(out);
  ar(capture_exception(e));
  put_result(results, out, h);
}

}  // namespace

void pool_worker_main(PoolWorkerArgs args) {
  std::vector<std::byte> out(sizeof(ResultHeader));
  if (args.initializer || args.shipped_initializer) {
    try {
      if (args.initializer) {
        args.initializer();
      } else {
        run_shipped(*args.shipped_initializer);
      }
    } catch (const SystemExit&) {
      throw;
    } catch (...) {
      // Python's worker: LOGGER.critical('Exception in initializer:', exc_info=True).
      log_exception("Exception in initializer:", std::current_exception());
      pool::slot(args.control, args.index).task.store(pool::kInitFailedTask, std::memory_order_seq_cst);
      ResultHeader h;
      h.kind = pool::kInitFailed;
      h.worker = args.index;
      put_exception(args.results, out, h, std::current_exception());
      mpx::exit(1);
    }
  }
  std::vector<std::byte> message;
  Claim claim{&args, &message};
  CodeCache code;
  KillTimer timer;
  auto& mine = pool::slot(args.control, args.index);
  for (std::int64_t done = 0; args.maxtasks == 0 || done < args.maxtasks;) {
    try {
      if (!args.tasks.get(Deadline::never(), claim_task, &claim)) continue;
    } catch (const Closed&) {
      break;  // close(): every task is taken
    } catch (const DecodeError& e) {
      std::fprintf(stderr, "mpx pool worker: dropped a malformed task: %s\n", e.what());
      continue;
    }
    if (!claim.claimed) continue;
    TaskHeader th;
    std::memcpy(&th, message.data(), sizeof th);
    ResultHeader h;
    h.worker = args.index;
    h.id = th.id;
    out.resize(sizeof(ResultHeader));
    try {
      std::span<const std::byte> body(message.data() + sizeof th, message.size() - sizeof th);
      if (th.indirect) {
        IndirectBody ref;
        if (body.size() != sizeof ref)
          throw DecodeError("an indirect pool task of " + std::to_string(body.size()) + " bytes");
        std::memcpy(&ref, body.data(), sizeof ref);
        body = SharedBlock::view(ref.offset);
        if (ref.size > body.size()) throw DecodeError("an indirect pool task larger than its block");
        body = body.first(static_cast<std::size_t>(ref.size));
      }
      const CodeCache::Resolved code_of = code.resolve(body);
      std::span<const std::byte> task_args = body.subspan(code_of.prefix_bytes);
      if (th.timeout_ns > 0) timer.arm(th.timeout_ns);
      code_of.trampoline(code_of.function, task_args, out);
      if (th.timeout_ns > 0) timer.disarm();
      h.kind = pool::kReturned;
      try {
        put_result(args.results, out, h);
      } catch (const ValueError&) {  // larger than the ring's message limit
        h.kind = pool::kRaised;
        put_exception(args.results, out, h, std::current_exception());
      }
    } catch (const SystemExit& e) {
      // mpx::exit() in a task: the caller gets it as an error, the worker
      // goes on (Python's executor sets the future's SystemExit likewise).
      if (th.timeout_ns > 0) timer.disarm();
      h.kind = pool::kRaised;
      put_exception(args.results, out, h,
                    std::make_exception_ptr(RemoteError("SystemExit", "mpx::exit(" + std::to_string(e.code) + ")")));
    } catch (...) {
      if (th.timeout_ns > 0) timer.disarm();
      h.kind = pool::kRaised;
      put_exception(args.results, out, h, std::current_exception());
    }
    mine.deadline_ns.store(0, std::memory_order_relaxed);
    mine.task.store(0, std::memory_order_seq_cst);
    ++done;
  }
}

}  // namespace mpx::detail
