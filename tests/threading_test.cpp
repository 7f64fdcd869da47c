// mpx::threading: Thread, Timer, local, excepthook, the registry functions,
// fork children and process exit. Label `thread`: also run under TSan.
#include "mpx/threading.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support/child.hpp"
#include "support/threading_helper.hpp"

using namespace std::chrono_literals;
namespace th = mpx::threading;
using mpx::test::contains;
using mpx::test::Flag;
using mpx::test::require;

namespace {

struct Worker : th::Thread {
  Flag* ran;
  explicit Worker(Flag* f) : th::Thread({.name = "worker"}), ran(f) {}
  void run() override { ran->set(); }
};

}  // namespace

TEST(Thread, TargetRunsWithCopiedArguments) {
  std::string s = "seven";
  int seen = 0;
  std::string seen_s;
  int tid = 0;
  th::Thread t(
      [&](int x, const std::string& v) {
        seen = x;
        seen_s = v;
        tid = th::get_native_id();
      },
      7, s);
  s = "changed";
  t.start();
  t.join();
  EXPECT_EQ(seen, 7);
  EXPECT_EQ(seen_s, "seven");
  EXPECT_NE(tid, th::get_native_id());
  EXPECT_EQ(tid, t.native_id());
}

TEST(Thread, SubclassRunsItsRun) {
  Flag ran;
  Worker w(&ran);
  w.start();
  w.join();
  EXPECT_TRUE(ran.is_set());
  EXPECT_EQ(w.name(), "worker");
}

TEST(Thread, OptionsGiveNameAndDaemon) {
  th::Thread t({.name = "loader", .daemon = true}, [] {});
  EXPECT_EQ(t.name(), "loader");
  EXPECT_TRUE(t.daemon());
  t.set_name("renamed");
  EXPECT_EQ(t.name(), "renamed");
  t.start();
  t.join();
}

TEST(Thread, DefaultNamesCountUp) {
  th::Thread a([] {}), b;
  ASSERT_EQ(a.name().rfind("Thread-", 0), 0u) << a.name();
  EXPECT_EQ(std::stoi(b.name().substr(7)), std::stoi(a.name().substr(7)) + 1);
}

TEST(Thread, StartTwiceRaises) {
  th::Thread t([] {});
  t.start();
  try {
    t.start();
    FAIL();
  } catch (const mpx::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "threads can only be started once");
  }
  t.join();
  EXPECT_THROW(t.start(), mpx::RuntimeError);
}

TEST(Thread, JoinMisuseRaisesPythonsErrors) {
  th::Thread t([] {});
  try {
    t.join();
    FAIL();
  } catch (const mpx::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot join thread before it is started");
  }
  try {
    th::current_thread().join();
    FAIL();
  } catch (const mpx::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot join current thread");
  }
  std::string inside;
  th::Thread self_joiner([&] {
    try {
      th::current_thread().join(1s);
    } catch (const mpx::RuntimeError& e) {
      inside = e.what();
    }
  });
  self_joiner.start();
  self_joiner.join();
  EXPECT_EQ(inside, "cannot join current thread");
}

