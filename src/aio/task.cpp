// src/aio/task.cpp — the untyped halves of asyncio.Future and asyncio.Task.
#include "mpx/aio/task.hpp"

#include "mpx/detail/future_core.hpp"

namespace mpx::aio {
namespace detail {
namespace {

thread_local TaskCore* t_current_task = nullptr;

/// A done callback on its way through the ready queue; keeps the future alive.
class DoneCallback final : public Callback {
 public:
  DoneCallback(FutureBase* f, std::function<void(FutureBase&)> fn) : f_(f), fn_(std::move(fn)) { f_->retain(); }
  ~DoneCallback() override { f_->release(); }
  void run() override { fn_(*f_); }

 private:
  FutureBase* f_;
  std::function<void(FutureBase&)> fn_;
};

bool is_cancelled_error(const std::exception_ptr& e, std::string& msg) {
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError& c) {
    msg = c.what();
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

TaskCore* current_task() noexcept { return t_current_task; }

// ---- FutureBase -------------------------------------------------------------

bool FutureBase::cancel(const std::string& msg) {
  if (done()) return false;
  cancel_msg_ = msg;
  mark_done(Status::cancelled);
  return true;
}

void FutureBase::throw_cancelled() const { throw CancelledError(cancel_msg_); }

std::exception_ptr FutureBase::exception() const {
  if (status_ == Status::cancelled) throw_cancelled();
  if (status_ == Status::pending) throw InvalidStateError("Exception is not set.");
  return exc_;
}

void FutureBase::set_exception(std::exception_ptr e) {
  if (done()) throw InvalidStateError("invalid state: the future is done");
  exc_ = std::move(e);
  mark_done(Status::finished);
}

void FutureBase::check_result() const {
  if (status_ == Status::cancelled) throw_cancelled();
  if (status_ == Status::pending) throw InvalidStateError("Result is not set.");
  if (exc_) std::rethrow_exception(exc_);
}

void FutureBase::add_waiter(TaskCore* t) {
  if (done()) {
    loop_->schedule(t);
    return;
  }
  callbacks_.push_back({t, 0, nullptr});
}

std::uint64_t FutureBase::add_done_callback(std::function<void(FutureBase&)> fn) {
  std::uint64_t id = next_id_++;
  if (done()) {
    loop_->schedule(new DoneCallback(this, std::move(fn)));
  } else {
    callbacks_.push_back({nullptr, id, std::move(fn)});
  }
  return id;
}

bool FutureBase::remove_done_callback(std::uint64_t id) noexcept {
  for (auto it = callbacks_.begin(); it != callbacks_.end(); ++it) {
    if (!it->task && it->id == id) {
      callbacks_.erase(it);
      return true;
    }
  }
  return false;
}

void FutureBase::mark_done(Status s) {
  status_ = s;
  auto cbs = std::move(callbacks_);
  callbacks_.clear();
  for (Entry& e : cbs) {
    if (e.task) {
      loop_->schedule(e.task);
    } else {
      loop_->schedule(new DoneCallback(this, std::move(e.fn)));
    }
  }
}

// ---- FutureWait -------------------------------------------------------------

void FutureWait::suspend(TaskCore* t, std::coroutine_handle<> h) {
  task = t;
  t->suspend_at(h, this);
  fut->add_waiter(t);
  // Python's __step: a task cancelled while running cancels what it awaits next.
  if (t->must_cancel && cancel(t->cancel_msg())) t->must_cancel = false;
}

void FutureWait::resume_checks() { task->resumed(); }

// ---- TaskCore ---------------------------------------------------------------

bool TaskCore::cancel(const std::string& msg) {
  if (root != this) return root->cancel(msg);
  if (done()) return false;
  if (mode == Mode::lazy) {
    cancel_msg_ = msg;
    status_ = Status::cancelled;  // a coroutine never started: nothing to unwind
    return true;
  }
  ++num_cancels_requested;
  if (waiting && waiting->cancel(msg)) return true;
  must_cancel = true;
  cancel_msg_ = msg;
  return true;
}

void TaskCore::start(EventLoop& loop) {
  if (mode != Mode::lazy || done()) throw RuntimeError("the task was started already (or awaited)");
  mode = Mode::scheduled;
  set_loop(&loop);
  resume_point = handle();
  retain();  // the loop's: kept alive until done
  loop.task_started(this);
  loop.schedule(this);
}

void TaskCore::step() noexcept {
  scheduled = false;
  if (!started) {
    started = true;
    if (must_cancel) {
      // Cancelled before its first step: the body never runs (Python throws
      // CancelledError into the coroutine at its very start).
      must_cancel = false;
      loop()->task_finished(this);
      mark_done(Status::cancelled);
      release();
      return;
    }
  }
  TaskCore* prev = t_current_task;
  t_current_task = this;
  resume_point.resume();
  t_current_task = prev;
}

// ---- DirectWait ---------------------------------------------------------------

void DirectWait::suspend(TaskCore* t, std::coroutine_handle<> h) {
  task_ = t;
  arm();
  armed_ = true;
  t->suspend_at(h, this);
  // Python's __step: a task cancelled while running cancels what it awaits next.
  if (t->must_cancel && cancel(t->cancel_msg())) t->must_cancel = false;
}

void DirectWait::await_resume() {
  task_->resumed();
  if (cancelled_) throw CancelledError(msg_);
}

void DirectWait::release() noexcept {
  if (!armed_) return;
  armed_ = false;
  disarm();
}

void DirectWait::wake() noexcept {
  if (!armed_) return;
  release();
  task_->loop()->schedule(task_);
}

bool DirectWait::cancel_wait(Waiter* w, const std::string& msg) noexcept {
  auto* self = static_cast<DirectWait*>(w);
  if (!self->armed_) return false;  // already woken: the task gets it at resumption
  self->release();
  self->cancelled_ = true;
  self->msg_ = msg;
  self->task_->loop()->schedule(self->task_);
  return true;
}

void TaskCore::resumed() {
  waiting = nullptr;
  if (must_cancel) {
    must_cancel = false;
    throw CancelledError(cancel_msg_);
  }
}

std::coroutine_handle<> TaskCore::finish() noexcept {
  Status s = Status::finished;
  if (exc_) {
    std::string msg;
    if (is_cancelled_error(exc_, msg)) {
      s = Status::cancelled;
      cancel_msg_ = msg;
    }
  }
  if (mode == Mode::inline_) {
    mark_done(s);  // the awaiting frame reads the outcome right away
    return continuation;
  }
  EventLoop* l = loop();
  if (mode == Mode::scheduled) l->task_finished(this);
  mark_done(s);
  if (mode == Mode::scheduled) release();  // may destroy this frame: fine, it is suspended
  return std::noop_coroutine();
}

void TaskCore::abandon() noexcept {
  status_ = Status::cancelled;
  release();
}

// ---- asyncio.run and friends -------------------------------------------------

void cancel_all_tasks(EventLoop& loop) {
  auto pending = loop.pending_tasks();
  if (pending.empty()) return;
  auto left = std::make_shared<std::size_t>(pending.size());
  for (TaskCore* t : pending) {
    t->cancel();
    t->add_done_callback([left, &loop](FutureBase&) {
      if (--*left == 0) loop.stop();
    });
  }
  loop.run_forever();
}

void run_until_done(EventLoop& loop, TaskCore* t) {
  if (t->mode == TaskCore::Mode::lazy) t->start(loop);
  if (!t->done()) {
    auto id = t->add_done_callback([&loop](FutureBase&) { loop.stop(); });
    try {
      loop.run_forever();
    } catch (...) {
      t->remove_done_callback(id);
      throw;
    }
    t->remove_done_callback(id);
  }
  if (!t->done()) throw RuntimeError("Event loop stopped before Future completed.");
}

}  // namespace detail

std::vector<TaskRef> all_tasks() {
  std::vector<TaskRef> out;
  for (detail::TaskCore* t : get_running_loop().pending_tasks()) out.emplace_back(t);
  return out;
}

}  // namespace mpx::aio
