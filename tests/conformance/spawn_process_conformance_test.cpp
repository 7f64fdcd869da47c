// The cases of CPython's _TestProcess whose outcome depends on the start
// method, run under spawn and under forkserver, as test_multiprocessing_spawn
// and test_multiprocessing_forkserver run them (python/cpython at commit
// 00811485ee5f): every case is a TEST_P over the two methods whose child is
// not a copy of the parent, so every shared object and descriptor that
// travels is checked under both. Each TEST_P names its source; the list of
// ports and skips is at the top of context_conformance_test.cpp. The other
// classes' such cases are spawn_process_io_conformance_test.cpp's.
//
// A child starts children of its own with mpx::get_context(): its default is
// the method that started it (Python's child uses the test's method too).

#include "conformance/fresh_method.hpp"

MPX_FRESH_SUITE(FreshTestProcess);

// ---- _TestProcess under spawn and forkserver --------------------------------------------------

namespace {
void report_current(mpx::Connection& w) {
  auto& current = mpx::current_process();
  w.send(std::make_tuple(current.is_alive(), current.daemon(), current.ident() == ::getpid(),
                         current.exitcode().has_value(), current.name()));
}
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_current (in a spawned child)
TEST_P(FreshTestProcess, Current) {
  auto [r, w] = mpx::Pipe(false);
  auto p = fresh_ctx().Process(report_current, std::move(w));
  p.start();
  ChildGuard guard;
  guard.add(p);
  ASSERT_TRUE(r.poll(20s));
  auto [alive, daemon, ident_is_pid, has_exitcode, name] = r.recv<std::tuple<bool, bool, bool, bool, std::string>>();
  EXPECT_TRUE(alive);
  EXPECT_FALSE(daemon);
  EXPECT_TRUE(ident_is_pid);
  EXPECT_FALSE(has_exitcode);
  EXPECT_EQ(name, p.name());
  ASSERT_TRUE(join_or_kill(p));
  EXPECT_EQ(p.exitcode(), 0);
}

namespace {
// _TestProcess._test_args
template <class T>
void put_arg(mpx::Queue<T> q, T arg) {
  q.put(arg);
}

template <class T>
void check_args_round_trip(const T& arg) {
  mpx::Queue<T> q(1);
  auto p = fresh_ctx().Process(mpx::ProcessOptions{.daemon = true}, put_arg<T>, q, arg);
  p.start();
  ChildGuard guard;
  guard.add(p);
  EXPECT_EQ(q.get(20s), arg);
  ASSERT_TRUE(join_or_kill(p));
  EXPECT_EQ(p.exitcode(), 0);
}
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_args_argument (under spawn and forkserver)
TEST_P(FreshTestProcess, ArgsArgument) {
  // args_cases = (1, "str", [1], (1,)): each is encoded, sent and decoded.
  check_args_round_trip(1);
  check_args_round_trip(std::string("str"));
  check_args_round_trip(std::vector<int>{1});
  check_args_round_trip(std::tuple<int>{1});
}

namespace {
void report_daemon(mpx::Connection& w) { w.send(mpx::current_process().daemon()); }
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_daemon_argument (under spawn and forkserver)
TEST_P(FreshTestProcess, DaemonArgument) {
  auto ctx = fresh_ctx();
  // By default uses the current process's daemon flag.
  auto proc0 = ctx.Process(do_nothing);
  EXPECT_EQ(proc0.daemon(), mpx::current_process().daemon());
  auto proc1 = ctx.Process(mpx::ProcessOptions{.daemon = true}, do_nothing);
  EXPECT_TRUE(proc1.daemon());
  auto proc2 = ctx.Process(mpx::ProcessOptions{.daemon = false}, do_nothing);
  EXPECT_FALSE(proc2.daemon());

  // And the flag travels: the spawned daemon sees itself as one.
  auto [r, w] = mpx::Pipe(false);
  auto d = ctx.Process(mpx::ProcessOptions{.daemon = true}, report_daemon, std::move(w));
  d.start();
  ChildGuard guard;
  guard.add(d);
  ASSERT_TRUE(r.poll(20s));
  EXPECT_TRUE(r.recv<bool>());
  ASSERT_TRUE(join_or_kill(d));
}

namespace {
// _TestProcess._test_send_parent_process
void send_parent_process(mpx::Connection& wconn) {
  auto parent = mpx::parent_process();
  wconn.send(std::make_pair(parent ? parent->pid() : -1, parent ? parent->name() : std::string("<none>")));
}
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_parent_process_attributes (under spawn and forkserver)
TEST_P(FreshTestProcess, ParentProcessAttributes) {
  EXPECT_FALSE(mpx::parent_process().has_value());

  auto [rconn, wconn] = mpx::Pipe(false);
  auto p = fresh_ctx().Process(send_parent_process, std::move(wconn));
  p.start();
  ChildGuard guard;
  guard.add(p);
  ASSERT_TRUE(join_or_kill(p));
  ASSERT_TRUE(rconn.poll(20s));
  auto [parent_pid, parent_name] = rconn.recv<std::pair<int, std::string>>();
  EXPECT_EQ(parent_pid, mpx::current_process().pid());
  EXPECT_EQ(parent_pid, ::getpid());
  EXPECT_EQ(parent_name, mpx::current_process().name());
}

namespace {
// _TestProcess._test_report_parent_status
void report_parent_status(mpx::Connection& wconn) {
  auto parent = mpx::parent_process();
  wconn.send(std::string(parent && parent->is_alive() ? "alive" : "not alive"));
  if (parent) parent->join(20s);  // support.SHORT_TIMEOUT
  wconn.send(std::string(parent && parent->is_alive() ? "alive" : "not alive"));
}

// _TestProcess._test_create_grandchild_process
void create_grandchild_process(mpx::Connection& wconn) {
  auto p = mpx::get_context().Process(report_parent_status, std::move(wconn));
  p.start();
  block_forever();  // time.sleep(300)
}
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_parent_process (under spawn and forkserver)
TEST_P(FreshTestProcess, ParentProcess) {
  // Launch a child process. Make it launch a grandchild process. Kill the
  // child process and make sure that the grandchild notices the death of
  // its parent (a.k.a the child process). All of them spawned.
  auto [rconn, wconn] = mpx::Pipe(false);
  auto p = fresh_ctx().Process(create_grandchild_process, std::move(wconn));
  p.start();
  ChildGuard guard;
  guard.add(p);

  ASSERT_TRUE(rconn.poll(20s)) << "Could not communicate with child process";
  EXPECT_EQ(rconn.recv<std::string>(), "alive");

  p.terminate();
  ASSERT_TRUE(join_or_kill(p));

  ASSERT_TRUE(rconn.poll(30s)) << "Could not communicate with child process";
  EXPECT_EQ(rconn.recv<std::string>(), "not alive");
}

namespace {
// _TestProcess._test: args, name and pid through a Queue(1).
void report_process(mpx::Queue<std::string> q, int a, int b) {
  auto& current = mpx::current_process();
  q.put(std::to_string(a) + "," + std::to_string(b));  // q.put(args)
  q.put(current.name());
  q.put(std::to_string(current.pid()));
}
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_process (under spawn and forkserver)
TEST_P(FreshTestProcess, Process) {
  // Queue(1): the child cannot finish before the parent has taken two
  // items, so it is still alive when checked right after start().
  mpx::Queue<std::string> q(1);
  auto p = fresh_ctx().Process(mpx::ProcessOptions{.name = "SomeProcess"}, report_process, q, 1, 2);
  p.set_daemon(true);

  EXPECT_FALSE(p.is_alive());
  EXPECT_TRUE(p.daemon());
  EXPECT_FALSE(in_active_children(p));
  EXPECT_EQ(p.exitcode(), std::nullopt);
  EXPECT_EQ(p.pid(), 0);

  p.start();
  ChildGuard guard;
  guard.add(p);

  EXPECT_EQ(p.exitcode(), std::nullopt);
  EXPECT_TRUE(p.is_alive());
  EXPECT_TRUE(in_active_children(p));
  EXPECT_EQ(p.ident(), p.pid());
  EXPECT_GT(p.pid(), 0);

  EXPECT_EQ(q.get(20s), "1,2");  // args[1:]
  EXPECT_EQ(q.get(20s), p.name());
  EXPECT_EQ(q.get(20s), std::to_string(p.pid()));

  ASSERT_TRUE(join_or_kill(p));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_FALSE(p.is_alive());
  EXPECT_FALSE(in_active_children(p));
}

namespace {
void send_main_thread_native_id(mpx::Connection& w) { w.send(mpx::threading::main_thread().native_id()); }
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_process_mainthread_native_id (under spawn and forkserver)
TEST_P(FreshTestProcess, ProcessMainthreadNativeId) {
  int current_mainthread_native_id = mpx::threading::main_thread().native_id();
  auto [r, w] = mpx::Pipe(false);
  auto p = fresh_ctx().Process(send_main_thread_native_id, std::move(w));
  p.start();
  ChildGuard guard;
  guard.add(p);
  ASSERT_TRUE(r.poll(20s));
  int child_mainthread_native_id = r.recv<int>();
  ASSERT_TRUE(join_or_kill(p));
  EXPECT_NE(current_mainthread_native_id, child_mainthread_native_id);
  EXPECT_EQ(child_mainthread_native_id, p.pid());  // a fresh program: its main thread is the process
}

namespace {
// _TestProcess._sleep_some_event
void sleep_some_event(mpx::Event event) {
  event.set();
  block_forever();  // time.sleep(100)
}

// _TestProcess._sleep_no_int_handler. A spawned child starts with every
// signal at its default already; Python's sets SIGINT back explicitly.
void sleep_no_int_handler(mpx::Event event) {
  ::signal(SIGINT, SIG_DFL);
  sleep_some_event(event);
}

// _TestProcess._kill_process(meth): a spawned daemon child sets an event and
// sleeps; the parent checks the running state, applies `meth`, joins, and
// returns the exit code (nullopt after a failure, already reported).
std::optional<int> kill_process(void (*meth)(mpx::Process&), void (*target)(mpx::Event) = sleep_some_event) {
  mpx::Event event;
  auto p = fresh_ctx().Process(target, event);
  p.set_daemon(true);
  p.start();
  ChildGuard guard;
  guard.add(p);

  EXPECT_TRUE(p.is_alive());
  EXPECT_TRUE(in_active_children(p));
  EXPECT_EQ(p.exitcode(), std::nullopt);

  EXPECT_FALSE(p.join(0s));  // Python: join(0) returns None, the child still runs
  EXPECT_TRUE(p.is_alive());

  if (!event.wait(20s)) {
    ADD_FAILURE() << "event not signaled in 20 seconds";
    return std::nullopt;
  }
  meth(p);
  if (!p.join(20s)) {
    ADD_FAILURE() << "join took too long";
    return std::nullopt;
  }
  EXPECT_FALSE(p.is_alive());
  EXPECT_FALSE(in_active_children(p));
  p.join();
  return p.exitcode();
}
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_interrupt_no_handler (under spawn and forkserver)
TEST_P(FreshTestProcess, InterruptNoHandler) {
  // Process.interrupt() is os.kill(pid, SIGINT); mpx has no interrupt().
  auto exitcode = kill_process([](mpx::Process& p) { ::kill(p.pid(), SIGINT); }, sleep_no_int_handler);
  EXPECT_EQ(exitcode, -SIGINT);
}

// A handler the parent installs is not the child's: exec resets it (spawn),
// and the forkserver's child starts from the server's signal state, which
// is a fresh program's.
// CPython: _test_multiprocessing._TestProcess.test_interrupt_no_handler (under spawn and forkserver, parent handler)
TEST_P(FreshTestProcess, InterruptNoHandlerDespiteTheParents) {
  struct sigaction handler {
  }, old{};
  handler.sa_handler = [](int) {};
  sigemptyset(&handler.sa_mask);
  ::sigaction(SIGINT, &handler, &old);
  auto exitcode = kill_process([](mpx::Process& p) { ::kill(p.pid(), SIGINT); });  // no SIG_DFL in the child
  ::sigaction(SIGINT, &old, nullptr);
  EXPECT_EQ(exitcode, -SIGINT);
}

// CPython: _test_multiprocessing._TestProcess.test_terminate (under spawn and forkserver)
TEST_P(FreshTestProcess, Terminate) {
  auto exitcode = kill_process([](mpx::Process& p) { p.terminate(); });
  EXPECT_EQ(exitcode, -SIGTERM);
}

// CPython: _test_multiprocessing._TestProcess.test_kill (under spawn and forkserver)
TEST_P(FreshTestProcess, Kill) {
  auto exitcode = kill_process([](mpx::Process& p) { p.kill(); });
  EXPECT_EQ(exitcode, -SIGKILL);
}

namespace {
void wait_event(mpx::Event event) { event.wait(); }  // target=event.wait
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_active_children (under spawn and forkserver)
TEST_P(FreshTestProcess, ActiveChildren) {
  mpx::Event event;
  auto p = fresh_ctx().Process(wait_event, event);
  EXPECT_FALSE(in_active_children(p));
  p.set_daemon(true);
  p.start();
  ChildGuard guard;
  guard.add(p);
  EXPECT_TRUE(in_active_children(p));
  event.set();
  ASSERT_TRUE(join_or_kill(p));
  EXPECT_FALSE(in_active_children(p));
}

namespace {
void recursion_target(mpx::Queue<std::vector<int>> q, std::vector<int> id);

// _TestProcess._test_recursion: every level below the test is spawned. A
// Queue instead of Python's Connection: a Connection is moved into one
// process, and each level passes the channel on to two.
bool test_recursion(mpx::Queue<std::vector<int>> q, const std::vector<int>& id) {
  q.put(id);
  if (id.size() < 2) {
    for (int i = 0; i < 2; ++i) {
      std::vector<int> child_id = id;
      child_id.push_back(i);
      auto p = mpx::get_context().Process(recursion_target, q, child_id);
      p.start();
      if (!join_or_kill(p) || p.exitcode() != 0) return false;
    }
  }
  return true;
}

void recursion_target(mpx::Queue<std::vector<int>> q, std::vector<int> id) {
  if (!test_recursion(q, id)) mpx::exit(1);
}
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_recursion (under spawn and forkserver)
TEST_P(FreshTestProcess, Recursion) {
  mpx::Queue<std::vector<int>> q;
  EXPECT_TRUE(test_recursion(q, {}));

  // Every process has been joined: everything it put is in the queue.
  std::vector<std::vector<int>> result;
  while (!q.empty()) result.push_back(q.get(20s));

  std::vector<std::vector<int>> expected = {{}, {0}, {0, 0}, {0, 1}, {1}, {1, 0}, {1, 1}};
  EXPECT_EQ(result, expected);
}

namespace {
// _TestProcess._test_sentinel
void wait_event_10s(mpx::Event event) { (void)event.wait(10s); }
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_sentinel (under spawn and forkserver)
TEST_P(FreshTestProcess, Sentinel) {
  mpx::Event event;
  auto p = fresh_ctx().Process(wait_event_10s, event);
  EXPECT_THROW((void)p.sentinel(), mpx::ValueError);
  p.start();
  ChildGuard guard;
  guard.add(p);
  int sentinel = p.sentinel();
  EXPECT_TRUE(mpx::connection::wait({sentinel}, 0s).empty());  // wait_for_handle(sentinel, timeout=0.0)
  event.set();
  ASSERT_TRUE(join_or_kill(p));
  EXPECT_EQ(mpx::connection::wait({sentinel}, 1s).size(), 1u);
}

// CPython: _test_multiprocessing._TestProcess.test_many_processes (under spawn and forkserver)
TEST_P(FreshTestProcess, ManyProcesses) {
  constexpr int N = 5;  // Python: 5 under spawn
  ChildGuard guard;
  auto ctx = fresh_ctx();

  // Python's children sleep 0.01 s: they just run to completion.
  std::vector<mpx::Process> procs;
  for (int i = 0; i < N; ++i) procs.push_back(ctx.Process(do_nothing));
  for (auto& p : procs) {
    p.start();
    guard.add(p);
  }
  for (auto& p : procs) ASSERT_TRUE(join_or_kill(p));
  for (auto& p : procs) EXPECT_EQ(p.exitcode(), 0);

  // Children that would run for long, terminated right after start (Python
  // sleeps 0.001 s first): a child that has not even reached main() yet is
  // killed by SIGTERM all the same.
  procs.clear();
  for (int i = 0; i < N; ++i) procs.push_back(ctx.Process(block_forever));
  for (auto& p : procs) {
    p.start();
    guard.add(p);
  }
  for (auto& p : procs) p.terminate();
  for (auto& p : procs) ASSERT_TRUE(join_or_kill(p));
  for (auto& p : procs) EXPECT_EQ(p.exitcode(), -SIGTERM);
}

namespace {
void send_five(mpx::Connection& q) { q.send(5); }
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_lose_target_ref (under spawn and forkserver, and fork with a
// function target)
TEST_P(FreshTestProcess, LoseTargetRef) {
  // Python's start() drops the Process's references to its target and
  // arguments (del self._target, self._args). Here the argument is the
  // write end of a pipe, moved into the Process: once the child is gone and
  // nothing in the parent holds that end, the read end is at end of file.
  // (Found an mpx bug when written: the closure that ships the call kept
  // the arguments after start(); start() now drops it too.)
  for (const auto& method : mpx::get_all_start_methods()) {
    auto [q, child_q] = mpx::Pipe(false);
    auto p = mpx::get_context(method).Process(send_five, std::move(child_q));
    p.start();
    ChildGuard guard;
    guard.add(p);
    ASSERT_TRUE(join_or_kill(p)) << method;
    ASSERT_TRUE(q.poll(20s)) << method;
    EXPECT_EQ(q.recv<int>(), 5) << method;
    // The Process handle p is still alive here, as Python's p is.
    EXPECT_TRUE(q.poll(2s)) << method << ": the parent still holds the write end it moved into the Process";
    if (q.poll(0s)) {
      EXPECT_THROW((void)q.recv<int>(), mpx::EOFError) << method;
    }
  }
}

namespace {
// _TestProcess._test_child_fd_inflation
void report_fd_count(mpx::Event evt, mpx::Queue<int> q) {
  q.put(static_cast<int>(open_fds().size()));  // os_helper.fd_count()
  evt.wait();
}
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_child_fd_inflation (under spawn and forkserver)
TEST_P(FreshTestProcess, ChildFdInflation) {
  // Number of fds in child processes should not grow with the number of
  // running children (each running child costs the parent a pidfd).
  constexpr int N = 5;
  mpx::Event evt;
  mpx::Queue<int> q;
  ChildGuard guard;
  std::vector<mpx::Process> procs;
  for (int i = 0; i < N; ++i) procs.push_back(fresh_ctx().Process(report_fd_count, evt, q));
  for (auto& p : procs) {
    p.start();
    guard.add(p);
  }
  std::vector<int> fd_counts;
  for (int i = 0; i < N; ++i) fd_counts.push_back(q.get(20s));
  evt.set();
  for (auto& p : procs) ASSERT_TRUE(join_or_kill(p));
  EXPECT_EQ(std::set<int>(fd_counts.begin(), fd_counts.end()).size(), 1u)
      << "fd counts " << ::testing::PrintToString(fd_counts);
}

namespace {
// _TestProcess._test_wait_for_threads. Python's func1 sleeps 0.5 s before it
// sets evt; here it waits for the parent's `go`, given only once the target
// has returned, so the child can only exit after waiting for it. func2 (a
// daemon) would clear evt after 20 s; here it waits on an event nobody sets.
void wait_for_threads(mpx::Event evt, mpx::Event go, mpx::Event returned, mpx::Event never) {
  mpx::threading::Thread func1([evt, go]() mutable {
    go.wait();
    evt.set();
  });
  func1.start();
  mpx::threading::Thread func2(mpx::threading::ThreadOptions{.daemon = true}, [evt, never]() mutable {
    never.wait();
    evt.clear();
  });
  func2.start();
  returned.set();
}
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_wait_for_threads (under spawn and forkserver)
TEST_P(FreshTestProcess, WaitForThreads) {
  // A child process should wait for non-daemonic threads to end before
  // exiting, and not for daemon threads.
  mpx::Event evt, go, returned, never;
  auto proc = fresh_ctx().Process(wait_for_threads, evt, go, returned, never);
  proc.start();
  ChildGuard guard;
  guard.add(proc);
  ASSERT_TRUE(returned.wait(20s));
  EXPECT_FALSE(proc.join(0s)) << "the child exited with a non-daemon thread still running";
  go.set();
  ASSERT_TRUE(join_or_kill(proc)) << "the child waited for its daemon thread";
  EXPECT_TRUE(evt.is_set());
  EXPECT_EQ(proc.exitcode(), 0);
}

namespace {
// Points `fd` at `path` opened with `flags` until restore(): a stream whose
// writes fail (EBADF for a read-only descriptor, ENOSPC for /dev/full).
class BrokenFd {
 public:
  BrokenFd(int fd, const char* path, int flags) : fd_(fd), saved_(::dup(fd)) {
    int b = ::open(path, flags | O_CLOEXEC);
    ::dup2(b, fd_);
    ::close(b);
  }
  ~BrokenFd() { restore(); }
  BrokenFd(const BrokenFd&) = delete;
  BrokenFd& operator=(const BrokenFd&) = delete;
  void restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, fd_);
    ::close(saved_);
    saved_ = -1;
  }

 private:
  int fd_;
  int saved_;
};

FILE* stream_for(int fd) { return fd == STDOUT_FILENO ? stdout : stderr; }

// _TestProcess._test_error_on_stdio_flush with nothing to break: write, set.
void write_and_set(int fd, mpx::Event evt) {
  std::fputs("lost", stream_for(fd));
  evt.set();
}

// _TestProcess._test_error_on_stdio_flush(evt, {stream: action})
void break_stream_and_set(int fd, std::string action, mpx::Event evt) {
  FILE* stream = stream_for(fd);
  if (action == "close") {
    std::fclose(stream);
  } else {  // "remove": the descriptor goes under a stream that still holds output
    static char buf[BUFSIZ];
    std::setvbuf(stream, buf, _IOFBF, sizeof buf);
    std::fputs("lost", stream);
    ::close(fd);
  }
  evt.set();
}
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_error_on_stdio_flush_1 (under spawn and forkserver)
TEST_P(FreshTestProcess, ErrorOnStdioFlush1) {
  // The parent's standard streams are broken before start: the spawned
  // child inherits the descriptors, writes, and must still exit with 0.
  struct Breakage {
    const char* path;
    int flags;
  };
  for (int fd : {STDOUT_FILENO, STDERR_FILENO}) {
    for (Breakage how : {Breakage{"/dev/null", O_RDONLY}, Breakage{"/dev/full", O_WRONLY}}) {
      std::fflush(nullptr);
      mpx::Event evt;
      std::optional<int> exitcode;
      {
        BrokenFd broken(fd, how.path, how.flags);
        auto proc = fresh_ctx().Process(write_and_set, fd, evt);
        proc.start();
        join_or_kill(proc);
        exitcode = proc.exitcode();
        broken.restore();  // before any gtest output
      }
      std::clearerr(stream_for(fd));
      EXPECT_TRUE(evt.is_set()) << "fd " << fd << " -> " << how.path;
      EXPECT_EQ(exitcode, 0) << "fd " << fd << " -> " << how.path;
    }
  }
}

// CPython: _test_multiprocessing._TestProcess.test_error_on_stdio_flush_2 (under spawn and forkserver)
TEST_P(FreshTestProcess, ErrorOnStdioFlush2) {
  // Same, but the standard streams are broken by the child: "close" closes
  // the C stream (sys.stdout.close()), "remove" closes the descriptor under
  // a stream that still holds output (Python sets sys.stdout = None).
  for (int fd : {STDOUT_FILENO, STDERR_FILENO}) {
    for (std::string action : {"close", "remove"}) {
      std::fflush(nullptr);
      mpx::Event evt;
      auto proc = fresh_ctx().Process(break_stream_and_set, fd, action, evt);
      proc.start();
      ChildGuard guard;
      guard.add(proc);
      ASSERT_TRUE(join_or_kill(proc));
      EXPECT_TRUE(evt.is_set()) << "fd " << fd << " " << action;
      EXPECT_EQ(proc.exitcode(), 0) << "fd " << fd << " " << action;
    }
  }
}
