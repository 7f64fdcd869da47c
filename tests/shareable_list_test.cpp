// mpx::ShareableList: Python's layout byte for byte, fixed slots, type
// changes, Python's == in count/index, repr, and attaching from a child.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "mpx/connection.hpp"
#include "mpx/process.hpp"
#include "mpx/shared_memory.hpp"
#include "support/shm_program.hpp"

using namespace std::chrono_literals;
using V = mpx::ShareableList::Value;

namespace {

testing::Environment* const kTracker = testing::AddGlobalTestEnvironment(new mpx::test::TrackerEnvironment);

template <class T>
T at(const mpx::ShareableList& sl, std::size_t offset) {
  T v;
  std::memcpy(&v, sl.shm().buf().data() + offset, sizeof v);
  return v;
}

std::string bytes_at(const mpx::ShareableList& sl, std::size_t offset, std::size_t n) {
  return std::string(reinterpret_cast<const char*>(sl.shm().buf().data() + offset), n);
}

// Unlinks a list's block at scope exit, however the test leaves.
struct Unlink {
  mpx::ShareableList& sl;
  ~Unlink() {
    try {
      sl.shm().unlink();
    } catch (const mpx::OSError&) {
    }
  }
};

}  // namespace

TEST(ShareableList, LayoutIsPythonsByteForByte) {
  mpx::ShareableList sl({1, "ab"});
  Unlink cleanup{sl};
  // n | offsets 0 8 16 | q: 1 | 8s: "ab" | formats "q", "8s" | codes 0 1
  ASSERT_EQ(sl.shm().size(), 66u);
  EXPECT_EQ(at<std::int64_t>(sl, 0), 2);
  EXPECT_EQ(at<std::int64_t>(sl, 8), 0);
  EXPECT_EQ(at<std::int64_t>(sl, 16), 8);
  EXPECT_EQ(at<std::int64_t>(sl, 24), 16);
  EXPECT_EQ(at<std::int64_t>(sl, 32), 1);
  EXPECT_EQ(bytes_at(sl, 40, 8), std::string("ab\0\0\0\0\0\0", 8));
  EXPECT_EQ(bytes_at(sl, 48, 16), std::string("q\0\0\0\0\0\0\08s\0\0\0\0\0\0", 16));
  EXPECT_EQ(bytes_at(sl, 64, 2), std::string("\0\1", 2));
}

TEST(ShareableList, EveryPythonTypeRoundTrips) {
  std::vector<V> items{"howdy", mpx::bytes("HoWdY"), -273.154, 100, mpx::None, true, 42, false, std::string(), 1.5};
  mpx::ShareableList sl(items);
  Unlink cleanup{sl};
  EXPECT_EQ(sl.size(), items.size());
  EXPECT_EQ(sl.tolist(), items);
  EXPECT_EQ(sl.format(), "8s8sdqxxxxxx?xxxxxxxx?qxxxxxxx?8sd");
  EXPECT_EQ(V(sl[-1]), V(1.5));
  EXPECT_EQ(sl.get(-10), V("howdy"));
}

TEST(ShareableList, SlotsAreFixedAndTypesMayChange) {
  mpx::ShareableList sl({"some", 7});
  Unlink cleanup{sl};
  sl[1] = "8 bytes!";  // an 8-byte slot takes 8 bytes of str
  EXPECT_EQ(sl.format(), "8s8s");
  EXPECT_EQ(sl.get(1), V("8 bytes!"));
  try {
    sl[1] = "9 bytes!!";
    ADD_FAILURE() << "no ValueError";
  } catch (const mpx::ValueError& e) {
    EXPECT_STREQ(e.what(), "bytes/str item exceeds available storage");
  }
  EXPECT_THROW(sl[0] = mpx::bytes("123456789"), mpx::ValueError);
  EXPECT_EQ(sl.get(1), V("8 bytes!"));
  sl[0] = 3.25;
  sl[1] = mpx::None;
  EXPECT_EQ(sl.format(), "dxxxxxx?x");
  EXPECT_EQ(sl.tolist(), (std::vector<V>{3.25, mpx::None}));
  sl[0] = mpx::bytes("back");  // a slot that held a float takes bytes again, up to its 8 bytes
  EXPECT_EQ(sl.get(0), V(mpx::bytes("back")));
  EXPECT_EQ(sl.format(), "8sxxxxxx?x");
}

TEST(ShareableList, IndexErrorsAreNamedAsInPython) {
  mpx::ShareableList sl({1, 2});
  Unlink cleanup{sl};
  try {
    (void)sl.get(2);
    ADD_FAILURE();
  } catch (const mpx::IndexError& e) {
    EXPECT_STREQ(e.what(), "index out of range");
  }
  try {
    sl.set(-3, 0);
    ADD_FAILURE();
  } catch (const mpx::IndexError& e) {
    EXPECT_STREQ(e.what(), "assignment index out of range");
  }
}

