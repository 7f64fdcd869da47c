// The cases of CPython's _TestSubclassingProcess, TestCloseFds and
// TestStdinBadfiledescriptor whose outcome depends on the start method — what
// a fresh child's exit status, standard streams and descriptors are — run
// under spawn and under forkserver, as test_multiprocessing_spawn and
// test_multiprocessing_forkserver run them (python/cpython at commit
// 00811485ee5f). Each TEST_P names its source; the list of ports and skips is
// at the top of context_conformance_test.cpp. _TestProcess's such cases are
// spawn_process_conformance_test.cpp's.

#include "conformance/fresh_method.hpp"

MPX_FRESH_SUITE(FreshTestSubclassingProcess);
MPX_FRESH_SUITE(FreshTestCloseFds);
MPX_FRESH_SUITE(FreshTestStdinBadfiledescriptor);

// ---- _TestSubclassingProcess under spawn and forkserver -------------------------------------------

namespace {
struct ExitsWithThree : mpx::Process {
  void run() override { mpx::exit(3); }
};
}  // namespace

// CPython: _test_multiprocessing._TestSubclassingProcess.test_subclassing (under spawn and forkserver)
TEST_P(FreshTestSubclassingProcess, Subclassing) {
  // Python pickles the subclass instance (_UpperCaser and its pipe) for the
  // spawned child. A C++ subclass's run() is code plus an object the fresh
  // program does not have: under spawn start() refuses it (ProcessError,
  // naming what to do) and nothing is started; under fork it runs.
  ExitsWithThree p;
  {
    DefaultMethod fresh(GetParam());
    EXPECT_THROW(p.start(), mpx::ProcessError);
    EXPECT_EQ(p.pid(), 0);
    EXPECT_FALSE(p.is_alive());
  }
  p.start();
  ChildGuard guard;
  guard.add(p);
  ASSERT_TRUE(join_or_kill(p));
  EXPECT_EQ(p.exitcode(), 3);
}

namespace {
// _TestSubclassingProcess._test_stderr_flush
void stderr_to_file_then_throw(std::string testfn) {
  int fd = ::open(testfn.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  ::dup2(fd, STDERR_FILENO);  // sys.stderr = open(fd, 'w')
  ::close(fd);
  throw std::domain_error("division by zero  # MARKER");  // 1/0 # MARKER
}
}  // namespace

// CPython: _test_multiprocessing._TestSubclassingProcess.test_stderr_flush (under spawn and forkserver)
TEST_P(FreshTestSubclassingProcess, StderrFlush) {
  // sys.stderr is flushed at process shutdown (issue #13812). C++ has no
  // traceback: the report names the process, the exception's type and message.
  const std::string testfn = temp_path("mpx-context-stderr-flush");
  auto proc = fresh_ctx().Process(stderr_to_file_then_throw, testfn);
  proc.start();
  ChildGuard guard;
  guard.add(proc);
  ASSERT_TRUE(join_or_kill(proc));
  EXPECT_EQ(proc.exitcode(), 1);
  std::string err = read_file(testfn);
  ::unlink(testfn.c_str());
  EXPECT_TRUE(contains(err, "Process " + proc.name())) << err;
  EXPECT_TRUE(contains(err, "std::domain_error")) << err;
  EXPECT_TRUE(contains(err, "division by zero  # MARKER")) << err;
}

// CPython: _test_multiprocessing._TestSubclassingProcess.test_sys_exit (under spawn and forkserver)
TEST_P(FreshTestSubclassingProcess, SysExit) {
  // cases: (True,) -> 1, (False,) -> 0, (8,) -> 8, (None,) -> 0, () -> 0
  for (auto [code, expected] : {std::pair{1, 1}, std::pair{0, 0}, std::pair{8, 8}}) {
    auto p = fresh_ctx().Process(mpx::ProcessOptions{.daemon = true}, exit_with, code);
    p.start();
    ChildGuard guard;
    guard.add(p);
    ASSERT_TRUE(join_or_kill(p));
    EXPECT_EQ(p.exitcode(), expected) << "exit(" << code << ")";
  }
  auto p = fresh_ctx().Process(mpx::ProcessOptions{.daemon = true}, do_nothing);  // sys.exit()
  p.start();
  ChildGuard guard;
  guard.add(p);
  ASSERT_TRUE(join_or_kill(p));
  EXPECT_EQ(p.exitcode(), 0);
}

// ---- TestCloseFds under spawn and forkserver ----------------------------------------------------

namespace {
// Python's get_high_socket_fd(): a socket with an fd no fresh child has.
int high_socket_fd(bool cloexec) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  int fd = ::fcntl(s, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, 50);
  ::close(s);
  return fd;
}

// TestCloseFds._test_closefds: 0 if `fd` is a stream socket here, else the errno.
void probe_fd(mpx::Connection& conn, int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  int rc = ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
  conn.send(rc != 0 ? errno : type == SOCK_STREAM ? 0 : -1);
}
}  // namespace

