// mpx::SharedMemory and mpx::ShareableList: Python's rules and errors,
// attaching from another process by name, the layout of a list, and what the
// resource tracker records. Kill -9 cases are in fault/shared_memory_fault_test.cpp.
#include "mpx/shared_memory.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "mpx/connection.hpp"
#include "mpx/context.hpp"
#include "mpx/process.hpp"
#include "os/resource_tracker.hpp"
#include "support/child.hpp"
#include "support/shm_program.hpp"

using namespace std::chrono_literals;
using V = mpx::ShareableList::Value;
namespace tracker = mpx::detail::resource_tracker;

namespace {

testing::Environment* const kTracker = testing::AddGlobalTestEnvironment(new mpx::test::TrackerEnvironment);

std::string unique(const std::string& prefix) { return "mpx_test_" + prefix + "_" + std::to_string(::getpid()); }

bool is_registered(const mpx::SharedMemory& shm) {
  auto names = tracker::registered();
  return std::count(names.begin(), names.end(), "/" + shm.name()) > 0;
}

}  // namespace

TEST(SharedMemory, CreateAttachByNameAndReadBack) {
  auto name = unique("basic");
  mpx::SharedMemory shm(name, true, 512);
  EXPECT_EQ(shm.name(), name);
  EXPECT_EQ(shm.size(), 512u);
  EXPECT_EQ(shm.buf().size(), 512u);
  EXPECT_TRUE(mpx::test::shm_exists(name));
  shm.buf()[0] = std::byte{42};
  {
    mpx::SharedMemory other({.name = name, .size = 20 * 512});  // size is ignored when attaching
    EXPECT_EQ(other.size(), 512u);
    EXPECT_EQ(other.buf()[0], std::byte{42});
    other.buf()[1] = std::byte{43};
  }
  EXPECT_EQ(shm.buf()[1], std::byte{43});
  EXPECT_EQ(shm.repr(), "SharedMemory('" + name + "', size=512)");
  shm.close();
  shm.unlink();
  EXPECT_FALSE(mpx::test::shm_exists(name));
}

TEST(SharedMemory, RandomNameLooksLikePythons) {
  mpx::SharedMemory shm(std::nullopt, true, 1);
  EXPECT_EQ(shm.name().rfind("psm_", 0), 0u) << shm.name();
  EXPECT_EQ(shm.name().size(), 12u);  // "psm_" + 8 hex digits; POSIX name 13 <= 14 (FreeBSD)
  EXPECT_TRUE(mpx::test::shm_exists(shm.name()));
  mpx::SharedMemory second({.create = true, .size = 1});
  EXPECT_NE(shm.name(), second.name());
  shm.unlink();
  second.unlink();
}

TEST(SharedMemory, ArgumentErrorsArePythons) {
  auto value_error = [](auto make, const std::string& message) {
    try {
      make();
      ADD_FAILURE() << "no ValueError; expected " << message;
    } catch (const mpx::ValueError& e) {
      EXPECT_EQ(e.what(), message);
    }
  };
  value_error([] { mpx::SharedMemory({.create = true, .size = -2}); }, "'size' must be a positive integer");
  value_error([] { mpx::SharedMemory({.create = true, .size = 0}); },
              "'size' must be a positive number different from zero");
  value_error([] { mpx::SharedMemory({.create = true}); }, "'size' must be a positive number different from zero");
  value_error([] { mpx::SharedMemory({.create = false}); }, "'name' can only be None if create=True");
  value_error([] { mpx::SharedMemory(std::string("a\0b", 3)); }, "embedded null character");
}

TEST(SharedMemory, AttachMissingIsFileNotFoundCreateExistingIsFileExists) {
  auto name = unique("exists");
  try {
    mpx::SharedMemory absent(name);
    ADD_FAILURE() << "attached to a name that does not exist";
  } catch (const mpx::FileNotFoundError& e) {
    EXPECT_EQ(e.errno_value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("/" + name), std::string::npos) << e.what();
  }
  mpx::SharedMemory shm(name, true, 64);
  EXPECT_THROW(mpx::SharedMemory(name, true, 64), mpx::FileExistsError);
  EXPECT_THROW(mpx::SharedMemory(name, true, 64), mpx::OSError);
  shm.unlink();
  EXPECT_THROW(shm.unlink(), mpx::FileNotFoundError);  // shm_unlink succeeds once
}

