// Ports of CPython's Lib/test/_test_multiprocessing.py for start methods and
// contexts (mpx/context.hpp): TestStartMethod, the forkserver's own cases of
// _TestProcess, and the cases of _TestProcess, _TestSubclassingProcess,
// TestCloseFds and TestStdinBadfiledescriptor whose outcome depends on the
// start method, run under spawn and forkserver as test_multiprocessing_spawn
// and test_multiprocessing_forkserver run them (python/cpython at commit
// 00811485ee5f, the commit the other ports use). Each TEST names its source.
// Their fork runs are ported in process_conformance_test.cpp,
// process_exit_conformance_test.cpp and queues_conformance_test.cpp.
//
// A spawned child is a fresh run of this test binary: tests/support/main.cpp
// calls mpx::init(argc, argv) first, which runs the shipped call and exits;
// the forkserver is such a run too, which serves instead, and forks children
// that run the call the same way.
// So every target here is a free function (or a captureless lambda) whose
// arguments are Encodable or shared objects (Queue, Event, Value ...), and a
// Connection is moved in and taken as `mpx::Connection&`.
//
// Ported (Python test -> TEST):
//   TestStartMethod.test_context              TestStartMethod.Context
//   TestStartMethod.test_set_get              TestStartMethod.SetGet
//   check_context's assertion in both         TestStartMethod.CheckContextChildSeesItsMethod
//   TestStartMethod.test_get_all_start_methods (test_get_all before 3.14)
//                                             TestStartMethod.GetAllStartMethods
//   TestStartMethod.test_mixed_startmethod    TestStartMethod.MixedStartmethod (adapted, see there)
//   TestStartMethod.test_nested_startmethod   TestStartMethod.NestedStartmethodFresh (spawn and
//                                             forkserver; the fork run is TestStartMethod.NestedStartmethod
//                                             in queues_conformance_test)
//   _TestProcess.test_forkserver_sigint       TestForkserver.ForkserverSigint
//   _TestProcess.test_forkserver_sigkill      TestForkserver.ForkserverSigkill
//   _TestProcess under spawn and forkserver (spawn_process_conformance_test.cpp; each case runs
//   as Method/<Suite>.<Case>/spawn and /forkserver):
//     test_current                            FreshTestProcess.Current
//     test_args_argument                      FreshTestProcess.ArgsArgument
//     test_daemon_argument                    FreshTestProcess.DaemonArgument
//     test_parent_process_attributes          FreshTestProcess.ParentProcessAttributes
//     test_parent_process                     FreshTestProcess.ParentProcess
//     test_process                            FreshTestProcess.Process
//     test_process_mainthread_native_id       FreshTestProcess.ProcessMainthreadNativeId
//     test_interrupt_no_handler               FreshTestProcess.InterruptNoHandler, and
//                                             FreshTestProcess.InterruptNoHandlerDespiteTheParents
//     test_terminate                          FreshTestProcess.Terminate
//     test_kill                               FreshTestProcess.Kill
//     test_active_children                    FreshTestProcess.ActiveChildren
//     test_recursion                          FreshTestProcess.Recursion
//     test_sentinel                           FreshTestProcess.Sentinel
//     test_many_processes                     FreshTestProcess.ManyProcesses
//     test_lose_target_ref                    FreshTestProcess.LoseTargetRef
//     test_child_fd_inflation                 FreshTestProcess.ChildFdInflation
//     test_wait_for_threads                   FreshTestProcess.WaitForThreads
//     test_error_on_stdio_flush_1, _2         FreshTestProcess.ErrorOnStdioFlush1, ErrorOnStdioFlush2
//   (the three classes below: spawn_process_io_conformance_test.cpp)
//   _TestSubclassingProcess under spawn and forkserver:
//     test_subclassing                        FreshTestSubclassingProcess.Subclassing (refused, see there)
//     test_stderr_flush                       FreshTestSubclassingProcess.StderrFlush
//     test_sys_exit (the int/bool/None cases) FreshTestSubclassingProcess.SysExit
//   TestCloseFds.test_closefd under spawn and forkserver
//                                             FreshTestCloseFds.Closefd, and
//                                             FreshTestCloseFds.ChildSeesOnlyWhatItIsGiven (/proc/self/fd)
//   TestStdinBadfiledescriptor.test_queue_in_process under spawn and forkserver
//                                             FreshTestStdinBadfiledescriptor.QueueInProcess
//
// mpx's own bad cases (no Python source; Python's pickle and exec differ):
//   SpawnBadCases.ArgumentThatFailsToDecodeInTheChild, ArgumentThatFailsToEncode,
//   SharedCountOfAStartThatFailedIsGivenBack, BinaryReplacedOnDisk (spawn and forkserver), NoRequest,
//   RequestCutShort, MalformedRequest, AnotherBinary, CodeNotInTheBinary.
//
// Three tests here found mpx bugs when they were written, since fixed:
//   CheckContextChildSeesItsMethod   a child's get_start_method() is the method that started it.
//   LoseTargetRef                    start() lets go of the target's arguments (a moved-in
//                                    Connection closes in the parent).
//   SharedCountOfAStartThatFailedIsGivenBack
//                                    a spawn start() that fails after encoding the arguments
//                                    gives back the counts taken for the child.
//
// Not ported, and why:
//   TestStartMethod.test_context: ctx.get_context() is ctx, ctx.set_start_method(...) raises
//                                             mpx::Context has neither (it is a value naming a method,
//                                             not a module-like object); the rest of the test is ported.
//   TestStartMethod.test_set_get: type(ctx).__name__, ctx.Process.__name__
//                                             Python class names; mpx has one Process type.
//   TestStartMethod.test_context_check_module_types
//                                             which modules the forkserver preloads (sys.modules of a
//                                             child); mpx's server is the program's binary, with
//                                             nothing to import (set_forkserver_preload is accepted
//                                             and ignored: TestForkserver.PreloadIsAcceptedAndIgnored).
//   TestStartMethod.test_preload_resources    a script whose preloaded module leaks a resource
//                                             tracker warning; nothing is preloaded in mpx.
//   _TestProcess.test_forkserver_auth_is_enabled, test_forkserver_without_auth_fails
//                                             Python's server listens on a named Unix socket that any
//                                             local process may connect to, hence the HMAC; mpx's
//                                             server has one socketpair end, its parent's, and no
//                                             address, so there is nothing to authenticate.
//   _TestProcess.test_set_executable          spawn runs the program's own binary (/proc/self/exe):
//                                             mpx has no set_executable (there is no interpreter).
//   _TestProcess.test_interrupt               no Process.interrupt() and no KeyboardInterrupt (see
//                                             process_conformance_test); test_interrupt_no_handler is ported.
//   _TestProcess.test_close, test_cpu_count   nothing in them depends on the start method (fork ports).
//   _TestProcess._kill_process's join(-1) step  method-independent: TestProcess.KillProcessJoinNegativeTimeout.
//   _TestSubclassingProcess.test_sys_exit ([1, 2, 3], 'ignore this')
//                                             mpx::exit takes an int (as in process_conformance_test).
//   _TestSpawnedSysPath, TestFlags            sys.path and interpreter flags of the spawned
//                                             interpreter; a spawned mpx child is the same binary
//                                             (build-id checked: SpawnBadCases.AnotherBinary).
//   TestNoForkBomb.test_noforkbomb            needs a program whose main() lacks mpx::init (mpx then
//                                             refuses to spawn: ProcessError); every test binary shares
//                                             tests/support/main.cpp, which calls it, and a second
//                                             program would need a CMake target of its own.
//   TestResourceTracker, TestForkAwareThreadLock
//                                             Python internals (the tracker process, util's registry).
//   TestStdinBadfiledescriptor.test_pool_in_process, test_flushing
//                                             Pool is not in mpx; a Python file-like object.
//   threads and manager variants              multiprocessing.dummy and managers are not part of mpx.
//
// Every wait is bounded, no sleep is used to synchronise, and a test that
// leaves early kills and reaps what it started (ChildGuard).
//
// This file: TestStartMethod, TestForkserver and mpx's bad cases; the
// _TestProcess, _TestSubclassingProcess, TestCloseFds and
// TestStdinBadfiledescriptor cases under spawn and forkserver are in
// spawn_process_conformance_test.cpp and spawn_process_io_conformance_test.cpp
// (one list of ports above covers them).