TEST(Thread, JoinWithTimeout) {
  Flag go;
  th::Thread t([&] { go.wait(); });
  t.start();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(t.join(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  EXPECT_FALSE(t.join(-1s));  // negative is zero: one look
  EXPECT_TRUE(t.is_alive());
  go.set();
  EXPECT_TRUE(t.join(20s));
  EXPECT_FALSE(t.is_alive());
  EXPECT_TRUE(t.join(0s));  // joining again is fine
  t.join();
}

TEST(Thread, IsAliveFollowsRun) {
  Flag inside, go;
  th::Thread t([&] {
    inside.set();
    go.wait();
  });
  EXPECT_FALSE(t.is_alive());
  t.start();
  EXPECT_TRUE(t.is_alive());  // start() returns once the thread runs
  ASSERT_TRUE(inside.wait());
  EXPECT_TRUE(t.is_alive());
  go.set();
  t.join();
  EXPECT_FALSE(t.is_alive());
}

TEST(Thread, IdentAndNativeId) {
  std::uint64_t ident = 0;
  int native = 0;
  th::Thread t([&] {
    ident = th::get_ident();
    native = th::get_native_id();
  });
  EXPECT_EQ(t.ident(), 0u);
  EXPECT_EQ(t.native_id(), 0);
  t.start();
  EXPECT_NE(t.ident(), 0u);  // known when start() returns
  EXPECT_NE(t.native_id(), 0);
  t.join();
  EXPECT_EQ(t.ident(), ident);  // kept after the thread ended
  EXPECT_EQ(t.native_id(), native);
  EXPECT_NE(ident, th::get_ident());
  EXPECT_EQ(th::current_thread().native_id(), th::get_native_id());
}

TEST(Thread, DaemonIsInheritedAndFixedAtStart) {
  EXPECT_FALSE(th::current_thread().daemon());
  EXPECT_FALSE(th::Thread([] {}).daemon());
  bool child_daemon = false;
  th::Thread d({.daemon = true}, [&] { child_daemon = th::Thread([] {}).daemon(); });
  d.start();
  d.join();
  EXPECT_TRUE(child_daemon);

  th::Thread t([] {});
  t.set_daemon(true);
  EXPECT_TRUE(t.daemon());
  t.set_daemon(false);
  t.start();
  try {
    t.set_daemon(true);
    FAIL();
  } catch (const mpx::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot set daemon status of active thread");
  }
  t.join();
}

TEST(Thread, CurrentThreadIsTheStartedHandle) {
  th::Thread seen = th::main_thread();
  th::Thread t({.name = "me"}, [&] { seen = th::current_thread(); });
  t.start();
  t.join();
  EXPECT_TRUE(seen == t);
  EXPECT_EQ(seen.name(), "me");
}

TEST(Thread, MainThread) {
  auto main = th::main_thread();
  EXPECT_EQ(main.name(), "MainThread");
  EXPECT_TRUE(main == th::current_thread());
  EXPECT_EQ(main.ident(), th::get_ident());
  EXPECT_EQ(main.native_id(), ::getpid());
  EXPECT_TRUE(main.is_alive());
  bool same = true;
  th::Thread t([&] { same = th::main_thread() == th::current_thread(); });
  t.start();
  t.join();
  EXPECT_FALSE(same);
}

TEST(Thread, EnumerateAndActiveCount) {
  Flag go;
  std::vector<th::Thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&] { go.wait(); });
  for (auto& t : threads) EXPECT_FALSE(contains(th::enumerate(), t));  // not started: not listed
  for (auto& t : threads) t.start();
  auto all = th::enumerate();
  EXPECT_TRUE(contains(all, th::main_thread()));
  for (auto& t : threads) EXPECT_TRUE(contains(all, t));
  EXPECT_EQ(th::active_count(), all.size());
  go.set();
  for (auto& t : threads) t.join();
  all = th::enumerate();
  for (auto& t : threads) EXPECT_FALSE(contains(all, t));  // gone as soon as join() returns
}

TEST(Thread, ForeignThreadIsADummy) {
  std::optional<th::Thread> dummy;
  std::string join_error;
  bool alive = false, listed = false;
  std::thread([&] {
    dummy = th::current_thread();
    alive = dummy->is_alive();
    listed = contains(th::enumerate(), *dummy);
    try {
      dummy->join();
    } catch (const mpx::RuntimeError& e) {
      join_error = e.what();
    }
  }).join();
  ASSERT_TRUE(dummy);
  EXPECT_EQ(dummy->name().rfind("Dummy-", 0), 0u) << dummy->name();
  EXPECT_TRUE(dummy->daemon());
  EXPECT_TRUE(alive);
  EXPECT_TRUE(listed);
  EXPECT_NE(dummy->ident(), 0u);
  EXPECT_EQ(join_error, "cannot join a dummy thread");
  EXPECT_FALSE(contains(th::enumerate(), *dummy));  // its thread has ended
  try {
    (void)dummy->is_alive();
    FAIL();
  } catch (const mpx::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "thread is not alive");
  }
}

