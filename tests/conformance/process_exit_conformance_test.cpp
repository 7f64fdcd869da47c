// Ports of CPython's Lib/test/_test_multiprocessing.py for mpx::Process, part 2:
// how a process ends and what it leaves on stdio — _TestProcess's
// test_error_on_stdio_flush_*, _TestSubclassingProcess, _TestPollEintr and
// TestCloseFds (python/cpython at commit 00811485ee5f). Part 1 is
// process_conformance_test.cpp; the list of cases not ported is there.
//
// Every wait is bounded; a test that leaves early kills and reaps what it
// started (ChildGuard).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "mpx/connection.hpp"
#include "mpx/process.hpp"
#include "support/child.hpp"

using namespace std::chrono_literals;
using mpx::test::block_forever;
using mpx::test::ChildGuard;
using mpx::test::in_active_children;
using mpx::test::wait_until_sleeping;

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
}  // namespace

// CPython: _test_multiprocessing._TestProcess.test_error_on_stdio_flush_1
TEST(TestProcess, ErrorOnStdioFlush1) {
  // Check that Process works with broken standard streams (here: broken in
  // the parent before start; the child writes to them and flushes at exit).
  struct Breakage {
    const char* path;
    int flags;
  };
  for (int fd : {STDOUT_FILENO, STDERR_FILENO}) {
    for (Breakage how : {Breakage{"/dev/null", O_RDONLY}, Breakage{"/dev/full", O_WRONLY}}) {
      std::fflush(nullptr);
      auto [evt_r, evt_w] = mpx::Pipe(false);
      std::optional<int> exitcode;
      bool evt_set = false;
      {
        BrokenFd broken(fd, how.path, how.flags);
        mpx::Process proc([&evt_w, fd] {
          std::fputs("lost", stream_for(fd));
          evt_w.send(true);
        });
        proc.start();
        if (!proc.join(20s)) {
          proc.kill();
          proc.join();
        }
        exitcode = proc.exitcode();
        evt_set = evt_r.poll();
        broken.restore();  // before any gtest output
      }
      std::clearerr(stream_for(fd));
      EXPECT_TRUE(evt_set) << "fd " << fd << " -> " << how.path;
      EXPECT_EQ(exitcode, 0) << "fd " << fd << " -> " << how.path;
    }
  }
}

// CPython: _test_multiprocessing._TestProcess.test_error_on_stdio_flush_2
TEST(TestProcess, ErrorOnStdioFlush2) {
  // Same, but the standard streams are broken by the child: "close" closes
  // the C stream (sys.stdout.close()), "remove" closes the descriptor under
  // a stream that still holds output (Python sets sys.stdout = None).
  for (int fd : {STDOUT_FILENO, STDERR_FILENO}) {
    for (std::string action : {"close", "remove"}) {
      std::fflush(nullptr);
      auto [evt_r, evt_w] = mpx::Pipe(false);
      mpx::Process proc([&evt_w, fd, action] {
        FILE* stream = stream_for(fd);
        if (action == "close") {
          std::fclose(stream);
        } else {
          static char buf[BUFSIZ];
          std::setvbuf(stream, buf, _IOFBF, sizeof buf);
          std::fputs("lost", stream);
          ::close(fd);
        }
        evt_w.send(true);
      });
      proc.start();
      ChildGuard guard;
      guard.add(proc);
      ASSERT_TRUE(proc.join(20s));
      EXPECT_TRUE(evt_r.poll()) << "fd " << fd << " " << action;
      EXPECT_EQ(proc.exitcode(), 0) << "fd " << fd << " " << action;
    }
  }
}

// ---- _TestSubclassingProcess --------------------------------------------

namespace {
class UpperCaser : public mpx::Process {
 public:
  UpperCaser() {
    auto [c, p] = mpx::Pipe();
    child_conn_ = std::move(c);
    parent_conn_ = std::move(p);
  }

  void run() override {
    parent_conn_.close();
    // for s in iter(self.child_conn.recv, None): the sentinel is an empty optional
    while (auto s = child_conn_.recv<std::optional<std::string>>()) {
      std::transform(s->begin(), s->end(), s->begin(), [](unsigned char ch) { return std::toupper(ch); });
      child_conn_.send(*s);
    }
    child_conn_.close();
  }

  std::string submit(const std::string& s) {
    parent_conn_.send(std::optional<std::string>(s));
    return parent_conn_.recv<std::string>();
  }

  void stop() {
    parent_conn_.send(std::optional<std::string>());
    parent_conn_.close();
    child_conn_.close();
  }

 private:
  mpx::Connection child_conn_;
  mpx::Connection parent_conn_;
};
}  // namespace

// CPython: _test_multiprocessing._TestSubclassingProcess.test_subclassing
TEST(TestSubclassingProcess, Subclassing) {
  UpperCaser uppercaser;
  uppercaser.set_daemon(true);
  uppercaser.start();
  ChildGuard guard;
  guard.add(uppercaser);
  EXPECT_EQ(uppercaser.submit("hello"), "HELLO");
  EXPECT_EQ(uppercaser.submit("world"), "WORLD");
  uppercaser.stop();
  ASSERT_TRUE(uppercaser.join(20s));
  EXPECT_EQ(uppercaser.exitcode(), 0);
}

