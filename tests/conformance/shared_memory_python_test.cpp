// mpx and CPython on the same blocks: an mpx ShareableList is read and
// written by Python's multiprocessing.shared_memory, Python's by mpx, and
// both lay the same list out in the same bytes. Skipped when no python3 with
// multiprocessing.shared_memory is on PATH.
//
// Python (before 3.13, and with track=True after) registers a block it
// attaches to with its own resource tracker, which would unlink it when the
// interpreter exits; the scripts unregister it right after attaching.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <optional>

#include "mpx/shared_memory.hpp"
#include "support/shm_program.hpp"

using V = mpx::ShareableList::Value;

namespace {

testing::Environment* const kTracker = testing::AddGlobalTestEnvironment(new mpx::test::TrackerEnvironment);

// Runs `python3 -c script arg` and returns its stdout, or nullopt if it failed.
std::optional<std::string> python(const std::string& script, const std::string& arg = "") {
  std::string cmd = "python3 -c '" + script + "' '" + arg + "' 2>&1";
  std::fflush(nullptr);
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return std::nullopt;
  std::string out;
  char buf[512];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  int status = ::pclose(f);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ADD_FAILURE() << "python3 failed:\n" << out;
    return std::nullopt;
  }
  return out;
}

bool have_python() {
  static const bool ok = [] {
    std::fflush(nullptr);
    return std::system("python3 -c 'import multiprocessing.shared_memory' >/dev/null 2>&1") == 0;
  }();
  return ok;
}

const std::vector<V> kItems{
    "howdy",        mpx::bytes("HoWdY"),   -273.154, 100,  mpx::None, true, 42, "encod\xc3\xa9s", std::string(),
    mpx::bytes(""), std::int64_t{1} << 40, -1.5e300, false};
// The same list as a Python literal.
const char* kPyItems =
    "[\"howdy\", b\"HoWdY\", -273.154, 100, None, True, 42, \"encod\\u00e9s\", \"\", b\"\", 2**40, -1.5e300, False]";

std::string hex(std::span<const std::byte> b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (auto x : b) {
    out += kHex[std::to_integer<int>(x) >> 4];
    out += kHex[std::to_integer<int>(x) & 15];
  }
  return out;
}

}  // namespace

TEST(ShareableListPython, SameBytesAsPython) {
  if (!have_python()) GTEST_SKIP() << "no python3 with multiprocessing.shared_memory";
  auto out = python(std::string("from multiprocessing import shared_memory\n"
                                "sl = shared_memory.ShareableList(") +
                    kPyItems +
                    ")\n"
                    "print(bytes(sl.shm.buf[:sl.shm.size]).hex())\n"
                    "sl.shm.close()\n"
                    "sl.shm.unlink()\n");
  ASSERT_TRUE(out);
  mpx::ShareableList sl(kItems);
  EXPECT_EQ(hex(sl.shm().buf()) + "\n", *out);
  sl.shm().unlink();
}

TEST(ShareableListPython, PythonReadsAndWritesAnMpxList) {
  if (!have_python()) GTEST_SKIP() << "no python3 with multiprocessing.shared_memory";
  mpx::ShareableList sl(kItems);
  auto format = sl.format();
  auto out = python(
      "import sys\n"
      "from multiprocessing import shared_memory, resource_tracker\n"
      "sl = shared_memory.ShareableList(name=sys.argv[1])\n"
      "resource_tracker.unregister(sl.shm._name, \"shared_memory\")\n"
      "print(repr(list(sl)))\n"
      "print(sl.format)\n"
      "sl[0] = \"py!\"\n"
      "sl[3] = 2.5\n"
      "sl[4] = b\"bytes\"\n"
      "sl.shm.close()\n",
      sl.shm().name());
  ASSERT_TRUE(out);
  std::string items;
  for (const auto& v : kItems) items += (items.empty() ? "" : ", ") + mpx::repr(v);
  EXPECT_EQ(*out, "[" + items + "]\n" + format + "\n");
  EXPECT_EQ(sl.get(0), V("py!"));
  EXPECT_EQ(sl.get(3), V(2.5));
  EXPECT_EQ(sl.get(4), V(mpx::bytes("bytes")));
  sl.shm().unlink();
}

TEST(ShareableListPython, MpxReadsAPythonList) {
  if (!have_python()) GTEST_SKIP() << "no python3 with multiprocessing.shared_memory";
  auto out = python(std::string("from multiprocessing import shared_memory, resource_tracker\n"
                                "sl = shared_memory.ShareableList(") +
                    kPyItems +
                    ")\n"
                    "resource_tracker.unregister(sl.shm._name, \"shared_memory\")\n"
                    "print(sl.shm.name, end=\"\")\n"
                    "sl.shm.close()\n");
  ASSERT_TRUE(out);
  mpx::ShareableList sl(std::nullopt, *out);
  EXPECT_EQ(sl.tolist(), kItems);
  EXPECT_EQ(sl.format(), "8s8sdqxxxxxx?xxxxxxxx?q8s8s8sqdxxxxxxx?");
  sl[1] = mpx::bytes("mpx");
  EXPECT_EQ(sl.get(1), V(mpx::bytes("mpx")));
  sl.shm().unlink();
}
