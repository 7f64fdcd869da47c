// src/aio/timeouts.cpp — sleep, wait, asyncio.Timeout and TaskGroup: the
// parts that need no template. The state machines are CPython's
// (Lib/asyncio/timeouts.py and taskgroups.py, 3.12), line for line where
// C++ allows: an `await` in an `except` block becomes "remember, then await".
#include <algorithm>

#include "mpx/aio/timeouts.hpp"

namespace mpx::aio {
namespace detail {

void SleepAwaiter::suspend(TaskCore* t, std::coroutine_handle<> h) {
  task = t;
  t->suspend_at(h, this);
  EventLoop* loop = t->loop();
  if (delay <= clock::duration::zero()) {
    loop->schedule(t);  // sleep(0): one trip through the ready queue
  } else {
    timer = new SleepTimer(t);
    timer->retain();  // ours, released by the destructor
    loop->schedule_at(clock::now() + delay, timer);
  }
  if (t->must_cancel && cancel(t->cancel_msg())) t->must_cancel = false;
}

bool SleepAwaiter::cancel_sleep(Waiter* w, const std::string& msg) noexcept {
  auto* self = static_cast<SleepAwaiter*>(w);
  if (!self->timer || self->timer->fired || self->cancelled) return false;
  self->timer->cancelled.store(true, std::memory_order_relaxed);
  self->cancelled = true;
  self->msg = msg;
  self->task->loop()->schedule(self->task);
  return true;
}

namespace {
// Shared with the done callbacks: one may already sit in the ready queue
// when wait() returns, and must find this alive.
struct WaitState {
  std::vector<TaskRef> tasks;
  WaitOptions options;
  bool satisfied() const {
    std::size_t done = 0;
    for (auto& t : tasks) {
      if (!t.done()) continue;
      ++done;
      if (options.return_when == FIRST_COMPLETED) return true;
      if (options.return_when == FIRST_EXCEPTION && !t.cancelled() && t.exception()) return true;
    }
    return done == tasks.size();
  }
};
}  // namespace

Task<> wait_untyped(std::vector<TaskRef> tasks, WaitOptions options) {
  EventLoop& loop = get_running_loop();
  for (auto& t : tasks) {
    if (t.core()->mode == TaskCore::Mode::lazy) t.core()->start(loop);
  }
  auto st = std::make_shared<WaitState>(WaitState{std::move(tasks), options});
  if (st->satisfied()) co_return;
  Future<> waiter(loop);
  Handle timer;
  if (options.timeout) {
    timer = loop.call_later(*options.timeout, [waiter]() mutable {
      if (!waiter.done()) waiter.set_result();
    });
  }
  std::vector<std::uint64_t> ids;
  for (auto& t : st->tasks) {
    ids.push_back(t.add_done_callback([waiter, st]() mutable {
      if (!waiter.done() && st->satisfied()) waiter.set_result();
    }));
  }
  std::exception_ptr err;
  try {
    co_await waiter;
  } catch (...) {
    err = std::current_exception();
  }
  timer.cancel();
  for (std::size_t i = 0; i < st->tasks.size(); ++i) st->tasks[i].remove_done_callback(ids[i]);
  if (err) std::rethrow_exception(err);
}

}  // namespace detail

// ---- ExceptionGroup -----------------------------------------------------------

ExceptionGroup::ExceptionGroup(const std::string& message, std::vector<std::exception_ptr> exceptions)
    : Error(message + " (" + std::to_string(exceptions.size()) + " sub-exception" +
            (exceptions.size() == 1 ? "" : "s") + ")"),
      exceptions_(std::move(exceptions)) {}

// ---- Timeout ------------------------------------------------------------------

Timeout::Timeout(std::optional<clock::time_point> when) : task_(detail::current_task()) {
  if (!task_) throw RuntimeError("Timeout should be used inside a task");
  cancelling_ = task_->cancelling();
  reschedule(when);
}

Timeout::~Timeout() { handle_.cancel(); }

void Timeout::reschedule(std::optional<clock::time_point> when) {
  if (state_ != State::entered) throw RuntimeError("Cannot change state of a finished Timeout");
  when_ = when;
  handle_.cancel();
  handle_ = Handle();
  if (!when) return;
  EventLoop& loop = *task_->loop();
  if (*when <= clock::now()) {
    handle_ = loop.call_soon([this] { on_timeout(); });
  } else {
    handle_ = loop.call_at(*when, [this] { on_timeout(); });
  }
}

void Timeout::on_timeout() {
  task_->cancel();
  state_ = State::expiring;
}

std::exception_ptr Timeout::exit(std::exception_ptr e) noexcept {
  handle_.cancel();
  if (state_ == State::expiring) {
    state_ = State::expired;
    bool was_cancelled = false;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const CancelledError&) {
        was_cancelled = true;
      } catch (...) {
      }
    }
    if (task_->uncancel() <= cancelling_ && was_cancelled) return std::make_exception_ptr(TimeoutError("timed out"));
  } else if (state_ == State::entered) {
    state_ = State::exited;
  }
  return e;
}