TEST(SharedMemory, AttachingAnEmptySegmentIsValueError) {
  auto name = unique("empty");
  { auto fd = mpx::detail::Fd::shm_open(("/" + name).c_str(), O_CREAT | O_EXCL | O_RDWR); }
  EXPECT_THROW(mpx::SharedMemory{name}, mpx::ValueError);
  EXPECT_TRUE(mpx::test::shm_exists(name));  // unlike Python, a failed attach does not unlink
  ::shm_unlink(("/" + name).c_str());
}

TEST(SharedMemory, CloseKeepsNameAndSizeAndMoveTransfersTheMapping) {
  mpx::SharedMemory shm({.create = true, .size = 100});
  auto name = shm.name();
  mpx::SharedMemory moved(std::move(shm));
  EXPECT_TRUE(shm.buf().empty());
  EXPECT_EQ(moved.name(), name);
  moved.close();
  moved.close();
  EXPECT_TRUE(moved.buf().empty());
  EXPECT_EQ(moved.size(), 100u);
  EXPECT_EQ(moved.name(), name);
  shm.unlink();  // a moved-from handle has no name: a no-op, as Python's unlink() without _name
  moved.unlink();
  EXPECT_FALSE(mpx::test::shm_exists(name));
}

TEST(SharedMemory, ChildAttachesKnowingOnlyTheName) {
  mpx::SharedMemory shm({.create = true, .size = 512});
  mpx::Process p(
      [](const std::string& name) {
        mpx::SharedMemory local(name);
        std::memcpy(local.buf().data(), "howdy", 5);
      },
      shm.name());
  p.start();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(std::memcmp(shm.buf().data(), "howdy", 5), 0);
  shm.unlink();
}

TEST(SharedMemory, ParentAttachesWhatAChildCreated) {
  auto [r, w] = mpx::Pipe(false);
  mpx::Process p([&w] {
    mpx::SharedMemory made({.create = true, .size = 64});
    made.buf()[7] = std::byte{7};
    w.send(made.name());
  });  // exits without unlink: the block belongs to the program, which lives on
  p.start();
  ASSERT_TRUE(r.poll(20s));
  auto name = r.recv<std::string>();
  ASSERT_TRUE(p.join(20s));
  mpx::SharedMemory seen(name);
  EXPECT_EQ(seen.buf()[7], std::byte{7});
  EXPECT_TRUE(is_registered(seen));  // the child's registration is in the program's table
  seen.unlink();                     // from another process than the creator: unregisters all the same
  EXPECT_FALSE(is_registered(seen));
}

TEST(SharedMemory, TrackerRecordsWhatIsCreatedNotWhatIsAttached) {
  ASSERT_NE(tracker::tracker_pid(), 0);
  mpx::SharedMemory shm({.create = true, .size = 16});
  EXPECT_TRUE(is_registered(shm));
  auto before = tracker::registered().size();
  mpx::SharedMemory attached(shm.name());
  EXPECT_EQ(tracker::registered().size(), before);
  {
    mpx::SharedMemory tracked({.name = shm.name(), .track = true});  // Python's default for attach
    EXPECT_EQ(tracker::registered().size(), before + 1);
  }
  attached.unlink();  // the name is gone: every registration of it goes too
  EXPECT_EQ(tracker::registered().size(), before - 1);
  EXPECT_FALSE(is_registered(shm));
  EXPECT_THROW(shm.unlink(), mpx::FileNotFoundError);
  mpx::SharedMemory untracked({.create = true, .size = 16, .track = false});
  EXPECT_FALSE(is_registered(untracked));
  untracked.unlink();
}

