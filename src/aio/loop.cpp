// src/aio/loop.cpp — EventLoop: the ready queue, the timer heap, the
// thread-safe inbox and add_reader/add_writer, over a Backend.
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

#include "aio/backend.hpp"
#include "mpx/aio/task.hpp"
#include "mpx/detail/fd.hpp"
#include "mpx/detail/future_core.hpp"
#include "mpx/futures.hpp"

namespace mpx::aio {
namespace detail {

struct TimerEntry {
  clock::time_point when;
  std::uint64_t seq;
  Callback* cb;
  bool operator>(const TimerEntry& o) const noexcept { return when != o.when ? when > o.when : seq > o.seq; }
};

class FunctionCallback final : public Callback {
 public:
  explicit FunctionCallback(std::function<void()> fn) : fn_(std::move(fn)) {}
  void run() override { fn_(); }

 private:
  std::function<void()> fn_;
};

/// call_soon_threadsafe's mailbox: shared with the threads that post, so a
/// post after the loop is gone is dropped instead of touching freed memory.
class Inbox final : public IoHandler {
 public:
  Inbox() : efd_(mpx::detail::Fd::eventfd(0, true)) {}
  int fd() const noexcept { return efd_.get(); }

  /// Any thread. Takes `cb`'s reference; false (and released) if closed.
  bool post(Callback* cb) noexcept {
    {
      std::lock_guard lock(mu_);
      if (closed_) {
        cb->release();
        return false;
      }
      items_.push_back(cb);
    }
    if (!notified_.exchange(true, std::memory_order_seq_cst)) {
      std::uint64_t one = 1;
      // EAGAIN means the counter is already non-zero: the loop wakes anyway.
      (void)!::write(efd_.get(), &one, sizeof one);
    }
    return true;
  }
  void on_ready(int) noexcept override {
    // Read, then reset, then take: a post after the reset writes the eventfd
    // again; one between the read and the reset is taken below. (Reset
    // before the read and a post's write can be consumed while its flag
    // stays set: the next post then skips its write and is never seen.)
    std::uint64_t n;
    (void)!::read(efd_.get(), &n, sizeof n);
    notified_.store(false, std::memory_order_seq_cst);
    std::vector<Callback*> got;
    {
      std::lock_guard lock(mu_);
      got.swap(items_);
    }
    for (Callback* cb : got) loop->schedule(cb);
  }
  void close() noexcept {
    std::vector<Callback*> got;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      got.swap(items_);
    }
    for (Callback* cb : got) cb->release();
  }

  EventLoop* loop = nullptr;

 private:
  mpx::detail::Fd efd_;
  std::mutex mu_;
  std::vector<Callback*> items_;
  std::atomic<bool> notified_{false};
  bool closed_ = false;
};

thread_local EventLoop* t_running_loop = nullptr;

void set_running_loop(EventLoop* loop) noexcept { t_running_loop = loop; }

bool post(const std::shared_ptr<Inbox>& inbox, std::function<void()> fn) {
  return inbox->post(new FunctionCallback(std::move(fn)));
}

}  // namespace detail

/// add_reader/add_writer of one descriptor: a level-triggered watch.
struct EventLoop::FdCallbacks final : detail::IoHandler {
  int fd = -1;
  detail::IoWatch* w = nullptr;
  std::function<void()> reader, writer;
  void on_ready(int events) noexcept override {
    // Copies: a callback may remove itself (and so this object's function).
    if ((events & detail::EV_READ) && reader) invoke(std::function<void()>(reader), "reader");
    if ((events & detail::EV_WRITE) && writer) invoke(std::function<void()>(writer), "writer");
  }
  static void invoke(std::function<void()> fn, const char* what) noexcept {
    try {
      fn();
    } catch (...) {
      mpx::detail::log_exception(std::string("Exception in ") + what + " callback", std::current_exception());
    }
  }
};

EventLoop::EventLoop(const LoopOptions& options)
    : backend_(detail::make_backend(options.backend)),
      inbox_(std::make_shared<detail::Inbox>()),
      debug_(options.debug) {
  inbox_->loop = this;
  inbox_watch_ = watch(inbox_->fd(), inbox_.get(), true);
  set_wanted(inbox_watch_, detail::EV_READ);
}

EventLoop::~EventLoop() {
  if (!closed_) close();
}

const char* EventLoop::backend_name() const noexcept { return backend_ ? backend_->name() : "closed"; }