TEST(ShareableList, CountAndIndexUsePythonsEquality) {
  mpx::ShareableList sl({1, 1.0, true, "1", mpx::bytes("1"), mpx::None, 2.5});
  Unlink cleanup{sl};
  EXPECT_EQ(sl.count(1), 3u);  // 1 == 1.0 == True
  EXPECT_EQ(sl.count(true), 3u);
  EXPECT_EQ(sl.count("1"), 1u);  // a str never equals bytes
  EXPECT_EQ(sl.count(mpx::bytes("1")), 1u);
  EXPECT_EQ(sl.index(mpx::None), 5u);
  EXPECT_EQ(sl.index(2.5), 6u);
  try {
    (void)sl.index("x");
    ADD_FAILURE();
  } catch (const mpx::ValueError& e) {
    EXPECT_STREQ(e.what(), "'x' not in this container");
  }
  mpx::ShareableList big({std::int64_t{9007199254740993}});  // 2**53 + 1: no double equals it
  Unlink cleanup_big{big};
  EXPECT_EQ(big.count(9007199254740992.0), 0u);
  EXPECT_EQ(big.count(std::int64_t{9007199254740993}), 1u);
}

TEST(ShareableList, ReprIsPythons) {
  mpx::ShareableList sl({"howdy", mpx::bytes("HoWdY"), -273.154, 100, mpx::None, true, 42});
  Unlink cleanup{sl};
  EXPECT_EQ(sl.repr(),
            "ShareableList(['howdy', b'HoWdY', -273.154, 100, None, True, 42], name='" + sl.shm().name() + "')");
  EXPECT_EQ(mpx::repr(100.0), "100.0");
  EXPECT_EQ(mpx::repr(1e16), "1e+16");
  EXPECT_EQ(mpx::repr(1.5e-5), "1.5e-05");
  EXPECT_EQ(mpx::repr(0.0001), "0.0001");
  EXPECT_EQ(mpx::repr(-0.0), "-0.0");
  EXPECT_EQ(mpx::repr(123456789012345680.0), "1.2345678901234568e+17");
  EXPECT_EQ(mpx::repr("it's"), "\"it's\"");
  EXPECT_EQ(mpx::repr(mpx::bytes("\x01\xff\n")), "b'\\x01\\xff\\n'");
}

TEST(ShareableList, StrSlotsCountCharactersAsPythonDoesAndNeverTruncate) {
  mpx::ShareableList sl({"encod\xc3\xa9s", "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"});  // 'encodés', '€€€'
  Unlink cleanup{sl};
  // Python: 7 characters -> "8s" (the 8 UTF-8 bytes fit); 3 characters -> "8s"
  // too, but the 9 bytes would be cut; mpx gives that one 16 bytes instead.
  EXPECT_EQ(sl.format(), "8s16s");
  EXPECT_EQ(sl.get(0), V("encod\xc3\xa9s"));
  EXPECT_EQ(sl.get(1), V("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"));
}

TEST(ShareableList, TrailingNulsAreDroppedAsInPython) {
  mpx::ShareableList sl({std::string("a\0", 2), mpx::bytes(std::string_view("b\0\0", 3))});
  Unlink cleanup{sl};
  EXPECT_EQ(sl.get(0), V("a"));
  EXPECT_EQ(sl.get(1), V(mpx::bytes("b")));
}

TEST(ShareableList, AChildAttachesByNameAndWrites) {
  mpx::ShareableList sl({0, "........", mpx::None});
  Unlink cleanup{sl};
  mpx::Process p(
      [](const std::string& name) {
        mpx::ShareableList mine(std::nullopt, name);  // ShareableList(name=name)
        mine[0] = 880;
        mine[1] = "tethered";
        mine[2] = false;
      },
      sl.shm().name());
  p.start();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(sl.tolist(), (std::vector<V>{880, "tethered", false}));
}

TEST(ShareableList, AttachingSomethingElseIsValueErrorNotACrash) {
  mpx::SharedMemory shm({.create = true, .size = 64});
  std::int64_t huge = std::int64_t{1} << 60;
  std::memcpy(shm.buf().data(), &huge, sizeof huge);
  EXPECT_THROW(mpx::ShareableList(std::nullopt, shm.name()), mpx::ValueError);
  std::int64_t one = 1, bad_offsets[2] = {0, 1000};
  std::memcpy(shm.buf().data(), &one, 8);
  std::memcpy(shm.buf().data() + 8, bad_offsets, 16);
  EXPECT_THROW(mpx::ShareableList(std::nullopt, shm.name()), mpx::ValueError);
  shm.unlink();
}

TEST(ShareableList, AnItemWhoseFormatWasScribbledOnIsValueError) {
  mpx::ShareableList sl({1, 2});
  Unlink cleanup{sl};
  std::memcpy(sl.shm().buf().data() + 48, "9999s\0\0\0", 8);  // item 0 now claims 9999 bytes
  EXPECT_THROW((void)sl.get(0), mpx::ValueError);
  EXPECT_THROW(sl.set(0, "x"), mpx::ValueError);
  std::memcpy(sl.shm().buf().data() + 48, "zzs\0\0\0\0\0", 8);  // not a format at all
  EXPECT_THROW((void)sl.get(0), mpx::ValueError);
  EXPECT_THROW(sl.set(0, "x"), mpx::ValueError);
  EXPECT_EQ(sl.get(1), V(2));
}

TEST(ShareableList, ClosedListRaisesValueError) {
  mpx::ShareableList sl({1});
  Unlink cleanup{sl};
  sl.shm().close();
  EXPECT_THROW((void)sl.get(0), mpx::ValueError);
}