#include "conformance/context_conformance.hpp"
#include "os/popen_forkserver.hpp"

// ---- TestStartMethod ---------------------------------------------------------

namespace {

// TestStartMethod._check_context
void send_start_method(mpx::Connection& conn) { conn.send(mpx::get_start_method()); }

// TestStartMethod.check_context(ctx): the start method a child of `ctx` (of
// the default method if null) sees as its own.
std::string child_start_method(const mpx::Context* ctx) {
  auto [r, w] = mpx::Pipe(false);
  mpx::Process p = ctx ? ctx->Process(send_start_method, std::move(w)) : mpx::Process(send_start_method, std::move(w));
  p.start();
  ChildGuard guard;
  guard.add(p);
  std::string child_method = r.poll(20s) ? r.recv<std::string>() : "<nothing within 20 s>";
  EXPECT_TRUE(join_or_kill(p));
  EXPECT_EQ(p.exitcode(), 0);
  return child_method;
}

}  // namespace

// CPython: _test_multiprocessing.TestStartMethod.test_context
TEST(TestStartMethod, Context) {
  int count = 0;
  const auto all = mpx::get_all_start_methods();
  for (std::string method : {"fork", "spawn", "forkserver"}) {
    std::optional<mpx::Context> ctx = mpx::get_context(method);
    EXPECT_EQ(ctx->get_start_method(), method);
    // check_context(ctx): a child of ctx runs and reports a start method.
    // Which one it reports is checked by CheckContextChildSeesItsMethod.
    std::string reported = child_start_method(&*ctx);
    EXPECT_NE(std::find(all.begin(), all.end(), reported), all.end()) << reported;
    ++count;
  }
  EXPECT_EQ(count, 3);
}

