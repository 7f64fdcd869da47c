// threading.local: each local<T> knows which threads hold a value of it, and
// each thread knows its values.
//
//   LocalStorage (one per local<T>)             ThreadSlots (one per thread that used a local)
//     holders_ = {slots of T1, slots of T2} ◄──► values = {local A → T*, local B → T*}
//
//   get():      lock my slots, look up (the fast path: an uncontended mutex);
//               on a miss make the value outside every lock, then register it.
//   ~local:     take its value out of every holder's slots, destroy them.
//   thread end: take my values out of every local, destroy them.
//   Lock order: the registry's mutex, then a ThreadSlots mutex. Values are
//   made and destroyed outside the locks, so a T may use other locals.
//   fork:       every mutex is held across fork(); the child keeps only its
//               own thread's slots (the others' values are dropped unrun:
//               their threads do not exist there).
#include "threading_registry.hpp"

#include <pthread.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mpx/threading.hpp"

namespace mpx::detail {

struct ThreadSlots {
  std::mutex mu;  // the owner's lookups vs. a local's destructor and fork
  std::unordered_map<const LocalStorage*, void*> values;
};

namespace {
thread_local ThreadSlots* t_slots = nullptr;

struct SlotsGuard {
  bool armed = false;
  ~SlotsGuard() {
    if (armed) local_thread_exit();
  }
};
thread_local SlotsGuard t_guard;
}  // namespace

struct LocalRegistry {
  std::mutex mu;  // guards every LocalStorage::holders_ and `threads`
  std::vector<ThreadSlots*> threads;

  static LocalRegistry& get() {
    static auto* r = new LocalRegistry;  // leaked: threads may end during exit
    return *r;
  }

  static ThreadSlots& my_slots() {
    if (t_slots) return *t_slots;
    auto slots = std::make_unique<ThreadSlots>();
    {
      auto& r = get();
      std::lock_guard lock(r.mu);
      r.threads.push_back(slots.get());
    }
    t_slots = slots.release();
    // The main thread keeps its values until their locals go, so static
    // destructors can still read them (CPython's test_locals_at_exit).
    if (::gettid() != ::getpid()) t_guard.armed = true;
    return *t_slots;
  }

  // Registers `v` as this thread's value of `ls`; returns the value in place
  // (another one if make() itself used the local) and whether `v` was taken.
  static std::pair<void*, bool> store(const LocalStorage& ls, ThreadSlots& s, void* v) {
    auto& r = get();
    std::lock_guard lock(r.mu);
    std::lock_guard slock(s.mu);
    ls.holders_.insert(&s);
    auto [it, inserted] = s.values.emplace(&ls, v);
    return {it->second, inserted};
  }

  static void drop_local(const LocalStorage& ls) {
    std::vector<void*> doomed;
    {
      auto& r = get();
      std::lock_guard lock(r.mu);
      for (ThreadSlots* s : ls.holders_) {
        std::lock_guard slock(s->mu);
        if (auto it = s->values.find(&ls); it != s->values.end()) {
          doomed.push_back(it->second);
          s->values.erase(it);
        }
      }
      ls.holders_.clear();
    }
    for (void* v : doomed) ls.destroy_(v);
  }

  // Takes the thread's slots out of the registry; returns its values.
  static std::vector<std::pair<void*, LocalStorage::Destroy>> drop_thread(ThreadSlots* s) {
    std::vector<std::pair<void*, LocalStorage::Destroy>> doomed;
    auto& r = get();
    std::lock_guard lock(r.mu);
    {
      std::lock_guard slock(s->mu);
      for (auto& [ls, v] : s->values) {
        ls->holders_.erase(s);
        doomed.emplace_back(v, ls->destroy_);
      }
      s->values.clear();
    }
    std::erase(r.threads, s);
    return doomed;
  }

  static void before_fork() {
    auto& r = get();
    r.mu.lock();
    for (ThreadSlots* s : r.threads) s->mu.lock();
  }
  static void after_fork_parent() {
    auto& r = get();
    for (ThreadSlots* s : r.threads) s->mu.unlock();
    r.mu.unlock();
  }
  static void after_fork_child() {
    auto& r = get();
    for (ThreadSlots* s : r.threads) {
      s->mu.unlock();
      if (s == t_slots) continue;
      for (auto& [ls, v] : s->values) ls->holders_.erase(s);
      delete s;  // its values are abandoned, not destroyed
    }
    r.threads.clear();
    if (t_slots) r.threads.push_back(t_slots);
    r.mu.unlock();
  }
};

namespace {
const bool g_atfork = [] {
  LocalRegistry::get();
  ::pthread_atfork(LocalRegistry::before_fork, LocalRegistry::after_fork_parent, LocalRegistry::after_fork_child);
  return true;
}();
}  // namespace

LocalStorage::~LocalStorage() { LocalRegistry::drop_local(*this); }

void* LocalStorage::get(Make make, const void* ctx) const {
  (void)g_atfork;
  ThreadSlots& s = LocalRegistry::my_slots();
  {
    std::lock_guard lock(s.mu);
    if (auto it = s.values.find(this); it != s.values.end()) return it->second;
  }
  std::unique_ptr<void, Destroy> v(make(ctx), destroy_);  // the user's constructor, outside the locks
  auto [value, taken] = LocalRegistry::store(*this, s, v.get());
  if (taken) v.release();
  return value;
}

void local_thread_exit() noexcept {
  // A value's destructor may use another local and so make a new value:
  // look again, a bounded number of times (PTHREAD_DESTRUCTOR_ITERATIONS).
  for (int round = 0; round < 4 && t_slots; ++round) {
    ThreadSlots* s = t_slots;
    t_slots = nullptr;
    auto doomed = LocalRegistry::drop_thread(s);
    delete s;
    for (auto& [v, destroy] : doomed) destroy(v);
  }
}

}  // namespace mpx::detail
