// Fd: ownership, CLOEXEC on everything, factories, EINTR in wait_readable.
#include "mpx/detail/fd.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpx/errors.hpp"
#include "os/sys.hpp"

using mpx::detail::Fd;

namespace {
bool cloexec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }
bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }
}  // namespace

TEST(Fd, ClosesOnDestructionAndMove) {
  int raw;
  {
    auto [r, w] = Fd::pipe();
    raw = r.get();
    Fd moved = std::move(r);
    EXPECT_FALSE(r);
    EXPECT_EQ(moved.get(), raw);
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_FALSE(is_open(raw));
}

TEST(Fd, ReleaseGivesUpOwnership) {
  auto [r, w] = Fd::pipe();
  int raw = r.release();
  EXPECT_FALSE(r);
  EXPECT_TRUE(is_open(raw));
  ::close(raw);
}

TEST(Fd, EveryFactoryIsCloexec) {
  auto [r, w] = Fd::pipe();
  auto [a, b] = Fd::socketpair_stream();
  auto m = Fd::memfd("t", 4096);
  auto e = Fd::eventfd();
  auto p = Fd::pidfd_open(::getpid());
  auto d = r.dup();
  auto o = Fd::open("/dev/null", O_RDONLY);
  for (int fd : {r.get(), w.get(), a.get(), b.get(), m.get(), e.get(), p.get(), d.get(), o.get()}) {
    EXPECT_TRUE(cloexec(fd)) << fd;
  }
  struct stat st {};
  ASSERT_EQ(::fstat(m.get(), &st), 0);
  EXPECT_EQ(st.st_size, 4096);
}

TEST(Fd, ErrorsNameTheCall) {
  try {
    Fd::open("/definitely/not/here", O_RDONLY);
    FAIL();
  } catch (const mpx::OSError& e) {
    EXPECT_EQ(e.errno_value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("open /definitely/not/here"), std::string::npos);
  }
  EXPECT_THROW(Fd::pidfd_open(-5), mpx::OSError);
}

TEST(Fd, WaitReadableTimesOutAndSees) {
  auto [r, w] = Fd::pipe();
  EXPECT_FALSE(mpx::detail::wait_readable(r.get(), 0));
  EXPECT_FALSE(mpx::detail::wait_readable(r.get(), 20));
  ASSERT_EQ(::write(w.get(), "x", 1), 1);
  EXPECT_TRUE(mpx::detail::wait_readable(r.get(), -1));
}

namespace {
int eintr_left = 0;
int poll_eintr(pollfd* fds, nfds_t n, int timeout) {
  if (eintr_left > 0) {
    --eintr_left;
    errno = EINTR;
    return -1;
  }
  return ::poll(fds, n, timeout);
}
}  // namespace

TEST(Fd, WaitReadableRetriesEintr) {
  auto& table = mpx::detail::sys::table();
  auto saved = table.poll;
  table.poll = poll_eintr;
  eintr_left = 3;
  auto [r, w] = Fd::pipe();
  ASSERT_EQ(::write(w.get(), "x", 1), 1);
  bool ready = mpx::detail::wait_readable(r.get(), 1000);
  table.poll = saved;
  EXPECT_TRUE(ready);
  EXPECT_EQ(eintr_left, 0);
}