// CPython: _test_multiprocessing.TestStartMethod.test_set_get
TEST(TestStartMethod, SetGet) {
  int count = 0;
  const auto all = mpx::get_all_start_methods();
  DefaultMethod restore(mpx::get_start_method());  // old_method, put back at the end
  for (std::string method : {"fork", "spawn", "forkserver"}) {
    mpx::set_start_method(method, true);
    EXPECT_EQ(mpx::get_start_method(), method);
    auto ctx = mpx::get_context();
    EXPECT_EQ(ctx.get_start_method(), method);
    // check_context(multiprocessing): a child of the default method runs (what
    // it reports: CheckContextChildSeesItsMethod).
    std::string reported = child_start_method(nullptr);
    EXPECT_NE(std::find(all.begin(), all.end(), reported), all.end()) << reported;
    ++count;
  }
  EXPECT_EQ(count, 3);
}

// check_context's assertion, assertEqual(child_method, ctx.get_start_method()),
// for test_context and test_set_get, under either default: Python's child
// reports the method that started it (_bootstrap forces a context process's
// method with context._force_start_method; a spawned child is prepared with
// the parent's). mpx does the same: the method travels with the request
// (spawn) and bootstrap forces it (both).
// CPython: _test_multiprocessing.TestStartMethod.test_context, test_set_get (check_context)
TEST(TestStartMethod, CheckContextChildSeesItsMethod) {
  for (std::string default_method : {"fork", "spawn", "forkserver"}) {
    DefaultMethod as(default_method);
    EXPECT_EQ(child_start_method(nullptr), default_method) << "child of the default method " << default_method;
    for (std::string method : {"fork", "spawn", "forkserver"}) {
      auto ctx = mpx::get_context(method);
      EXPECT_EQ(child_start_method(&ctx), method)
          << "child of get_context(\"" << method << "\") under the default " << default_method;
    }
  }
}

// CPython: _test_multiprocessing.TestStartMethod.test_get_all_start_methods
TEST(TestStartMethod, GetAllStartMethods) {
  auto methods = mpx::get_all_start_methods();
  auto has = [&](const char* m) { return std::find(methods.begin(), methods.end(), m) != methods.end(); };
  EXPECT_TRUE(has("spawn"));
  EXPECT_TRUE(has("fork"));
  // If there are more than those two, forkserver must be one.
  std::set<std::string> other(methods.begin(), methods.end());
  other.erase("fork");
  other.erase("spawn");
  EXPECT_TRUE(other.empty() || other == std::set<std::string>{"forkserver"});
  // The default is the first method in the list. Python 3.14 made it
  // forkserver on POSIX ("3.14+ default must not be fork"); mpx keeps the
  // default of Python up to 3.13 on Linux, fork (mpx/context.hpp).
  ASSERT_FALSE(methods.empty());
  EXPECT_EQ(methods[0], "fork");
  EXPECT_EQ(methods[0], mpx::get_start_method());
  // Python on Linux lists forkserver last: ['fork', 'spawn', 'forkserver'].
  EXPECT_TRUE(has("forkserver"));
  EXPECT_EQ(methods, (std::vector<std::string>{"fork", "spawn", "forkserver"}));
  EXPECT_EQ(mpx::get_context("forkserver").get_start_method(), "forkserver");
}