TEST(SharedMemory, TrackerIsNotAChildOfTheProgram) {
  int pid = tracker::tracker_pid();
  ASSERT_GT(pid, 0);
  mpx::test::Watch watch(pid);
  ASSERT_TRUE(watch.valid());
  EXPECT_FALSE(watch.exited_within(0));
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto fields = line.substr(line.rfind(')') + 2);  // "S ppid pgrp session ..."
  int ppid = std::stoi(fields.substr(2));
  EXPECT_NE(ppid, ::getpid());
  EXPECT_TRUE(mpx::active_children().empty());
}

TEST(SharedMemory, ChildrenShareTheProgramsTracker) {
  auto [r, w] = mpx::Pipe(false);
  mpx::Process p([&w] {
    mpx::SharedMemory made({.create = true, .size = 8});
    w.send(std::make_tuple(tracker::tracker_pid(), made.name()));
    made.unlink();
  });
  p.start();
  ASSERT_TRUE(r.poll(20s));
  auto [pid, name] = r.recv<std::tuple<int, std::string>>();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(pid, tracker::tracker_pid());
  auto names = tracker::registered();
  EXPECT_EQ(std::count(names.begin(), names.end(), "/" + name), 0);
}

TEST(SharedMemory, ProgramThatExitsWithoutUnlinkIsCleanedUpWithAWarning) {
  mpx::test::StderrCapture err;
  auto [r, w] = mpx::Pipe(false);
  mpx::Process program([&] {
    tracker::leave_program();  // a program of its own, as if exec'd
    err.into_stderr();
    mpx::SharedMemory leaked({.create = true, .size = 10});
    w.send(leaked.name());
  });
  program.start();
  err.parent_side();
  ASSERT_TRUE(r.poll(20s));
  auto name = r.recv<std::string>();
  ASSERT_TRUE(program.join(20s));
  auto text = err.read_all();  // EOF: the program's tracker has exited too
  EXPECT_NE(text.find("resource_tracker: There appear to be 1 leaked shared_memory objects to clean up at shutdown"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("'/" + name + "'"), std::string::npos) << text;
  EXPECT_FALSE(mpx::test::shm_exists(name));
}

TEST(SharedMemory, FirstCreateWorksWithSigchldIgnoredAndAnotherChildRunning) {
  // Starting the tracker forks and reaps a helper process: with SIGCHLD
  // ignored the kernel reaps it first, and a child of the program that never
  // exits must not make the create wait either.
  auto [r, w] = mpx::Pipe(false);
  mpx::Process program([&w] {
    tracker::leave_program();
    ::signal(SIGCHLD, SIG_IGN);
    mpx::Process sleeper(mpx::ProcessOptions{.daemon = true}, [] { mpx::test::block_forever(); });
    sleeper.start();
    mpx::SharedMemory shm({.create = true, .size = 8});
    w.send(tracker::tracker_pid() > 0);
    shm.unlink();
    sleeper.kill();
  });
  program.start();
  mpx::test::ChildGuard guard;
  guard.add(program);
  ASSERT_TRUE(r.poll(20s)) << "the first create hung";
  EXPECT_TRUE(r.recv<bool>());
  ASSERT_TRUE(program.join(20s));
}

namespace {
void write_into(mpx::SharedMemory& shm, int value) { std::memcpy(shm.buf().data(), &value, sizeof value); }
}  // namespace

// The list of shared objects as arguments includes SharedMemory: it
// travels by name, as Python pickles it.
TEST(SharedMemory, TravelsByNameToChildrenOfEveryStartMethod) {
  mpx::SharedMemory shm({.create = true, .size = 64});
  for (const std::string method : {"fork", "spawn", "forkserver"}) {
    SCOPED_TRACE(method);
    mpx::SharedMemory handle(shm.name());
    auto p = mpx::get_context(method).Process(write_into, std::move(handle), 41 + static_cast<int>(method.size()));
    p.start();
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
    int got = 0;
    std::memcpy(&got, shm.buf().data(), sizeof got);
    EXPECT_EQ(got, 41 + static_cast<int>(method.size()));
  }
  shm.close();
  shm.unlink();
}