TEST(Thread, CopiesShareOneThread) {
  Flag go;
  th::Thread a([&] { go.wait(); });
  th::Thread b = a;
  a.start();
  EXPECT_TRUE(b.is_alive());
  EXPECT_THROW(b.start(), mpx::RuntimeError);
  EXPECT_EQ(a.ident(), b.ident());
  go.set();
  b.join();
  EXPECT_FALSE(a.is_alive());
}

TEST(Thread, TemporaryHandleMayGoAtOnce) {
  Flag done;
  th::Thread([&] { done.set(); }).start();  // Python: threading.Thread(target=f).start()
  EXPECT_TRUE(done.wait());
  th::Timer(0s, [&] {}).start();
}

TEST(Thread, TargetIsDestroyedInTheThreadAfterRun) {
  // CPython's test_no_refcycle_through_target, in C++ terms: the captures go
  // when run() returns, not when the last handle goes.
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> watch = token;
  th::Thread t([token] { (void)token; });
  token.reset();
  EXPECT_FALSE(watch.expired());
  t.start();
  t.join();
  EXPECT_TRUE(watch.expired());
}

TEST(Thread, UnjoinedFinishedThreadIsReaped) {
  // A non-daemon thread nobody joins: the next start() (or exit) joins its
  // std::thread; no handle left, no joinable std::thread destroyed.
  for (int i = 0; i < 20; ++i) th::Thread([] {}).start();
  th::Thread last([] {});
  last.start();
  last.join();
}

TEST(Thread, ReprShowsStatus) {
  Flag go;
  th::Thread t({.name = "r"}, [&] { go.wait(); });
  EXPECT_EQ(t.repr(), "<Thread(r, initial)>");
  t.set_daemon(true);
  EXPECT_EQ(t.repr(), "<Thread(r, initial daemon)>");
  t.start();
  EXPECT_EQ(t.repr(), "<Thread(r, started daemon " + std::to_string(t.ident()) + ")>");
  go.set();
  t.join();
  EXPECT_EQ(t.repr().rfind("<Thread(r, stopped daemon ", 0), 0u) << t.repr();
  Flag ran;
  EXPECT_EQ(Worker(&ran).repr(), "<Worker(worker, initial)>");
}

TEST(Thread, NameIsTheOsThreadName) {
  auto comm = [] {
    std::ifstream in("/proc/self/task/" + std::to_string(th::get_native_id()) + "/comm");
    std::string s;
    std::getline(in, s);
    return s;
  };
  std::string first, second;
  th::Thread t({.name = "a-rather-long-thread-name"}, [&] {
    first = comm();
    th::current_thread().set_name("short");
    second = comm();
  });
  t.start();
  t.join();
  EXPECT_EQ(first, "a-rather-long-t");  // the kernel keeps 15 bytes
  EXPECT_EQ(second, "short");
}

TEST(Thread, SubclassDestroyedWhileRunningStopsTheProcess) {
  if (mpx::test::kUnderTsan) GTEST_SKIP() << "starts a thread in a fork child";
  struct Slow : th::Thread {
    Flag go;
    void run() override { go.wait(); }
  };
  std::string err = mpx::test::capture_stderr([] {
    int code = mpx::test::run_in_child([] {
      auto* s = new Slow;
      s->start();
      delete s;  // its run() is still executing
    });
    EXPECT_EQ(code, -SIGABRT);
  });
  EXPECT_NE(err.find("was destroyed while its run() executes"), std::string::npos) << err;
}

TEST(Thread, ManyThreadsStartAndJoin) {
  std::atomic<int> sum{0};
  std::vector<th::Thread> threads;
  for (int i = 0; i < 64; ++i) threads.emplace_back([&sum](int v) { sum += v; }, i);
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  EXPECT_EQ(sum.load(), 64 * 63 / 2);
}

