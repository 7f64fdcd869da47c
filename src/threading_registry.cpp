// The registry of this process's threads, the thread bootstrap, the exit
// handler and the fork-child handler (diagram: threading_registry.hpp).
#include "threading_registry.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <new>

#include "mpx/detail/futex.hpp"
#include "os/children.hpp"

namespace mpx::detail {

namespace {

struct Registry {
  std::mutex mu;
  std::vector<std::shared_ptr<ThreadState>> active;    // Python's _active + _limbo
  std::vector<std::shared_ptr<ThreadState>> unjoined;  // non-daemon threads not yet reaped
  std::shared_ptr<ThreadState> main;
  bool atexit_installed = false;
  bool shut_down = false;  // exit has joined the threads: no new ones
};

std::atomic<int> g_counter{1};

// The Thread state of the calling thread, once known. Raw, so reading it is
// free and it has no destructor to order at exit; states are kept alive by
// the registry (main, dummies) or by the running bootstrap.
thread_local ThreadState* t_current = nullptr;

Registry* make_registry() {
  auto* r = new Registry;  // leaked: daemon threads and exit handlers use it to the end
  auto main = std::make_shared<ThreadState>();
  main->kind = ThreadState::Kind::Main;
  main->name = "MainThread";
  main->native_id = ::getpid();
  // Made during static initialisation, on the main thread; if some other
  // thread comes first, the main thread fills its ident in on first use.
  if (::gettid() == ::getpid()) main->ident = threading::get_ident();
  main->phase = kRunning;
  r->main = main;
  r->active.push_back(main);
  return r;
}

Registry*& registry_slot() {
  static Registry* r = make_registry();
  return r;
}
Registry& registry() { return *registry_slot(); }

void remove_state(std::vector<std::shared_ptr<ThreadState>>& v, const ThreadState* st) {
  std::erase_if(v, [st](const auto& p) { return p.get() == st; });
}

// Python's threading._shutdown.
void shutdown() noexcept {
  try {
    auto& r = registry();
    std::shared_ptr<ThreadState> main;
    {
      std::lock_guard lock(r.mu);
      if (r.shut_down) return;
      main = r.main;
    }
    set_phase(*main, kStopped);
    ThreadState* self = t_current;  // std::exit may come from any thread: never wait for it
    for (;;) {
      std::vector<std::shared_ptr<ThreadState>> pending;
      {
        std::lock_guard lock(r.mu);
        for (auto& st : r.unjoined) {
          if (st.get() != self) pending.push_back(st);
        }
        if (pending.empty()) {
          r.shut_down = true;
          break;
        }
      }
      for (auto& st : pending) {
        wait_until(
            st->phase, [](std::uint32_t v) { return v == kStopped; }, Deadline::never());
        reap(*st);
      }
    }
  } catch (...) {
    // At exit there is no one left to tell.
  }
  // Python's atexit runs multiprocessing's handler after the threads are
  // joined; whichever of the two handlers ran first, children started by
  // threads are handled here too.
  exit_children();
}

void atexit_shutdown() { threading_shutdown(); }

// Python's _after_fork, in the only thread of a fork child.
void after_fork_child() {
  Registry* old = registry_slot();  // its mutex is ours (before_fork); its lists are left as they are
  // The common case — a program that never started a thread forks from its
  // main thread — needs no new registry: refresh main's ids in place. Every
  // allocation here is a copy-on-write fault in every child (~10 µs each).
  const bool only_main = old->active.size() == 1 && old->active.front() == old->main && old->unjoined.empty() &&
                         (t_current == nullptr || t_current == old->main.get()) &&
                         old->main->ident.load() == threading::get_ident();
  if (only_main) {
    old->main->native_id = threading::get_native_id();
    new (&old->main->mu) std::mutex;
    t_current = old->main.get();
    old->mu.unlock();
    return;
  }
  auto* fresh = new Registry;
  fresh->atexit_installed = old->atexit_installed;
  std::shared_ptr<ThreadState> cur;
  if (t_current) {
    cur = t_current->shared_from_this();
  } else if (old->main->ident.load() == threading::get_ident()) {
    cur = old->main;
  }
  std::vector<std::shared_ptr<ThreadState>> all = old->active;
  all.insert(all.end(), old->unjoined.begin(), old->unjoined.end());
  all.push_back(old->main);
  for (auto& st : all) {
    new (&st->mu) std::mutex;  // a vanished thread may have held it (Python: _reset_internal_locks)
    st->forked_away = true;    // states of old->unjoined stay referenced by `old`, never destroyed
    if (st != cur) st->phase.store(kStopped);
  }
  if (!cur) {
    cur = std::make_shared<ThreadState>();
    cur->kind = ThreadState::Kind::Main;
    cur->name = "MainThread";
  } else if (cur->kind == ThreadState::Kind::Dummy) {
    cur->kind = ThreadState::Kind::Main;  // Python 3.13: a dummy becomes a _MainThread
    cur->name = "MainThread";
    cur->daemon = false;
  }
  cur->ident = threading::get_ident();
  cur->native_id = threading::get_native_id();
  cur->phase.store(kRunning);
  fresh->main = cur;
  fresh->active.push_back(cur);
  registry_slot() = fresh;
  t_current = cur.get();
  old->mu.unlock();  // `old` is never used again, but keeps its states (and their std::threads) alive
  // Keep it reachable, so leak checkers see an abandoned registry, not a leak.
  static std::vector<Registry*>* abandoned = new std::vector<Registry*>;
  abandoned->push_back(old);
}

void before_fork() { registry().mu.lock(); }
void after_fork_parent() { registry().mu.unlock(); }

// Runs on the main thread during static initialisation: main's ident is
// known, and the fork handlers are in place before any thread exists. The
// function-local statics of the start/join/exit paths are made here too: one
// first made by another thread while a thread forks would stay "being made"
// forever in the child, which would block on it.
const bool g_initialised = [] {
  registry();
  ::pthread_atfork(before_fork, after_fork_parent, after_fork_child);
  return true;
}();

// Takes a dummy thread out of the registry when its OS thread ends.
struct DummyGuard {
  std::shared_ptr<ThreadState> st;
  ~DummyGuard() {
    if (!st || st->kind != ThreadState::Kind::Dummy) return;  // a fork child made it main
    {
      auto& r = registry();
      std::lock_guard lock(r.mu);
      remove_state(r.active, st.get());
    }
    t_current = nullptr;
    set_phase(*st, kStopped);
  }
};
thread_local DummyGuard t_dummy;

}  // namespace

void threading_shutdown() noexcept { shutdown(); }

void set_phase(ThreadState& st, std::uint32_t phase) {
  st.phase.store(phase, std::memory_order_release);
  futex_wake(st.phase);
}

int next_thread_number() noexcept { return g_counter.fetch_add(1); }

ThreadState& current_state() {
  (void)g_initialised;
  if (t_current) return *t_current;
  auto& r = registry();
  if (::gettid() == ::getpid()) {  // the process's main thread
    std::lock_guard lock(r.mu);
    if (r.main->ident.load() == 0) r.main->ident = threading::get_ident();
    t_current = r.main.get();
    return *t_current;
  }
  auto st = std::make_shared<ThreadState>();  // Python's _DummyThread
  st->kind = ThreadState::Kind::Dummy;
  st->name = "Dummy-" + std::to_string(next_thread_number());
  st->daemon = true;
  st->ident = threading::get_ident();
  st->native_id = threading::get_native_id();
  st->phase = kRunning;
  {
    std::lock_guard lock(r.mu);
    r.active.push_back(st);
  }
  t_dummy.st = st;
  t_current = st.get();
  return *t_current;
}

ThreadState* known_current_state() noexcept { return t_current; }

std::shared_ptr<ThreadState> main_state() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  return r.main;
}