namespace {
struct ZeroDivisionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A name for a file the child creates (O_EXCL), as os_helper.TESTFN.
std::string temp_name() {
  char path[] = "/tmp/mpx-conformance-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd >= 0) ::close(fd);
  ::unlink(path);
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

// CPython: _test_multiprocessing._TestSubclassingProcess.test_stderr_flush
TEST(TestSubclassingProcess, StderrFlush) {
  // sys.stderr is flushed at process shutdown (issue #13812). The child's
  // stderr is made fully buffered, as Python's sys.stderr is, so the report
  // of the uncaught exception sits in the buffer until mpx flushes it.
  std::string testfn = temp_name();
  mpx::Process proc([&testfn] {
    int fd = ::open(testfn.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ::dup2(fd, STDERR_FILENO);
    static char buf[8192];
    std::setvbuf(stderr, buf, _IOFBF, sizeof buf);
    throw ZeroDivisionError("division by zero: 1/0 # MARKER");
  });
  proc.start();
  ChildGuard guard;
  guard.add(proc);
  ASSERT_TRUE(proc.join(20s));
  std::string err = read_file(testfn);
  ::unlink(testfn.c_str());
  // The whole report was printed.
  EXPECT_NE(err.find("ZeroDivisionError"), std::string::npos) << err;
  EXPECT_NE(err.find("1/0 # MARKER"), std::string::npos) << err;
  EXPECT_EQ(proc.exitcode(), 1);
}

// CPython: _test_multiprocessing._TestSubclassingProcess.test_sys_exit
TEST(TestSubclassingProcess, SysExit) {
  ChildGuard guard;
  auto run = [&](mpx::Process p) -> std::optional<int> {
    p.set_daemon(true);
    p.start();
    guard.add(p);
    if (!p.join(20s)) return std::nullopt;
    return p.exitcode();
  };
  // target=sys.exit with args (True,), (False,), (8,), (None,), ()
  EXPECT_EQ(run(mpx::Process(mpx::exit, true)), 1);
  EXPECT_EQ(run(mpx::Process(mpx::exit, false)), 0);
  EXPECT_EQ(run(mpx::Process(mpx::exit, 8)), 8);
  EXPECT_EQ(run(mpx::Process([] { mpx::exit(); })), 0);
}

// ---- _TestPollEintr ---------------------------------------------------------

namespace {
volatile sig_atomic_t g_got_signal = 0;
void record_signal(int) { g_got_signal = 1; }
}  // namespace

// CPython: _test_multiprocessing._TestPollEintr.test_poll_eintr
TEST(TestPollEintr, PollEintr) {
  // Check that Process.join() retries if the wait fails with EINTR. Python's
  // killer sleeps 0.1 s so that the parent is inside join(); here it waits
  // until the parent sleeps in the kernel, and the joined child (Python:
  // time.sleep(2)) runs until the killer has sent its signal.
  g_got_signal = 0;
  struct sigaction sa {};
  struct sigaction old {};
  sa.sa_handler = record_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the signal interrupts the wait
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);

  int pid = ::getpid();
  auto [release_r, release_w] = mpx::Pipe(false);
  ChildGuard guard;
  mpx::Process p([&release_r] { (void)release_r.poll(20s); });
  p.start();
  guard.add(p);
  mpx::Process killer([&release_w, pid] {
    wait_until_sleeping(pid);
    ::kill(pid, SIGUSR1);
    release_w.send(true);
  });
  killer.start();
  guard.add(killer);

  p.join();
  ASSERT_TRUE(killer.join(20s));
  ::sigaction(SIGUSR1, &old, nullptr);
  EXPECT_TRUE(g_got_signal);
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(killer.exitcode(), 0);
}

// ---- TestCloseFds -----------------------------------------------------------

// CPython: _test_multiprocessing.TestCloseFds.test_closefd
TEST(TestCloseFds, Closefd) {
  // Under fork the child inherits every descriptor, close-on-exec ones
  // included: a socket with a high fd number is usable there (e is None).
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(s, 0);
  int fd = ::fcntl(s, F_DUPFD_CLOEXEC, 50);
  ::close(s);
  ASSERT_GE(fd, 50);

  auto [reader, writer] = mpx::Pipe();
  mpx::Process p([&writer, fd] {
    int type = 0;
    socklen_t len = sizeof type;
    int rc = ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
    writer.send(rc != 0 ? errno : type == SOCK_STREAM ? 0 : -1);
  });
  p.start();
  ChildGuard guard;
  guard.add(p);
  writer.close();
  ASSERT_TRUE(reader.poll(20s));
  int e = reader.recv<int>();
  ASSERT_TRUE(p.join(20s));
  ::close(fd);
  EXPECT_EQ(e, 0);
}