TEST(ThreadingExceptHook, DefaultPrintsNameTypeAndMessage) {
  bool after = false;
  std::string err = mpx::test::capture_stderr([&] {
    th::Thread t({.name = "failing"}, [&] {
      throw mpx::ValueError("run failed");
      after = true;
    });
    t.start();
    t.join();
    EXPECT_FALSE(t.is_alive());
  });
  EXPECT_EQ(err, "Exception in thread failing:\nmpx::ValueError: run failed\n");
  EXPECT_FALSE(after);
}

TEST(ThreadingExceptHook, CustomHookGetsTheArgs) {
  std::optional<th::ExceptHookArgs> got;
  th::set_excepthook([&](const th::ExceptHookArgs& a) { got = a; });
  th::Thread t([] { throw std::out_of_range("too far"); });
  t.start();
  t.join();
  th::set_excepthook(nullptr);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->exc_type, "std::out_of_range");
  EXPECT_EQ(got->exc_value, "too far");
  ASSERT_TRUE(got->thread);
  EXPECT_TRUE(*got->thread == t);
  EXPECT_THROW(std::rethrow_exception(got->exception), std::out_of_range);
  // Restored: the default is back.
  EXPECT_EQ(th::get_excepthook().target_type(), th::ExceptHook(th::default_excepthook).target_type());
}

TEST(ThreadingExceptHook, FailingHookIsReported) {
  th::set_excepthook([](const th::ExceptHookArgs&) { throw mpx::ValueError("threading_hook failed"); });
  std::string err = mpx::test::capture_stderr([] {
    th::Thread t([] { throw mpx::ValueError("run failed"); });
    t.start();
    t.join();
  });
  th::set_excepthook({});
  EXPECT_EQ(err, "Exception in threading.excepthook:\nmpx::ValueError: threading_hook failed\n");
}

TEST(ThreadingExceptHook, ExitInAThreadEndsOnlyThatThread) {
  bool after = false;
  std::string err = mpx::test::capture_stderr([&] {
    th::Thread t([&] {
      mpx::exit(1);  // Python: sys.exit(1) in a thread raises SystemExit, silently ignored
      after = true;
    });
    t.start();
    t.join();
  });
  EXPECT_EQ(err, "");
  EXPECT_FALSE(after);
}

TEST(ThreadingExceptHook, NonStdExceptionIsNamedByType) {
  std::string err = mpx::test::capture_stderr([] {
    th::Thread t({.name = "int"}, [] { throw 42; });
    t.start();
    t.join();
  });
  EXPECT_EQ(err, "Exception in thread int:\nint\n");
}

TEST(ThreadingExceptHook, CalledByHandWithoutAThreadNamesTheIdent) {
  std::string err = mpx::test::capture_stderr([] {
    th::ExceptHookArgs args;
    args.exc_type = "mpx::ValueError";
    args.exc_value = "bug";
    th::excepthook(args);
  });
  EXPECT_EQ(err, "Exception in thread " + std::to_string(th::get_ident()) + ":\nmpx::ValueError: bug\n");
}

TEST(ThreadingTimer, CallsAfterInterval) {
  Flag called;
  int got = 0;
  auto t0 = std::chrono::steady_clock::now();
  th::Timer timer(
      30ms,
      [&](int v) {
        got = v;
        called.set();
      },
      5);
  EXPECT_EQ(timer.interval(), 30ms);
  timer.start();
  ASSERT_TRUE(called.wait());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  timer.join();
  EXPECT_EQ(got, 5);
}

TEST(ThreadingTimer, CancelBeforeExpiryNeverCalls) {
  std::atomic<bool> called{false};
  th::Timer timer(mpx::forever, [&] { called = true; });
  timer.start();
  EXPECT_TRUE(timer.is_alive());
  timer.cancel();
  EXPECT_TRUE(timer.join(20s));
  EXPECT_FALSE(called);
}

TEST(ThreadingTimer, CancelBeforeStart) {
  std::atomic<bool> called{false};
  th::Timer timer(0s, [&] { called = true; });
  timer.cancel();
  timer.start();
  timer.join();
  EXPECT_FALSE(called);
}