// CPython: _test_multiprocessing.TestCloseFds.test_closefd (under spawn and forkserver)
TEST_P(FreshTestCloseFds, Closefd) {
  // Non-forked children do not inherit unneeded descriptors: the socket is
  // EBADF in the child — close-on-exec or not (Python's spawn closes every
  // descriptor it does not pass, close_fds=True).
  for (bool cloexec : {true, false}) {
    int fd = high_socket_fd(cloexec);
    ASSERT_GE(fd, 50);
    auto [reader, writer] = mpx::Pipe();
    auto p = fresh_ctx().Process(probe_fd, std::move(writer), fd);
    p.start();
    ChildGuard guard;
    guard.add(p);
    bool got = reader.poll(20s);
    int e = got ? reader.recv<int>() : -2;
    EXPECT_TRUE(join_or_kill(p));
    ::close(fd);
    EXPECT_EQ(e, EBADF) << (cloexec ? "close-on-exec" : "inheritable") << " socket";
  }
}

namespace {
void send_open_fds(mpx::Connection& conn) { conn.send(open_fds()); }
}  // namespace

// What a spawned child has open, listed from /proc/self/fd: the standard
// streams, the shared arena it adopted, and the Connection it was given —
// none of the parent's other descriptors, inheritable or not. A forkserver
// child also has a pidfd of its parent (its parent_process(): the server,
// its parent in the kernel, opened it) and nothing of the server's.
// CPython: _test_multiprocessing.TestCloseFds.test_closefd (under spawn and forkserver, every descriptor)
TEST_P(FreshTestCloseFds, ChildSeesOnlyWhatItIsGiven) {
  std::vector<int> extra;
  for (int i = 0; i < 3; ++i) {
    int p[2];
    ASSERT_EQ(::pipe2(p, i == 0 ? O_CLOEXEC : 0), 0);  // low numbers, and inheritable ones
    extra.push_back(p[0]);
    extra.push_back(p[1]);
  }
  extra.push_back(high_socket_fd(false));
  auto [reader, writer] = mpx::Pipe();
  auto p = fresh_ctx().Process(send_open_fds, std::move(writer));
  p.start();
  ChildGuard guard;
  guard.add(p);
  bool got = reader.poll(20s);
  auto fds = got ? reader.recv<std::vector<std::string>>() : std::vector<std::string>{"<nothing within 20 s>"};
  EXPECT_TRUE(join_or_kill(p));
  for (int fd : extra) ::close(fd);

  int arena = 0, connection = 0, standard = 0, parent_pidfd = 0;
  for (const auto& entry : fds) {
    int fd = std::stoi(entry);
    if (fd <= 2) {
      ++standard;
    } else if (contains(entry, "memfd:mpx-shared")) {
      ++arena;
    } else if (contains(entry, "socket:")) {
      ++connection;  // the duplex Pipe is a socketpair
    } else if (GetParam() == "forkserver" && contains(entry, "pidfd")) {
      ++parent_pidfd;
    } else {
      ADD_FAILURE() << "the spawned child has " << entry << " open";
    }
  }
  EXPECT_EQ(standard, 3) << ::testing::PrintToString(fds);
  EXPECT_LE(arena, 1) << ::testing::PrintToString(fds);
  EXPECT_EQ(connection, 1) << ::testing::PrintToString(fds);
  EXPECT_LE(parent_pidfd, 1) << ::testing::PrintToString(fds);
}

// ---- TestStdinBadfiledescriptor under spawn and forkserver -----------------------------------------

namespace {
// _this_sub_process
void this_sub_process(mpx::Queue<int> q) {
  try {
    (void)q.get(false);
  } catch (const mpx::queue::Empty&) {
  }
}

// _test_process: a queue made in the spawned child (in the arena it adopted),
// passed on to a process of its own. Python's child has stdin on /dev/null.
void queue_in_process() {
  char target[64] = {};
  if (::readlink("/proc/self/fd/0", target, sizeof target - 1) <= 0 || std::string(target) != "/dev/null") {
    mpx::exit(2);
  }
  mpx::Queue<int> queue;
  auto sub_proc = mpx::get_context().Process(mpx::ProcessOptions{.daemon = true}, this_sub_process, queue);
  sub_proc.start();
  if (!join_or_kill(sub_proc) || sub_proc.exitcode() != 0) mpx::exit(3);
}
}  // namespace

// CPython: _test_multiprocessing.TestStdinBadfiledescriptor.test_queue_in_process (under spawn and forkserver)
TEST_P(FreshTestStdinBadfiledescriptor, QueueInProcess) {
  auto proc = fresh_ctx().Process(queue_in_process);
  proc.start();
  ChildGuard guard;
  guard.add(proc);
  ASSERT_TRUE(join_or_kill(proc));
  EXPECT_EQ(proc.exitcode(), 0);
}
