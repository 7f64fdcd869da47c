// kill -9 and named shared memory: whatever a program leaves in /dev/shm is
// unlinked once every process of it is gone, and nothing else is.
//
// This test process never creates a segment (it only attaches, which does
// not start a tracker): each "program" is a child that starts its own. Every
// wait is bounded: the tracker's exit is watched through a pidfd, the
// program's stderr (which the tracker inherits) is read until EOF.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vector>

#include "mpx/connection.hpp"
#include "mpx/process.hpp"
#include "mpx/shared_memory.hpp"
#include "support/child.hpp"
#include "support/shm_program.hpp"

using namespace std::chrono_literals;
using mpx::test::shm_exists;
using mpx::test::Watch;
using V = mpx::ShareableList::Value;
namespace tracker = mpx::detail::resource_tracker;

namespace {

std::string unique(const std::string& what) { return "mpx_fault_" + what + "_" + std::to_string(::getpid()); }

bool contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

}  // namespace

TEST(SharedMemoryFault, CreatorKilledBeforeUnlinkIsReclaimed) {
  mpx::test::StderrCapture err;
  auto [r, w] = mpx::Pipe();
  mpx::Process creator([&] {
    err.into_stderr();
    mpx::SharedMemory shm({.create = true, .size = 4096});
    mpx::ShareableList sl({"x", 1});
    w.send(std::make_tuple(shm.name(), sl.shm().name(), tracker::tracker_pid()));
    mpx::test::block_forever();
  });
  creator.start();
  mpx::test::ChildGuard guard;
  guard.add(creator);
  err.parent_side();
  ASSERT_TRUE(r.poll(20s));
  auto [a, b, pid] = r.recv<std::tuple<std::string, std::string, int>>();
  Watch tracker_process(pid);
  ASSERT_TRUE(tracker_process.valid());
  EXPECT_TRUE(shm_exists(a));
  {
    mpx::ShareableList seen(std::nullopt, b);  // attachable while its creator lives
    EXPECT_EQ(seen.get(1), V(1));
  }
  creator.kill();
  ASSERT_TRUE(creator.join(20s));
  EXPECT_EQ(creator.exitcode(), -SIGKILL);
  ASSERT_TRUE(tracker_process.exited_within(20000)) << "the tracker outlived its program";
  EXPECT_FALSE(shm_exists(a));
  EXPECT_FALSE(shm_exists(b));
  auto text = err.read_all();
  EXPECT_TRUE(contains(text, "There appear to be 2 leaked shared_memory objects to clean up at shutdown")) << text;
}

TEST(SharedMemoryFault, ReclaimedOnlyWhenTheWholeProgramTreeIsGone) {
  // P creates s0 (starting the tracker), then two children: C1 creates s1
  // and is killed; C2 just lives on. P is killed next; C2, not a daemon, is
  // orphaned and keeps the program alive until it is killed too.
  mpx::test::StderrCapture err;
  auto [r, w] = mpx::Pipe();
  auto [r1, w1] = mpx::Pipe();
  mpx::Process p([&] {
    err.into_stderr();
    mpx::SharedMemory s0({.create = true, .size = 64});
    mpx::Process c1([&] {
      mpx::SharedMemory s1({.create = true, .size = 64});
      w1.send(std::make_tuple(s1.name(), static_cast<int>(::getpid())));
      mpx::test::block_forever();
    });
    mpx::Process c2([] { mpx::test::block_forever(); });
    c1.start();
    c2.start();
    w.send(std::make_tuple(s0.name(), tracker::tracker_pid(), c2.pid()));
    mpx::test::block_forever();
  });
  p.start();
  mpx::test::ChildGuard guard;
  guard.add(p);
  err.parent_side();
  ASSERT_TRUE(r1.poll(20s));
  auto first = r1.recv<std::tuple<std::string, int>>();
  ASSERT_TRUE(r.poll(20s));
  auto second = r.recv<std::tuple<std::string, int, int>>();
  auto [s1, c1_pid] = first;
  auto [s0, tracker_pid, c2_pid] = second;
  Watch c1(c1_pid), c2(c2_pid), tracker_process(tracker_pid);
  ASSERT_TRUE(c1.valid() && c2.valid() && tracker_process.valid());

  c1.kill();
  ASSERT_TRUE(c1.exited_within(20000));
  // The tracker acts only at EOF of its pipe, which P and C2 still hold.
  EXPECT_FALSE(tracker_process.exited_within(0));
  EXPECT_TRUE(shm_exists(s1));

  p.kill();
  ASSERT_TRUE(p.join(20s));
  EXPECT_FALSE(tracker_process.exited_within(0));
  EXPECT_TRUE(shm_exists(s0));
  EXPECT_TRUE(shm_exists(s1));

  c2.kill();
  ASSERT_TRUE(c2.exited_within(20000));
  ASSERT_TRUE(tracker_process.exited_within(20000));
  EXPECT_FALSE(shm_exists(s0));
  EXPECT_FALSE(shm_exists(s1));
  EXPECT_TRUE(contains(err.read_all(), "There appear to be 2 leaked"));
}