TEST(ThreadingTimer, IsAThread) {
  th::Timer timer(1h, [] {});
  th::Thread& as_thread = timer;
  EXPECT_EQ(as_thread.name().rfind("Thread-", 0), 0u);
  as_thread.start();
  EXPECT_TRUE(contains(th::enumerate(), timer));
  timer.cancel();
  as_thread.join();
  EXPECT_FALSE(timer.is_alive());
}

namespace {
struct Counted {
  static inline std::atomic<int> alive{0};
  int value = 0;
  Counted() { ++alive; }
  ~Counted() { --alive; }
};
}  // namespace

TEST(ThreadingLocal, EachThreadSeesItsOwnValue) {
  th::local<int> tls;
  *tls = 1;
  std::vector<th::Thread> threads;
  std::vector<int> seen(8, -1);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      seen[i] = *tls;  // default-constructed on first access
      *tls = i + 10;
      seen[i] += *tls;
    });
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(seen[i], i + 10);
  EXPECT_EQ(*tls, 1);
}

TEST(ThreadingLocal, ValueIsDestroyedBeforeJoinReturns) {
  th::local<Counted> tls;
  int before = Counted::alive;
  th::Thread t([&] { tls->value = 3; });
  t.start();
  t.join();
  EXPECT_EQ(Counted::alive, before);
}

TEST(ThreadingLocal, DestroyingTheLocalDestroysEveryThreadsValue) {
  int before = Counted::alive;
  auto tls = std::make_unique<th::local<Counted>>();
  Flag go;
  std::atomic<int> have{0};
  Flag all_have;
  std::vector<th::Thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      (*tls)->value = 1;
      if (++have == 3) all_have.set();
      go.wait();
    });
  }
  for (auto& t : threads) t.start();
  ASSERT_TRUE(all_have.wait());
  (*tls)->value = 2;
  EXPECT_EQ(Counted::alive, before + 4);
  tls.reset();  // the threads are still alive
  EXPECT_EQ(Counted::alive, before);
  go.set();
  for (auto& t : threads) t.join();
  EXPECT_EQ(Counted::alive, before);
}

TEST(ThreadingLocal, WorksAsAMember) {
  struct Session {
    th::local<std::vector<int>> scratch;
    void add(int v) { scratch->push_back(v); }
    std::size_t size() { return scratch->size(); }
  };
  Session a, b;
  a.add(1);
  std::size_t in_thread = 99;
  th::Thread t([&] {
    a.add(2);
    a.add(3);
    b.add(4);
    in_thread = a.size();
  });
  t.start();
  t.join();
  EXPECT_EQ(in_thread, 2u);
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(b.size(), 0u);
}

TEST(ThreadingLocal, InitRunsOncePerThread) {
  std::atomic<int> calls{0};
  th::local<std::string> tls([&] {
    ++calls;
    return std::string("init");
  });
  EXPECT_EQ(*tls, "init");
  *tls = "main";
  std::string seen;
  th::Thread t([&] { seen = *tls + "/" + *tls; });
  t.start();
  t.join();
  EXPECT_EQ(seen, "init/init");
  EXPECT_EQ(*tls, "main");
  EXPECT_EQ(calls, 2);
}

TEST(ThreadingLocal, ForeignThreadsValueGoesWithTheThread) {
  th::local<Counted> tls;
  int before = Counted::alive;
  std::thread([&] { tls->value = 1; }).join();
  EXPECT_EQ(Counted::alive, before);
}

TEST(ThreadingLocal, DestructorMayUseAnotherLocal) {
  static th::local<int> other;
  struct UsesOther {
    ~UsesOther() { *other += 1; }
  };
  th::local<UsesOther> tls;
  th::Thread t([&] { (void)*tls; });
  t.start();
  EXPECT_TRUE(t.join(20s));
}