namespace {
// close_queue(queue): queue.close(); queue.join_thread()
void close_queue(mpx::Queue<int> queue) {
  queue.close();
  queue.join_thread();
}
}  // namespace

// CPython: _test_multiprocessing.TestStartMethod.test_mixed_startmethod
TEST(TestStartMethod, MixedStartmethod) {
  // Python's first half — a Queue of the fork context makes start() of a
  // spawn process raise RuntimeError("A SemLock created in a fork context
  // ...") — has no counterpart: mpx's shared objects belong to no context
  // (they live in the shared arena a spawned child adopts), so every object
  // works with every start method, which is Python's second half. Here "a
  // Queue of context X" is a Queue made while X is the default method, and
  // the child's close() is seen by the parent: it is the same queue.
  for (const auto& queue_method : mpx::get_all_start_methods()) {
    for (const auto& process_method : mpx::get_all_start_methods()) {
      std::optional<mpx::Queue<int>> made;
      {
        DefaultMethod as(queue_method);
        made.emplace();
      }
      mpx::Queue<int> queue = *made;
      auto p = mpx::get_context(process_method).Process(close_queue, queue);
      p.start();
      ChildGuard guard;
      guard.add(p);
      ASSERT_TRUE(join_or_kill(p)) << queue_method << " queue, " << process_method << " process";
      EXPECT_EQ(p.exitcode(), 0) << queue_method << " queue, " << process_method << " process";
      EXPECT_TRUE(queue.closed()) << queue_method << " queue, " << process_method << " process";
      EXPECT_THROW(queue.put(1), mpx::ValueError);
    }
  }
}

namespace {
// TestStartMethod._put_one_in_queue
void put_one_in_queue(mpx::Queue<int> queue) { queue.put(1); }

// TestStartMethod._put_two_and_nest_once: the child passes its argument (the
// queue) on to a process of its own, of `nested_method` ("" is the child's
// default, Python's multiprocessing.Process).
void put_two_and_nest_once(mpx::Queue<int> queue, std::string nested_method) {
  queue.put(2);
  auto process = mpx::get_context(nested_method).Process(put_one_in_queue, queue);
  process.start();
  if (!join_or_kill(process)) mpx::exit(3);
  mpx::exit(process.exitcode() == 0 ? 0 : 4);
}
}  // namespace

// CPython: _test_multiprocessing.TestStartMethod.test_nested_startmethod
// gh-108520: a spawned (or forkserver) child can send its arguments to
// another process, of any method; a forkserver child starts a server of its own.
TEST(TestStartMethod, NestedStartmethodFresh) {
  for (std::string outer : {"spawn", "forkserver"}) {
    for (std::string nested : {"", "fork", "spawn", "forkserver"}) {
      mpx::Queue<int> queue;
      auto process = mpx::get_context(outer).Process(put_two_and_nest_once, queue, nested);
      process.start();
      ChildGuard guard;
      guard.add(process);
      ASSERT_TRUE(join_or_kill(process)) << outer << ", nested " << nested;
      EXPECT_EQ(process.exitcode(), 0) << outer << ", nested " << nested;

      std::vector<int> results;
      while (!queue.empty()) results.push_back(queue.get(20s));
      // Python compares sets (gh-109706); put(2) is in the queue before the
      // grandchild exists, so the order is fixed here.
      EXPECT_EQ(results, (std::vector<int>{2, 1})) << outer << ", nested " << nested;
    }
  }
}

// ---- the forkserver's own cases of _TestProcess -------------------------------------