double EventLoop::time() const noexcept {
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

void EventLoop::check_open() const {
  if (closed_) throw RuntimeError("Event loop is closed");
}

void EventLoop::run_forever() {
  check_open();
  if (running_) throw RuntimeError("This event loop is already running");
  if (detail::t_running_loop) throw RuntimeError("Cannot run the event loop while another loop is running");
  running_ = true;
  detail::set_running_loop(this);
  struct Exit {
    EventLoop* self;
    ~Exit() {
      self->stopping_ = false;
      self->running_ = false;
      detail::set_running_loop(nullptr);
    }
  } exit{this};
  for (;;) {
    run_once();
    if (stopping_) break;
  }
}

void EventLoop::run_once() {
  std::int64_t timeout_ns = -1;
  while (!timers_.empty() && timers_.front().cb->cancelled.load(std::memory_order_relaxed)) {
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>{});
    timers_.back().cb->release();
    timers_.pop_back();
  }
  if (!ready_.empty() || stopping_) {
    timeout_ns = 0;
  } else if (!timers_.empty()) {
    auto left = timers_.front().when - clock::now();
    timeout_ns = std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(left).count());
  }
  backend_->poll(timeout_ns);
  if (!timers_.empty()) {
    const auto now = clock::now();
    while (!timers_.empty() && timers_.front().when <= now) {
      std::pop_heap(timers_.begin(), timers_.end(), std::greater<>{});
      detail::Callback* cb = timers_.back().cb;
      timers_.pop_back();
      ready_.push_back({nullptr, cb});
    }
  }
  run_ready();
}

void EventLoop::run_ready() {
  running_items_.clear();
  running_items_.swap(ready_);
  for (std::size_t i = 0; i < running_items_.size(); ++i) {
    ReadyItem item = running_items_[i];
    if (item.task) {
      item.task->step();
      continue;
    }
    if (!item.cb->cancelled.load(std::memory_order_relaxed)) {
      try {
        item.cb->run();
      } catch (...) {
        mpx::detail::log_exception("Exception in callback", std::current_exception());
      }
    }
    item.cb->release();
  }
  running_items_.clear();
}

Handle EventLoop::call_soon(std::function<void()> fn) {
  check_open();
  auto* cb = new detail::FunctionCallback(std::move(fn));
  cb->retain();
  ready_.push_back({nullptr, cb});
  return Handle(cb);
}

Handle EventLoop::call_soon_threadsafe(std::function<void()> fn) {
  auto* cb = new detail::FunctionCallback(std::move(fn));
  cb->retain();
  inbox_->post(cb);
  return Handle(cb);
}

TimerHandle EventLoop::call_at(clock::time_point when, std::function<void()> fn) {
  check_open();
  auto* cb = new detail::FunctionCallback(std::move(fn));
  cb->retain();
  schedule_at(when, cb);
  return Handle(cb);
}

void EventLoop::schedule_at(clock::time_point when, detail::Callback* cb) {
  if (closed_) {
    cb->release();
    return;
  }
  timers_.push_back({when, timer_seq_++, cb});
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>{});
}

void EventLoop::schedule(detail::TaskCore* t) {
  if (closed_ || t->scheduled) return;
  t->scheduled = true;
  ready_.push_back({t, nullptr});
}

void EventLoop::schedule(detail::Callback* cb) {
  if (closed_) {
    cb->release();
    return;
  }
  ready_.push_back({nullptr, cb});
}

detail::IoWatch* EventLoop::watch(int fd, detail::IoHandler* handler, bool edge) {
  check_open();
  auto* w = new detail::IoWatch;
  w->fd = fd;
  w->handler = handler;
  w->edge = edge;
  if (edge) {
    try {
      backend_->update(w);
    } catch (...) {
      delete w;
      throw;
    }
  }
  return w;
}

void EventLoop::set_wanted(detail::IoWatch* w, int events) {
  w->wanted = events;
  if (backend_->needs_update(w)) backend_->update(w);
}

void EventLoop::unwatch(detail::IoWatch* w) noexcept {
  if (w && backend_) backend_->retire(w);
}

std::vector<detail::TaskCore*> EventLoop::pending_tasks() const { return tasks_; }

void EventLoop::task_started(detail::TaskCore* t) {
  t->loop_index = tasks_.size();
  tasks_.push_back(t);
}