std::vector<std::shared_ptr<ThreadState>> active_states() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  return r.active;
}

std::size_t active_state_count() {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  return r.active.size();
}

void register_start(const std::shared_ptr<ThreadState>& st, bool daemon) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  if (r.shut_down) throw RuntimeError("can't create new thread at interpreter shutdown");
  r.active.push_back(st);
  if (!daemon) r.unjoined.push_back(st);
  if (!r.atexit_installed) {
    r.atexit_installed = true;
    std::atexit(atexit_shutdown);
  }
}

void unregister_start(const ThreadState& st) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  remove_state(r.active, &st);
  remove_state(r.unjoined, &st);
}

void reap(ThreadState& st) {
  std::thread t;
  {
    std::lock_guard lock(st.mu);
    if (!st.forked_away) t = std::move(st.thread);
  }
  if (t.joinable()) t.join();  // brief: the thread is past its run()
  auto& r = registry();
  std::lock_guard lock(r.mu);
  remove_state(r.unjoined, &st);
}

void reap_finished() {
  std::vector<std::shared_ptr<ThreadState>> done;
  {
    auto& r = registry();
    std::lock_guard lock(r.mu);
    for (auto& st : r.unjoined) {
      if (st->phase.load(std::memory_order_acquire) == kStopped) done.push_back(st);
    }
  }
  for (auto& st : done) reap(*st);
}

void bootstrap(const std::shared_ptr<ThreadState>& st) {
  t_current = st.get();
  st->ident.store(threading::get_ident());
  st->native_id.store(threading::get_native_id());
  threading::Thread* runner;
  {
    std::lock_guard lock(st->mu);
    set_os_name(st->name);
    runner = st->runner;
  }
  set_phase(*st, kRunning);  // start() returns

  in_bootstrap() = true;  // mpx::exit() now throws SystemExit, as sys.exit() does in a thread
  try {
    if (runner) {
      runner->run();
    } else {
      ThreadAccess::handle(st).run();
    }
  } catch (...) {
    invoke_excepthook(st, std::current_exception());
  }
  in_bootstrap() = false;

  std::function<void()> target;
  {
    std::lock_guard lock(st->mu);
    target = std::move(st->target);  // destroyed here, in the thread, if run() did not
    st->runner = nullptr;
  }
  target = nullptr;
  local_thread_exit();
  {
    auto& r = registry();
    std::lock_guard lock(r.mu);
    remove_state(r.active, st.get());
  }
  t_current = nullptr;
  set_phase(*st, kStopped);
}

void set_os_name(const std::string& name) { ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str()); }

}  // namespace mpx::detail