namespace {
// _TestProcess._sleep_and_set_event(evt, delay): instead of sleeping, the
// child waits for the parent's `go`, given once the server's fate is known.
void wait_then_set(mpx::Event go, mpx::Event evt) {
  if (go.wait(20s)) evt.set();
}

bool readable_within(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

// _TestProcess.check_forkserver_death(signum): bpo-31308, if the forkserver
// process has died, new processes can still be started (the server is
// started again). Python sleeps 2 x 0.5 s to let the server die and the
// first child finish; here the server's death is seen on a pidfd of it,
// and the first child finishes when told to.
void check_forkserver_death(int signum) {
  auto ctx = mpx::get_context("forkserver");
  mpx::forkserver::ensure_running();  // _forkserver.ensure_running()
  const int server = mpx::detail::forkserver_ids().pid;
  ASSERT_GT(server, 0);

  mpx::Event go, evt;
  auto proc = ctx.Process(wait_then_set, go, evt);
  proc.start();
  ChildGuard guard;
  guard.add(proc);

  mpx::detail::Fd watch = mpx::detail::Fd::pidfd_open(server);
  ASSERT_EQ(::kill(server, signum), 0);
  if (signum == SIGKILL) {
    ASSERT_TRUE(readable_within(watch.get(), 20000)) << "the forkserver survived SIGKILL";
  } else {
    // An ignored signal is discarded when sent: the server has already not died of it.
    EXPECT_FALSE(readable_within(watch.get(), 0)) << "the forkserver died of signal " << signum;
  }
  go.set();

  mpx::Event evt2;
  mpx::Event go2;
  go2.set();
  auto proc2 = ctx.Process(wait_then_set, go2, evt2);
  proc2.start();
  guard.add(proc2);
  ASSERT_TRUE(join_or_kill(proc2));
  EXPECT_TRUE(evt2.is_set());
  EXPECT_EQ(proc2.exitcode(), 0);
  EXPECT_EQ(mpx::detail::forkserver_ids().pid == server, signum != SIGKILL) << "a new server only if the old died";

  // The first child outlived its server: Python reads EOF on the status pipe
  // and says 255 at once; mpx then waits for the child's end on its pidfd.
  ASSERT_TRUE(join_or_kill(proc));
  EXPECT_TRUE(evt.is_set());
  if (signum == SIGKILL) {
    EXPECT_EQ(proc.exitcode(), 255);  // Python: assertIn(proc.exitcode, (0, 255))
  } else {
    EXPECT_EQ(proc.exitcode(), 0);
  }
}
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_forkserver_sigint
TEST(TestForkserver, ForkserverSigint) {
  // Catchable signal: the server ignores it, as Python's does (a ^C is the parent's to handle).
  check_forkserver_death(SIGINT);
}

// CPython: _test_multiprocessing._TestProcess.test_forkserver_sigkill
TEST(TestForkserver, ForkserverSigkill) {
  // Uncatchable signal.
  check_forkserver_death(SIGKILL);
}

// CPython: multiprocessing.set_forkserver_preload (no test of its own in mpx's reach:
// test_preload_resources needs a script; see the list above)
TEST(TestForkserver, PreloadIsAcceptedAndIgnored) {
  mpx::set_forkserver_preload({"__main__", "no.such.module"});
  auto p = mpx::get_context("forkserver").Process(exit_with, 4);
  p.start();
  ChildGuard guard;
  guard.add(p);
  ASSERT_TRUE(join_or_kill(p));
  EXPECT_EQ(p.exitcode(), 4);
}

// ---- mpx's bad cases ---------------------------------------------------------------

namespace {
// Encodes fine; its decoding always fails (as bytes from a stranger would).
struct RefusedInTheChild {
  std::string text = "refused";
  template <class Archive>
  void save(Archive& ar) const {
    ar(text);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(text);
    throw mpx::DecodeError("RefusedInTheChild cannot be decoded here");
  }
};

void take_refused(RefusedInTheChild) { mpx::exit(7); }
}  // namespace

// A spawned child whose argument does not decode: the call never runs, the
// child exits with 1 and reports the DecodeError on stderr, as an uncaught
// exception in the target is reported. Under fork nothing is decoded.
TEST(SpawnBadCases, ArgumentThatFailsToDecodeInTheChild) {
  std::string err;
  std::optional<int> exitcode;
  std::string name;
  {
    CaptureStderr capture;
    auto p = spawn_ctx().Process(take_refused, RefusedInTheChild{});
    p.start();
    ChildGuard guard;
    guard.add(p);
    join_or_kill(p);
    exitcode = p.exitcode();
    name = p.name();
    err = capture.read();
  }
  EXPECT_EQ(exitcode, 1);
  EXPECT_TRUE(contains(err, "Process " + name)) << err;
  EXPECT_TRUE(contains(err, "DecodeError")) << err;
  EXPECT_TRUE(contains(err, "RefusedInTheChild cannot be decoded here")) << err;

  auto f = mpx::get_context("fork").Process(take_refused, RefusedInTheChild{});
  f.start();
  ChildGuard guard;
  guard.add(f);
  ASSERT_TRUE(join_or_kill(f));
  EXPECT_EQ(f.exitcode(), 7);
}

namespace {
// Cannot be encoded at all: start() fails in the parent.
struct RefusedInTheParent {
  int n = 0;
  std::string text;
  template <class Archive>
  void save(Archive&) const {
    throw mpx::ValueError("RefusedInTheParent cannot be encoded");
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(n, text);
  }
};

void take_value_and_refused(mpx::Value<int> v, RefusedInTheParent) { v = 1; }
}  // namespace

// An argument that fails to encode: start() raises it, no child exists, and
// the Process can be told so (not started, no pid).
TEST(SpawnBadCases, ArgumentThatFailsToEncode) {
  mpx::Value<int> v(0);
  auto p = spawn_ctx().Process(take_value_and_refused, v, RefusedInTheParent{});
  EXPECT_THROW(p.start(), mpx::ValueError);
  EXPECT_EQ(p.pid(), 0);
  EXPECT_FALSE(p.is_alive());
  EXPECT_EQ(p.exitcode(), std::nullopt);
  EXPECT_TRUE(mpx::active_children().empty());
  EXPECT_EQ(v.value(), 0);
  EXPECT_THROW(p.start(), mpx::ValueError);  // again: the same failure, nothing half-started
}

namespace {
// A shared object of the test's own, travelling the way Lock and Value do
// (detail/transfer.hpp), so its block can be watched.
struct SharedProbe {
  mpx::detail::Shared<int> s;
  template <class Archive>
  void save(Archive& ar) const {
    mpx::detail::save_shared(ar, s, "SharedProbe");
  }
  template <class Archive>
  void load(Archive& ar) {
    mpx::detail::load_shared(ar, s, "SharedProbe");
  }
};

void take_probe_and_refused(SharedProbe, RefusedInTheParent) {}
}  // namespace

// The count a parent takes on a shared object for a spawned child (while it
// encodes the arguments) must be given back when the start fails before any
// child exists: else the object's block is never freed. Freed blocks are
// reused last-in first-out, so a block of the same size made right after is
// at the same place if, and only if, the block was freed.
// (Found an mpx bug when written: nothing gave the count back; now the
// parent's Transfer gives back every count unless the spawn succeeded.)
TEST(SpawnBadCases, SharedCountOfAStartThatFailedIsGivenBack) {
  std::uint64_t offset = 0;
  {
    // Control: made, dropped, made again: the same block.
    { offset = mpx::detail::Shared<int>::make(0).block()->offset(); }
    auto again = mpx::detail::Shared<int>::make(0);
    ASSERT_EQ(again.block()->offset(), offset) << "freed blocks are not reused first: this test cannot tell";
  }
  {
    SharedProbe probe{mpx::detail::Shared<int>::make(0)};
    offset = probe.s.block()->offset();
    auto p = spawn_ctx().Process(take_probe_and_refused, probe, RefusedInTheParent{});
    EXPECT_THROW(p.start(), mpx::ValueError);
  }
  auto fresh = mpx::detail::Shared<int>::make(0);
  EXPECT_EQ(fresh.block()->offset(), offset)
      << "the count taken for a child that was never started was not given back: the block leaks";
}

// ---- spawned by hand: the requests mpx::init reads ---------------------------

namespace {

struct RawRun {
  int status = -1;  // waitpid status; -1: did not end within 20 s (killed)
  std::string err;  // what it wrote to stderr
};

// Runs `exe` as popen_spawn does: `request` on the pipe at fd 3 (raw bytes:
// the size and the body, or anything else), the shared arena at fd 4,
// MPX_SPAWN_FD=3. `--gtest_filter=-*` is a guard: were the child not to
// take the request, it would run no test.
RawRun run_raw_spawn(const std::string& exe, const std::vector<std::byte>& request,
                     const std::vector<int>& arg_fds = {}) {
  RawRun result;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return result;
  const std::string err_path = temp_path("mpx-context-raw-stderr");
  int err_fd = ::open(err_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  ::unlink(err_path.c_str());

  // Every source above every target, so no dup2 overwrites a later source.
  std::vector<int> sources;
  auto above = [&](int fd) {
    int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 100);
    sources.push_back(moved);
    return moved;
  };
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, above(err_fd), STDERR_FILENO);
  posix_spawn_file_actions_adddup2(&fa, above(p[0]), 3);
  posix_spawn_file_actions_adddup2(&fa, above(mpx::detail::Arena::shared().fd()), 4);
  for (std::size_t i = 0; i < arg_fds.size(); ++i) {
    posix_spawn_file_actions_adddup2(&fa, above(arg_fds[i]), 5 + static_cast<int>(i));
  }
  std::string var = "MPX_SPAWN_FD=3";
  std::vector<char*> envp;
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "MPX_SPAWN_FD=", 13) != 0) envp.push_back(*e);
  }
  envp.push_back(var.data());
  envp.push_back(nullptr);
  std::string arg0 = exe, guard = "--gtest_filter=-*";
  char* argv[] = {arg0.data(), guard.data(), nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  for (int fd : sources) ::close(fd);
  ::close(p[0]);
  if (rc == 0) {
    std::size_t done = 0;
    while (done < request.size()) {
      ssize_t w = ::write(p[1], request.data() + done, request.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      done += static_cast<std::size_t>(w);
    }
  }
  ::close(p[1]);
  if (rc == 0) {
    // Bounded: a pidfd becomes readable when the child exits.
    int status = 0;
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    pollfd pfd{pidfd, POLLIN, 0};
    if (pidfd >= 0 && ::poll(&pfd, 1, 20000) == 1) {
      if (::waitpid(pid, &status, 0) == pid) result.status = status;
    } else {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    if (pidfd >= 0) ::close(pidfd);
  }
  ::lseek(err_fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(err_fd, buf, sizeof buf)) > 0) result.err.append(buf, static_cast<std::size_t>(n));
  ::close(err_fd);
  return result;
}

// The size (host order, as popen_spawn writes it) and then the bytes.
std::vector<std::byte> size_prefix(std::uint32_t size) {
  std::vector<std::byte> out(sizeof size);
  std::memcpy(out.data(), &size, sizeof size);
  return out;
}

std::vector<std::byte> framed(const std::vector<std::byte>& body) {
  std::vector<std::byte> out = size_prefix(static_cast<std::uint32_t>(body.size()));
  out.reserve(out.size() + body.size());
  for (std::byte b : body) out.push_back(b);
  return out;
}

// A request as popen_spawn makes it, for f(args...).
template <class F, class... Args>
std::vector<std::byte> request_for(F f, Args&... args) {
  mpx::detail::SpawnRequest request;
  {
    mpx::detail::Transfer transfer(mpx::detail::Transfer::Side::Parent);
    request.call = mpx::detail::ship(f, args...);
    request.fd_count = static_cast<std::uint32_t>(transfer.fds.size());
  }
  request.build_id = request.call.build_id;
  request.name = "Process-raw";
  request.identity = {99};
  request.parent_pid = ::getpid();
  request.parent_name = mpx::current_process().name();
  return framed(mpx::encode(request));
}

int exit_status(const RawRun& r) { return r.status >= 0 && WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1000; }

// Spawned from the copy of the binary: says it ran.
void put_ran(mpx::Queue<std::string> q) { q.put("ran"); }

// Runs in a copy of the test binary: replaces that copy on disk by another
// file, then spawns — /proc/self/exe is still the program that runs.
void replace_own_binary_then_spawn(std::string path, std::string method, mpx::Queue<std::string> q) {
  const std::string replacement = path + ".new";
  if (std::FILE* f = std::fopen(replacement.c_str(), "w")) {
    std::fputs("#!/bin/sh\nexit 42\n", f);
    std::fclose(f);
  }
  ::chmod(replacement.c_str(), 0700);
  if (::rename(replacement.c_str(), path.c_str()) != 0) mpx::exit(5);
  auto p = mpx::get_context(method).Process(put_ran, q);
  p.start();
  if (!join_or_kill(p)) mpx::exit(6);
  mpx::exit(p.exitcode().value_or(7));
}

bool copy_file(const std::string& from, const std::string& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return false;
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
  bool ok = out >= 0;
  char buf[1 << 16];
  ssize_t n;
  while (ok && (n = ::read(in, buf, sizeof buf)) > 0) ok = ::write(out, buf, static_cast<std::size_t>(n)) == n;
  ::close(in);
  if (out >= 0) ::close(out);
  return ok;
}

}  // namespace