TEST(ThreadingFork, ChildHasOnlyTheForkingThread) {
  Flag go;
  th::Thread t([&] { go.wait(); });
  t.start();
  auto main = th::main_thread();
  int parent_native = th::get_native_id();
  int code = mpx::test::run_in_child([&] {
    require(th::active_count() == 1, "one thread");
    require(th::enumerate()[0] == th::current_thread(), "enumerate() is the current thread");
    require(th::current_thread() == main, "main stays main");
    require(th::main_thread() == main, "main_thread()");
    require(!t.is_alive(), "the other thread is not alive");
    require(t.join(0s), "joining it returns at once");
    require(th::current_thread().native_id() == th::get_native_id(), "native_id is the child's");
    require(th::get_native_id() != parent_native, "a new native id");
    require(th::current_thread().ident() == th::get_ident(), "ident");
  });
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(t.is_alive());  // the parent's is untouched
  go.set();
  t.join();
}

TEST(ThreadingFork, ForkFromAThreadMakesItMain) {
  auto parent_main = th::main_thread();
  int code = -1;
  th::Thread forker({.name = "forker"}, [&] {
    code = mpx::test::run_in_child([&] {
      require(th::main_thread() == th::current_thread(), "the forking thread is main");
      require(th::main_thread().name() == "forker", "it keeps its name");
      require(!parent_main.is_alive(), "the parent's main thread reads stopped");
      require(parent_main.join(0s), "and joins at once");
      require(th::active_count() == 1, "one thread");
    });
  });
  forker.start();
  forker.join();
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(parent_main.is_alive());
}

TEST(ThreadingFork, ForkFromAForeignThread) {
  for (bool make_dummy : {false, true}) {
    int code = -1;
    std::thread([&] {
      if (make_dummy) (void)th::current_thread();
      code = mpx::test::run_in_child([] {
        auto main = th::main_thread();
        require(main.name() == "MainThread", "a MainThread");
        require(main == th::current_thread(), "which is the current thread");
        require(!main.daemon(), "not a daemon");
        require(th::active_count() == 1, "one thread");
      });
    }).join();
    EXPECT_EQ(code, 0) << "dummy: " << make_dummy;
  }
}

TEST(ThreadingFork, LocalValuesInTheChild) {
  th::local<int> tls;
  *tls = 5;
  Flag has, go;
  th::Thread t([&] {
    *tls = 6;
    has.set();
    go.wait();
  });
  t.start();
  ASSERT_TRUE(has.wait());
  int code = mpx::test::run_in_child([&] {
    require(*tls == 5, "the forking thread keeps its value");
    *tls = 7;
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(*tls, 5);
  go.set();
  t.join();
}

TEST(ThreadingExit, NonDaemonThreadsAreJoined) {
  auto r = mpx::test::run_exit_helper("join_on_shutdown");
  EXPECT_EQ(r.exitcode, 0) << r.err;
  EXPECT_EQ(r.out, "end of main\nend of thread\n");
  EXPECT_EQ(r.err, "");
}

TEST(ThreadingExit, DaemonThreadsAreNotWaitedFor) {
  auto r = mpx::test::run_exit_helper("daemon_not_waited");
  EXPECT_EQ(r.exitcode, 0) << r.err;
  EXPECT_EQ(r.out, "end of main\n");
}

TEST(ThreadingExit, ThreadStartedByAThreadIsJoined) {
  auto r = mpx::test::run_exit_helper("thread_from_thread");
  EXPECT_EQ(r.exitcode, 0) << r.err;
  EXPECT_EQ(r.out, "OK\n");
}

TEST(ThreadingExit, StdExitFromAThreadDoesNotWaitForIt) {
  auto r = mpx::test::run_exit_helper("exit_from_thread");
  EXPECT_EQ(r.exitcode, 7) << r.err;
}

TEST(ThreadingExit, MainThreadsLocalsOutliveStaticDestructors) {
  auto r = mpx::test::run_exit_helper("locals_at_exit");
  EXPECT_EQ(r.exitcode, 0) << r.err;
  EXPECT_EQ(r.out, "thread_dict.atexit = 'value'\n");
}