// ---- TaskGroup ----------------------------------------------------------------

void TaskGroup::enter() {
  if (entered_) throw RuntimeError("TaskGroup has already been entered");
  parent_ = detail::current_task();
  if (!parent_) throw RuntimeError("TaskGroup cannot determine the parent task");
  loop_ = parent_->loop();
  entered_ = true;
}

void TaskGroup::check_can_spawn() const {
  if (!entered_) throw RuntimeError("TaskGroup has not been entered");
  if (exiting_ && tasks_.empty()) throw RuntimeError("TaskGroup is finished");
  if (aborting_) throw RuntimeError("TaskGroup is shutting down");
}

void TaskGroup::add(TaskRef t) {
  if (t.done()) return on_task_done(t);
  tasks_.push_back(t);
  t.add_done_callback([this, t] { on_task_done(t); });
}

void TaskGroup::abort() {
  aborting_ = true;
  for (auto& t : tasks_) {
    if (!t.done()) t.cancel();
  }
}

void TaskGroup::on_task_done(const TaskRef& t) {
  auto it = std::find(tasks_.begin(), tasks_.end(), t);
  if (it != tasks_.end()) tasks_.erase(it);
  if (on_completed_ && tasks_.empty() && !on_completed_->done()) on_completed_->set_result();
  if (t.cancelled()) return;
  auto e = t.exception();
  if (!e) return;
  errors_.push_back(e);
  if (parent_->done()) return;
  if (!aborting_ && !parent_cancel_requested_) {
    abort();
    parent_cancel_requested_ = true;
    parent_->cancel();
  }
}

Task<> TaskGroup::exit(std::exception_ptr body_error) {
  exiting_ = true;
  bool body_cancelled = false;
  if (body_error) {
    try {
      std::rethrow_exception(body_error);
    } catch (const CancelledError&) {
      body_cancelled = true;
    } catch (...) {
    }
  }
  std::exception_ptr propagate_cancellation = body_cancelled ? body_error : nullptr;
  if (parent_cancel_requested_ && parent_->uncancel() == 0) propagate_cancellation = nullptr;
  if (body_error && !aborting_) abort();
  while (!tasks_.empty()) {
    if (!on_completed_) on_completed_.emplace(*loop_);
    bool cancelled = false;
    try {
      co_await *on_completed_;
    } catch (const CancelledError&) {
      cancelled = true;
      if (!aborting_) propagate_cancellation = std::current_exception();
    }
    if (cancelled && !aborting_) abort();
    on_completed_.reset();
  }
  if (propagate_cancellation && errors_.empty()) std::rethrow_exception(propagate_cancellation);
  if (body_error && !body_cancelled) errors_.push_back(body_error);
  if (!errors_.empty()) throw ExceptionGroup("unhandled errors in a TaskGroup", std::move(errors_));
}

}  // namespace mpx::aio