// spawn runs /proc/self/exe: a program whose file on disk is replaced (or
// removed) while it runs still spawns itself, not the new file. The program
// here is a private copy of this test binary (nothing else runs it), started
// by hand with a request to replace its own file and then spawn. The
// forkserver is started the same way (from /proc/self/exe, at the first
// forkserver start, after the file was replaced), so its children too run
// the program that runs — the build-id check would refuse any other.
TEST(SpawnBadCases, BinaryReplacedOnDisk) {
  for (std::string method : {"spawn", "forkserver"}) {
    const std::string copy = temp_path("mpx-context-binary");
    ASSERT_TRUE(copy_file("/proc/self/exe", copy));
    mpx::Queue<std::string> q;
    std::string path = copy;
    RawRun run = run_raw_spawn(copy, request_for(replace_own_binary_then_spawn, path, method, q));
    std::string now_on_disk = read_file(copy);
    ::unlink(copy.c_str());
    EXPECT_EQ(exit_status(run), 0) << method << ": " << run.err;
    EXPECT_TRUE(contains(now_on_disk, "exit 42")) << "the file was not replaced";
    ASSERT_FALSE(q.empty()) << method << ": " << run.err;
    EXPECT_EQ(q.get(20s), "ran") << method;
  }
}

// The parent died (or wrote nothing) before the request: exit 1, said on stderr.
TEST(SpawnBadCases, NoRequest) {
  RawRun run = run_raw_spawn("/proc/self/exe", {});
  EXPECT_EQ(exit_status(run), 1);
  EXPECT_TRUE(contains(run.err, "mpx: spawned process: no request from the parent")) << run.err;
}