TEST(SharedMemoryFault, NamesUnlinkedAndReusedByAnotherProgramAreLeftAlone) {
  auto x = unique("x"), y = unique("y");
  mpx::test::StderrCapture err;
  auto [r, w] = mpx::Pipe();
  mpx::Process p([&] {
    err.into_stderr();
    mpx::SharedMemory mine_x(x, true, 8);
    mine_x.unlink();  // unregisters: the tracker forgets x
    w.send(1);
    (void)w.recv<int>();
    mpx::SharedMemory mine_y(y, true, 8);  // stays registered
    w.send(2);
    mpx::test::block_forever();
  });
  p.start();
  mpx::test::ChildGuard guard;
  guard.add(p);
  err.parent_side();
  ASSERT_TRUE(r.poll(20s));
  (void)r.recv<int>();
  mpx::SharedMemory theirs_x({.name = x, .create = true, .size = 8, .track = false});
  r.send(0);
  ASSERT_TRUE(r.poll(20s));
  (void)r.recv<int>();
  mpx::SharedMemory(y).unlink();  // someone else unlinks y, bypassing p's tracker ...
  mpx::SharedMemory theirs_y({.name = y, .create = true, .size = 8, .track = false});  // ... and reuses it
  theirs_x.buf()[0] = theirs_y.buf()[0] = std::byte{0x5a};
  p.kill();
  ASSERT_TRUE(p.join(20s));
  auto text = err.read_all();  // EOF: p's tracker has exited
  EXPECT_FALSE(contains(text, "leaked")) << text;
  ASSERT_TRUE(shm_exists(x));
  ASSERT_TRUE(shm_exists(y));
  EXPECT_EQ(mpx::SharedMemory(x).buf()[0], std::byte{0x5a});
  EXPECT_EQ(mpx::SharedMemory(y).buf()[0], std::byte{0x5a});
  theirs_x.unlink();
  theirs_y.unlink();
}

TEST(SharedMemoryFault, KilledTrackerIsRelaunchedAndKeepsRegistrations) {
  mpx::test::StderrCapture err;
  auto [r, w] = mpx::Pipe();
  mpx::Process p([&] {
    err.into_stderr();
    mpx::SharedMemory s1({.create = true, .size = 64});
    w.send(std::make_tuple(s1.name(), tracker::tracker_pid()));
    (void)w.recv<int>();  // the tracker is dead now
    mpx::SharedMemory s2({.create = true, .size = 64});
    w.send(std::make_tuple(s2.name(), tracker::tracker_pid()));
    mpx::test::block_forever();
  });
  p.start();
  mpx::test::ChildGuard guard;
  guard.add(p);
  err.parent_side();
  ASSERT_TRUE(r.poll(20s));
  auto [s1, first_pid] = r.recv<std::tuple<std::string, int>>();
  {
    Watch first(first_pid);
    ASSERT_TRUE(first.valid());
    first.kill();
    ASSERT_TRUE(first.exited_within(20000));
  }
  r.send(0);
  ASSERT_TRUE(r.poll(20s));
  auto [s2, second_pid] = r.recv<std::tuple<std::string, int>>();
  EXPECT_NE(second_pid, first_pid);
  Watch second(second_pid);
  ASSERT_TRUE(second.valid());
  EXPECT_FALSE(second.exited_within(0));
  p.kill();
  ASSERT_TRUE(p.join(20s));
  ASSERT_TRUE(second.exited_within(20000));
  EXPECT_FALSE(shm_exists(s1));  // registered with the first tracker, reaped by the second
  EXPECT_FALSE(shm_exists(s2));
  auto text = err.read_all();
  EXPECT_TRUE(contains(text, "died unexpectedly")) << text;
  EXPECT_TRUE(contains(text, "There appear to be 2 leaked")) << text;
}

TEST(SharedMemoryFault, KilledAtAnyPointOfCreateOrUnlinkLeavesNothing) {
  // A program creating and unlinking segments as fast as it can is killed at
  // an arbitrary point, twenty times: none of its names may be left. (Its
  // names carry a prefix of their own: other programs on the machine may be
  // using /dev/shm meanwhile.)
  const std::string prefix = unique("storm") + "_";
  auto left = [&prefix] {
    std::vector<std::string> found;
    for (const auto& name : mpx::test::list_shm()) {
      if (name.rfind(prefix, 0) == 0) found.push_back(name);
    }
    return found;
  };
  for (int round = 0; round < 20; ++round) {
    mpx::test::StderrCapture err;  // the tracker's list of what it reaped
    auto [r, w] = mpx::Pipe();
    mpx::Process p([&] {
      err.into_stderr();
      mpx::SharedMemory first(prefix + "first", true, 64);  // starts the tracker
      w.send(tracker::tracker_pid());
      for (int i = 0;; ++i) {
        mpx::SharedMemory shm(prefix + std::to_string(i), true, 4096);
        if (i == 200) w.send(0);  // the parent kills from here on
        if (i % 3 != 0) shm.unlink();
      }
    });
    p.start();
    mpx::test::ChildGuard guard;
    guard.add(p);
    err.parent_side();
    ASSERT_TRUE(r.poll(20s));
    Watch tracker_process(r.recv<int>());
    ASSERT_TRUE(r.poll(20s));
    (void)r.recv<int>();
    p.kill();
    ASSERT_TRUE(p.join(20s));
    EXPECT_TRUE(contains(err.read_all(), "leaked shared_memory objects"));  // read to EOF: never blocks the tracker
    ASSERT_TRUE(tracker_process.exited_within(20000));
    auto names = left();
    ASSERT_TRUE(names.empty()) << "round " << round << " left " << names.front();
  }
}