void EventLoop::task_finished(detail::TaskCore* t) noexcept {
  std::size_t i = t->loop_index;
  if (i >= tasks_.size() || tasks_[i] != t) return;
  tasks_[i] = tasks_.back();
  tasks_[i]->loop_index = i;
  tasks_.pop_back();
}

void EventLoop::track(std::shared_ptr<void> obj, void (*close_fn)(void*)) {
  tracked_.push_back({std::move(obj), close_fn});
}

void EventLoop::untrack(void* obj) noexcept {
  auto it = std::find_if(tracked_.begin(), tracked_.end(), [&](const Tracked& t) { return t.obj.get() == obj; });
  if (it == tracked_.end()) return;
  std::swap(*it, tracked_.back());
  // Moved out first: the object may be freed by this very reset.
  auto keep = std::move(tracked_.back().obj);
  tracked_.pop_back();
}

void EventLoop::add_reader(int fd, std::function<void()> fn) {
  check_open();
  for (auto& c : fd_callbacks_) {
    if (c->fd == fd) {
      c->reader = std::move(fn);
      set_wanted(c->w, c->w->wanted | detail::EV_READ);
      return;
    }
  }
  auto c = std::make_unique<FdCallbacks>();
  c->fd = fd;
  c->reader = std::move(fn);
  c->w = watch(fd, c.get(), false);
  set_wanted(c->w, detail::EV_READ);
  fd_callbacks_.push_back(std::move(c));
}

void EventLoop::add_writer(int fd, std::function<void()> fn) {
  check_open();
  for (auto& c : fd_callbacks_) {
    if (c->fd == fd) {
      c->writer = std::move(fn);
      set_wanted(c->w, c->w->wanted | detail::EV_WRITE);
      return;
    }
  }
  auto c = std::make_unique<FdCallbacks>();
  c->fd = fd;
  c->writer = std::move(fn);
  c->w = watch(fd, c.get(), false);
  set_wanted(c->w, detail::EV_WRITE);
  fd_callbacks_.push_back(std::move(c));
}

namespace {
template <class Vec>
bool remove_fd_callback(EventLoop& loop, Vec& v, int fd, bool reader) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto& c = *v[i];
    if (c.fd != fd) continue;
    auto& fn = reader ? c.reader : c.writer;
    if (!fn) return false;
    fn = nullptr;
    if (!c.reader && !c.writer) {
      loop.unwatch(c.w);
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      loop.set_wanted(c.w, c.reader ? detail::EV_READ : detail::EV_WRITE);
    }
    return true;
  }
  return false;
}
}  // namespace

bool EventLoop::remove_reader(int fd) { return !closed_ && remove_fd_callback(*this, fd_callbacks_, fd, true); }
bool EventLoop::remove_writer(int fd) { return !closed_ && remove_fd_callback(*this, fd_callbacks_, fd, false); }

futures::ThreadPoolExecutor& EventLoop::default_executor() {
  check_open();
  if (!executor_) executor_ = std::make_unique<futures::ThreadPoolExecutor>();
  return *executor_;
}

void EventLoop::close() {
  if (running_) throw RuntimeError("Cannot close a running event loop");
  if (closed_) return;
  // The threads first: their last posts are dropped once the inbox closes.
  executor_.reset();
  inbox_->close();
  closed_ = true;
  for (ReadyItem& item : ready_) {
    if (item.cb) item.cb->release();
  }
  ready_.clear();
  for (auto& t : timers_) t.cb->release();
  timers_.clear();
  // Tasks that never finished: destroyed, as Python's GC would ("Task was
  // destroyed but it is pending"). Their frames' destructors run now.
  while (!tasks_.empty()) {
    detail::TaskCore* t = tasks_.back();
    tasks_.pop_back();
    t->abandon();
  }
  auto tracked = std::move(tracked_);
  for (auto& t : tracked) t.close_fn(t.obj.get());
  tracked.clear();
  for (auto& c : fd_callbacks_) unwatch(c->w);
  fd_callbacks_.clear();
  unwatch(inbox_watch_);
  inbox_watch_ = nullptr;
  backend_.reset();
}

EventLoop& get_running_loop() {
  if (!detail::t_running_loop) throw RuntimeError("no running event loop");
  return *detail::t_running_loop;
}

EventLoop* running_loop() noexcept { return detail::t_running_loop; }

}  // namespace mpx::aio