TEST(SpawnBadCases, RequestCutShort) {
  std::vector<std::byte> body(100, std::byte{1});
  auto request = framed(body);
  request.resize(request.size() - 50);
  RawRun run = run_raw_spawn("/proc/self/exe", request);
  EXPECT_EQ(exit_status(run), 1);
  EXPECT_TRUE(contains(run.err, "request cut short")) << run.err;
}

TEST(SpawnBadCases, MalformedRequest) {
  RawRun run = run_raw_spawn("/proc/self/exe", framed(std::vector<std::byte>(64, std::byte{0xff})));
  EXPECT_EQ(exit_status(run), 1);
  EXPECT_TRUE(contains(run.err, "malformed request")) << run.err;

  run = run_raw_spawn("/proc/self/exe", size_prefix(0xfffffff0u));  // over the 256 MiB limit
  EXPECT_EQ(exit_status(run), 1);
  EXPECT_TRUE(contains(run.err, "refused")) << run.err;
}

// A request from another binary is refused before any code is looked up.
TEST(SpawnBadCases, AnotherBinary) {
  mpx::detail::SpawnRequest request;
  request.build_id = "0123456789abcdef";
  request.call.build_id = request.build_id;
  request.name = "Process-raw";
  request.parent_pid = ::getpid();
  RawRun run = run_raw_spawn("/proc/self/exe", framed(mpx::encode(request)));
  EXPECT_EQ(exit_status(run), 1);
  EXPECT_TRUE(contains(run.err, "the parent runs another binary")) << run.err;
}

// The right binary, but the code offset points outside it: ProcessError in
// the child (reported, exit 1), never a jump.
TEST(SpawnBadCases, CodeNotInTheBinary) {
  int n = 0;
  auto request_bytes = request_for(exit_with, n);
  auto request = mpx::decode<mpx::detail::SpawnRequest>(
      std::span<const std::byte>(request_bytes.data() + 4, request_bytes.size() - 4));
  request.call.function.offset = std::uint64_t(1) << 60;
  RawRun run = run_raw_spawn("/proc/self/exe", framed(mpx::encode(request)));
  EXPECT_EQ(exit_status(run), 1);
  EXPECT_TRUE(contains(run.err, "ProcessError")) << run.err;
}
