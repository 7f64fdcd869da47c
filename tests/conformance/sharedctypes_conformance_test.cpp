// Ports of CPython's Lib/test/_test_multiprocessing.py for mpx/sharedctypes.hpp:
// _TestValue and _TestArray (python/cpython at commit 00811485ee5f, the commit
// the other ports use). Each TEST names its source. CPython runs both classes
// with TYPE 'processes' only (ALLOWED_TYPES), so every child here is a real
// fork (mpx::Process) and gets the shared objects as Python's children do:
// as Process arguments (copies of the handles, which share one value).
//
// Ported (Python test -> TEST):
//   _TestValue.test_value                TestValue.Value
//   _TestValue.test_rawvalue             TestValue.Rawvalue
//   _TestValue.test_getobj_getlock       TestValue.GetobjGetlock
//   _TestArray.test_array                TestArray.Array
//   _TestArray.test_array_from_size      TestArray.ArrayFromSize
//   _TestArray.test_rawarray             TestArray.Rawarray
//   _TestArray.test_getobj_getlock_obj   TestArray.GetobjGetlockObj
// Beyond the two classes (cases they leave to Python's dynamic typing):
//   TestValue.PlainLockIdiom             Value('i', 0, lock=Lock()) driven as Python must drive it:
//                                        `with v.get_lock(): v.get_obj().value += 1` from children.
//   TestArray.RawarrayFromSize           test_array_from_size's zeroing for RawArray (bpo-11675,
//                                        the bug that test guards against, was RawArray's).
//   TestArray.Initializers               the initializers _TestArray passes: a list, list(range(10)),
//                                        range(10), array.array; and Array('i', 10) is a size.
//   TestArray.SliceBoundsAndErrors       what test_array's slices rely on from ctypes: negative and
//                                        clamped bounds, arr[-1], IndexError, and ValueError for a
//                                        slice assignment of another length.
//   TestArray.CharArrayValueAndRaw       the 'c' typecode of codes_values as an array: .value/.raw,
//                                        doubled in a child (the `string` of _TestSharedCTypes).
//   TestValue.StructureType              typecode_or_type given a ctypes Structure (_Foo): Value and
//                                        Array of a struct, changed in a child.
//
// Typecodes become element types: 'i' int, 'd' double, 'h' short, 'q' long long,
// 'c' char (c_char). Python's spellings become:
//   Value(tc, v), lock=True, lock=None   Value<T>(v), Value<T>(v, true) — a new RLock
//                                        (C++ has no None: leave the argument out)
//   lock=False                           Value<T>(v, false), Array<T>(init, false) — get_lock()
//                                        throws AttributeError (Python: no such attribute)
//   lock=<a lock>                        Value<T>(v, lock), Array<T>(init, lock): an mpx::Lock or
//                                        an mpx::RLock; get_lock() returns it (as an mpx::Lock&)
//   lock='navalue' / 'notalock'          does not compile (Python: AttributeError) — checked
//                                        here with static_assert(!is_constructible) and by the
//                                        ctest sharedctypes_lock_compile_error
//   hasattr(raw, 'get_lock')             RawValue/RawArray have no get_lock member (static_assert)
//   get_obj()                            Value: T*, the shared object; Array: RawArray<T>&, the
//                                        shared array without the lock
//   arr[i], arr[i] = v                   get(i), set(i, v) under the lock (negative i from the end,
//                                        IndexError outside); RawArray: operator[] / at(i)
//   arr[a:b], arr[a:b] = s, arr[:]       slice(a, b), set_slice(a, b, s), to_vector() — under the
//                                        lock for an Array (Python's SynchronizedArray), plain
//                                        for a RawArray
//
// Differences from Python, tested as mpx behaves:
//   - assertEqual(lock, lock3) becomes "the same lock": get_lock() returns a handle that shares
//     the lock given, and what one holds the other (and a child) sees held.
//   - get_obj(): Python's lock=False and Raw objects are bare ctypes objects without get_obj();
//     mpx's Value<T>(v, false), Array<T>(init, false) and RawValue<T> keep get_obj().
//
// Not ported, and why:
//   _TestValue.test_invalid_typecode, _TestArray.test_invalid_typecode
//                                        the typecode is a template argument: a type that is not
//                                        trivially copyable fails to compile (static_assert in
//                                        sharedctypes.hpp), which a test binary cannot check.
//   manager and threads variants         ALLOWED_TYPES = ('processes',) for both classes.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <numeric>
#include <ranges>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpx/errors.hpp"
#include "mpx/process.hpp"
#include "mpx/sharedctypes.hpp"
#include "mpx/synchronize.hpp"
#include "support/child.hpp"
#include "support/sync_worker.hpp"

using namespace std::chrono_literals;
using mpx::test::ChildGuard;
using mpx::test::require;
using mpx::test::run_in_child;

namespace {

/// Python's hasattr(obj, 'get_lock') / hasattr(obj, 'get_obj').
template <class T>
concept HasGetLock = requires(T& t) {
  t.get_lock();
};
template <class T>
concept HasGetObj = requires(T& t) {
  t.get_obj();
};

/// p = Process(target=target, args=args); p.start(); p.join() — bounded (a
/// child still running after 20 s fails the test and is killed). Returns
/// the exit code: 0 if the target returned, 1 if it threw.
template <class F, class... Args>
int start_and_join(F&& target, Args&&... args) {
  mpx::Process p(std::forward<F>(target), std::forward<Args>(args)...);
  ChildGuard guard;
  guard.add(p);
  p.start();
  if (!p.join(20s)) {
    ADD_FAILURE() << "the child did not finish within 20 s";
    return -1000;
  }
  return p.exitcode().value_or(-1000);
}

/// Checks, from a forked child, whether the lock `lock` is free to take (and
/// gives it back): the child is another process, so a Lock or an RLock held
/// by the parent is not free there.
bool free_in_a_child(mpx::Lock& lock) {
  int code = run_in_child([&] {
    if (!lock.acquire(false)) mpx::exit(3);
    lock.release();
  });
  if (code != 0 && code != 3) ADD_FAILURE() << "the child failed with exit code " << code;
  return code == 0;
}

// ---- _TestValue ---------------------------------------------------------------

/// _TestValue.codes_values: (typecode, value, the value the child sets).
template <template <class> class V>
struct CodesValues {
  V<int> i{4343};             // ('i', 4343, 24234)
  V<double> d{3.625};         // ('d', 3.625, -4.25)
  V<short> h{-232};           // ('h', -232, 234)
  V<long long> q{1LL << 33};  // ('q', 2 ** 33, 2 ** 34)
  V<char> c{'x'};             // ('c', latin('x'), latin('y'))
};

/// _TestValue._test: sv.value = cv[2] for each.
template <template <class> class V>
void set_codes_values(CodesValues<V> values) {
  values.i = 24234;
  values.d = -4.25;
  values.h = 234;
  values.q = 1LL << 34;
  values.c = 'y';
}

/// _TestValue.test_value(raw): V is mpx::Value or mpx::RawValue.
template <template <class> class V>
void check_value() {
  CodesValues<V> values;
  EXPECT_EQ(values.i.value(), 4343);
  EXPECT_EQ(values.d.value(), 3.625);
  EXPECT_EQ(values.h.value(), -232);
  EXPECT_EQ(values.q.value(), 1LL << 33);
  EXPECT_EQ(values.c.value(), 'x');

  EXPECT_EQ(start_and_join(set_codes_values<V>, values), 0);

  EXPECT_EQ(values.i.value(), 24234);
  EXPECT_EQ(values.d.value(), -4.25);
  EXPECT_EQ(values.h.value(), 234);
  EXPECT_EQ(values.q.value(), 1LL << 34);
  EXPECT_EQ(values.c.value(), 'y');
}

}  // namespace

// CPython: _test_multiprocessing._TestValue.test_value
TEST(TestValue, Value) { check_value<mpx::Value>(); }

// CPython: _test_multiprocessing._TestValue.test_rawvalue
TEST(TestValue, Rawvalue) { check_value<mpx::RawValue>(); }

// CPython: _test_multiprocessing._TestValue.test_getobj_getlock
TEST(TestValue, GetobjGetlock) {
  // val1 = Value('i', 5): get_lock() is a new RLock; get_obj() the shared c_int.
  mpx::Value<int> val1(5);
  mpx::Lock& lock1 = val1.get_lock();
  int* obj1 = val1.get_obj();
  EXPECT_EQ(*obj1, 5);
  val1 = 6;
  EXPECT_EQ(*obj1, 6);  // the storage .value reads and writes
  // Python's default lock is an RLock: re-entrant, and .value re-enters it.
  ASSERT_TRUE(lock1.acquire(false));
  EXPECT_TRUE(lock1.acquire(false));
  EXPECT_EQ(val1.value(), 6);
  EXPECT_FALSE(free_in_a_child(lock1));  // the lock every process takes
  lock1.release();
  EXPECT_TRUE(lock1.locked());  // held twice, released once
  lock1.release();
  EXPECT_FALSE(lock1.locked());
  EXPECT_TRUE(free_in_a_child(val1.get_lock()));

  // val2 = Value('i', 5, lock=None): None means "make one", as True does.
  mpx::Value<int> val2(5, true);
  mpx::Lock& lock2 = val2.get_lock();
  int* obj2 = val2.get_obj();
  EXPECT_EQ(*obj2, 5);
  EXPECT_FALSE(lock2.locked());

  // lock = self.Lock(); val3 = Value('i', 5, lock=lock); assertEqual(lock, lock3).
  // get_lock() shares the lock given, so "equal" is: the same lock is held
  // through both, in this process and in a child.
  mpx::Lock lock;
  mpx::Value<int> val3(5, lock);
  mpx::Lock& lock3 = val3.get_lock();
  int* obj3 = val3.get_obj();
  EXPECT_EQ(*obj3, 5);
  EXPECT_EQ(val3.value(), 5);  // not held: .value takes and gives it back
  ASSERT_TRUE(lock.acquire(false));
  EXPECT_TRUE(lock3.locked());
  EXPECT_TRUE(lock3.owned_by_caller());
  EXPECT_FALSE(lock3.acquire(false));  // a plain Lock, not an RLock
  EXPECT_EQ(*obj3, 5);                 // under a held plain Lock: get_obj(), not .value
  EXPECT_FALSE(free_in_a_child(lock3));
  lock.release();
  EXPECT_FALSE(lock3.locked());
  EXPECT_TRUE(free_in_a_child(lock3));

  // arr4 = Value('i', 5, lock=False): assertNotHasAttr(arr4, 'get_lock').
  mpx::Value<int> arr4(5, false);
  EXPECT_THROW(arr4.get_lock(), mpx::AttributeError);
  EXPECT_EQ(arr4.value(), 5);
  EXPECT_EQ(*arr4.get_obj(), 5);  // mpx keeps get_obj() (Python has none here)

  // arr5 = RawValue('i', 5): assertNotHasAttr(arr5, 'get_lock').
  static_assert(!HasGetLock<mpx::RawValue<int>>);
  static_assert(HasGetLock<mpx::Value<int>>);
  mpx::RawValue<int> arr5(5);
  EXPECT_EQ(arr5.value(), 5);

  // assertRaises(AttributeError, self.Value, 'i', 5, lock='navalue'): a
  // compile-time error in mpx (and the ctest sharedctypes_lock_compile_error).
  static_assert(!std::is_constructible_v<mpx::Value<int>, int, const char(&)[8]>);
  static_assert(std::is_constructible_v<mpx::Value<int>, int, mpx::Lock&>);
}

// Beyond _TestValue: with lock=Lock(), Python's `with v.get_lock(): v.value
// += 1` deadlocks (.value takes the lock again); the working spelling is
// `with v.get_lock(): v.get_obj().value += 1`. Children count exactly with it.
TEST(TestValue, PlainLockIdiom) {
  mpx::Lock lock;
  mpx::Value<int> v(0, lock);
  auto bump = [](mpx::Value<int> value) {
    for (int i = 0; i < 500; ++i) {
      std::scoped_lock hold(value.get_lock());
      *value.get_obj() += 1;
    }
  };
  std::vector<mpx::Process> procs;
  ChildGuard guard;
  for (int i = 0; i < 4; ++i) {
    procs.emplace_back(bump, v);
    guard.add(procs.back());
  }
  for (auto& p : procs) p.start();
  for (auto& p : procs) {
    ASSERT_TRUE(p.join(20s));
    EXPECT_EQ(p.exitcode(), 0);
  }
  EXPECT_EQ(v.value(), 2000);
}

// Beyond _TestValue: typecode_or_type given a ctypes Structure — _Foo, as
// _TestSharedCTypes.test_sharedctypes makes `Value(_Foo, 3, 2)` and doubles
// foo.x and foo.y in a child. mpx reads and writes a struct whole (value(),
// =), so the child holds get_lock() around the read-modify-write.
namespace {
struct Foo {
  int x;
  double y;
};
}  // namespace

TEST(TestValue, StructureType) {
  mpx::Value<Foo> foo(Foo{3, 2.0});
  mpx::RawValue<Foo> raw_foo(Foo{3, 2.0});
  mpx::Array<Foo> foos(2);  // Array(_Foo, 2): zeroed structs
  EXPECT_EQ(foos.get(1).x, 0);
  EXPECT_EQ(foos.get(1).y, 0.0);
  auto doubled = [](Foo f) { return Foo{f.x * 2, f.y * 2}; };
  EXPECT_EQ(start_and_join(
                [&](mpx::Value<Foo> v, mpx::RawValue<Foo> r, mpx::Array<Foo> a) {
                  {
                    std::scoped_lock hold(v.get_lock());
                    v = doubled(v.value());
                  }
                  r = doubled(r.value());
                  a.set(1, doubled(Foo{5, 0.25}));
                },
                foo, raw_foo, foos),
            0);
  EXPECT_EQ(foo.value().x, 6);
  EXPECT_EQ(foo.value().y, 4.0);
  EXPECT_EQ(raw_foo.value().x, 6);
  EXPECT_EQ(raw_foo.value().y, 4.0);
  EXPECT_EQ(foos.get(1).x, 10);
  EXPECT_EQ(foos.get(1).y, 0.5);
  EXPECT_EQ(foos.get(0).x, 0);
}

// ---- _TestArray ---------------------------------------------------------------

namespace {

const std::vector<int> kSeq{680, 626, 934, 821, 150, 233, 548, 982, 714, 831};

/// arr[i]: a synchronized array's item takes the lock (get); a raw one's not.
template <class A>
int item(const A& arr, std::size_t i) {
  if constexpr (HasGetLock<A>) {
    return arr.get(i);
  } else {
    return arr[i];
  }
}

/// _TestArray.f: seq[i] += seq[i-1] — for a synchronized array a locked read
/// and a locked write, as Python's SynchronizedArray does them.
template <class A>
void f(A& seq) {
  for (std::size_t i = 1; i < seq.size(); ++i) {
    if constexpr (HasGetLock<A>) {
      seq.set(i, seq.get(i) + seq.get(i - 1));
    } else {
      seq[i] += seq[i - 1];
    }
  }
}

/// list(arr[start:stop]): slice() takes the lock for a synchronized array
/// (Python's SynchronizedArray), not for a raw one.
template <class A>
std::vector<int> slice(const A& arr, std::size_t start, std::size_t stop) {
  return arr.slice(start, stop);
}

/// arr[start:start + len(values)] = values; under the lock likewise.
template <class A>
void assign_slice(A& arr, std::size_t start, std::span<const int> values) {
  arr.set_slice(start, start + values.size(), values);
}

std::vector<int> range(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

/// _TestArray.test_array(raw): A is mpx::Array<int> or mpx::RawArray<int>.
template <class A>
void check_array() {
  std::vector<int> seq = kSeq;
  A arr{std::span<const int>(seq)};  // Array('i', seq)

  EXPECT_EQ(arr.size(), seq.size());
  EXPECT_EQ(item(arr, 3), seq[3]);
  EXPECT_EQ(slice(arr, 2, 7), std::vector<int>(seq.begin() + 2, seq.begin() + 7));

  // arr[4:8] = seq[4:8] = array.array('i', [1, 2, 3, 4])
  const std::array<int, 4> four{1, 2, 3, 4};
  assign_slice(arr, 4, four);
  std::ranges::copy(four, seq.begin() + 4);

  EXPECT_EQ(slice(arr, 0, arr.size()), seq);

  f(seq);

  EXPECT_EQ(start_and_join(f<A>, arr), 0);

  EXPECT_EQ(slice(arr, 0, arr.size()), seq);
}

/// _TestArray.test_array_from_size: new arrays are zeroed (bpo-11675), also
/// when they reuse the memory of the previous round's array.
template <class A>
void check_array_from_size() {
  constexpr std::size_t size = 10;
  for (int round = 0; round < 3; ++round) {
    A arr(size);
    EXPECT_EQ(arr.size(), size);
    EXPECT_EQ(std::vector<int>(arr.begin(), arr.end()), std::vector<int>(size, 0)) << "round " << round;
    assign_slice(arr, 0, range(10));  // arr[:] = range(10)
    EXPECT_EQ(std::vector<int>(arr.begin(), arr.end()), range(10));
  }
}

}  // namespace

// CPython: _test_multiprocessing._TestArray.test_array
TEST(TestArray, Array) { check_array<mpx::Array<int>>(); }

// CPython: _test_multiprocessing._TestArray.test_array_from_size
TEST(TestArray, ArrayFromSize) { check_array_from_size<mpx::Array<int>>(); }

// Beyond _TestArray: test_array_from_size for RawArray (bpo-11675 was RawArray's bug).
TEST(TestArray, RawarrayFromSize) { check_array_from_size<mpx::RawArray<int>>(); }

// CPython: _test_multiprocessing._TestArray.test_rawarray
TEST(TestArray, Rawarray) { check_array<mpx::RawArray<int>>(); }

// CPython: _test_multiprocessing._TestArray.test_getobj_getlock_obj
TEST(TestArray, GetobjGetlockObj) {
  // arr1 = Array('i', list(range(10))): an RLock; get_obj() is the shared
  // c_int array: the same elements, without the lock.
  mpx::Array<int> arr1(range(10));
  mpx::Lock& lock1 = arr1.get_lock();
  mpx::RawArray<int>& obj1 = arr1.get_obj();
  EXPECT_EQ(obj1[9], 9);
  arr1.set(9, 90);
  EXPECT_EQ(obj1[9], 90);
  EXPECT_EQ(obj1.data(), arr1.data());
  ASSERT_TRUE(lock1.acquire(false));
  EXPECT_TRUE(lock1.acquire(false));  // an RLock
  EXPECT_EQ(arr1.get(9), 90);         // get() re-enters it
  EXPECT_FALSE(free_in_a_child(lock1));
  lock1.release();
  lock1.release();
  EXPECT_TRUE(free_in_a_child(arr1.get_lock()));

  // arr2 = Array('i', list(range(10)), lock=None): as lock=True.
  mpx::Array<int> arr2(range(10), true);
  mpx::Lock& lock2 = arr2.get_lock();
  mpx::RawArray<int>& obj2 = arr2.get_obj();
  EXPECT_FALSE(lock2.locked());
  EXPECT_EQ(obj2[3], 3);

  // lock = self.Lock(); arr3 = Array('i', list(range(10)), lock=lock);
  // assertEqual(lock, lock3): the same lock, held through either.
  mpx::Lock lock;
  mpx::Array<int> arr3(range(10), lock);
  mpx::Lock& lock3 = arr3.get_lock();
  mpx::RawArray<int>& obj3 = arr3.get_obj();
  EXPECT_EQ(obj3.to_vector(), range(10));
  ASSERT_TRUE(lock.acquire(false));
  EXPECT_TRUE(lock3.locked());
  EXPECT_FALSE(lock3.acquire(false));  // a plain Lock
  obj3[0] = 100;                       // under a held plain Lock: get_obj()
  EXPECT_FALSE(free_in_a_child(lock3));
  lock.release();
  EXPECT_TRUE(free_in_a_child(lock3));
  EXPECT_EQ(arr3.get(0), 100);

  // arr4 = Array('i', range(10), lock=False): assertNotHasAttr(arr4, 'get_lock').
  mpx::Array<int> arr4(std::views::iota(0, 10), false);
  EXPECT_THROW(arr4.get_lock(), mpx::AttributeError);
  EXPECT_EQ(arr4.get(4), 4);
  // assertRaises(AttributeError, self.Array, 'i', range(10), lock='notalock'):
  // a compile-time error in mpx.
  static_assert(!std::is_constructible_v<mpx::Array<int>, std::vector<int>, const char(&)[9]>);
  static_assert(std::is_constructible_v<mpx::Array<int>, std::vector<int>, mpx::Lock&>);

  // arr5 = RawArray('i', range(10)): neither get_lock nor get_obj.
  static_assert(!HasGetLock<mpx::RawArray<int>>);
  static_assert(!HasGetObj<mpx::RawArray<int>>);
  static_assert(HasGetLock<mpx::Array<int>>);
  static_assert(HasGetObj<mpx::Array<int>>);
  mpx::RawArray<int> arr5(std::views::iota(0, 10));
  EXPECT_EQ(arr5.to_vector(), range(10));
}

// Beyond _TestArray: the initializers it passes — a list (test_array),
// list(range(10)) and range(10) (test_getobj_getlock_obj), array.array (the
// slice assignment) — and Python's size_or_initializer: an int is a size.
TEST(TestArray, Initializers) {
  mpx::Array<int> from_list{680, 626, 934};  // Array('i', [680, 626, 934])
  EXPECT_EQ(from_list.to_vector(), (std::vector<int>{680, 626, 934}));
  mpx::RawArray<int> raw_from_list{1, 2};
  EXPECT_EQ(raw_from_list.to_vector(), (std::vector<int>{1, 2}));

  const std::vector<int> list = range(10);  // list(range(10))
  mpx::Array<int> from_vector(list);
  EXPECT_EQ(from_vector.to_vector(), list);
  mpx::Array<int> from_range(std::views::iota(0, 10));  // range(10)
  EXPECT_EQ(from_range.to_vector(), list);

  const std::array<int, 4> arr{1, 2, 3, 4};  // array.array('i', [1, 2, 3, 4])
  mpx::RawArray<int> from_std_array(arr);
  EXPECT_EQ(from_std_array.to_vector(), (std::vector<int>{1, 2, 3, 4}));

  // Array('i', 10) is ten zeros: Array<int>(10). Braces make a list, as for
  // std::vector: Array<int>{10} is one element, 10.
  mpx::Array<int> sized(10);
  EXPECT_EQ(sized.size(), 10u);
  mpx::Array<int> one{10};
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one.get(0), 10);

  // Array('i', []) and Array('i', 0): empty.
  mpx::Array<int> empty(std::span<const int>{});
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.to_vector(), std::vector<int>{});
}

// Beyond _TestArray: the 'c' typecode as an array — Array('c', 20) with
// .value and .raw, doubled in a child as _TestSharedCTypes doubles its
// `string` (string.value *= 2). value() and set_value() take the lock, as
// Python's SynchronizedString properties do; the child holds it around the
// read-modify-write, which they re-enter (an RLock).
TEST(TestArray, CharArrayValueAndRaw) {
  mpx::Array<char> text(20);
  EXPECT_EQ(text.value(), "");
  EXPECT_EQ(text.raw(), std::string(20, '\0'));
  text.set_value("hello");
  EXPECT_EQ(text.value(), "hello");
  EXPECT_EQ(start_and_join(
                [](mpx::Array<char> s) {
                  std::scoped_lock hold(s.get_lock());
                  s.set_value(s.value() + s.value());
                },
                text),
            0);
  EXPECT_EQ(text.value(), "hellohello");
  EXPECT_EQ(text.raw(), "hellohello" + std::string(10, '\0'));
  // A shorter value ends at its NUL; raw keeps the bytes after it.
  text.set_value("hi");
  EXPECT_EQ(text.value(), "hi");
  EXPECT_EQ(text.raw(), std::string("hi\0lohello", 10) + std::string(10, '\0'));
}

// Beyond _TestArray: the ctypes slice and index rules test_array's slices
// rest on (values from CPython 3.13, for Array('i', range(10))).
TEST(TestArray, SliceBoundsAndErrors) {
  mpx::Array<int> arr(std::views::iota(0, 10));
  EXPECT_EQ(arr.slice(-3, 10), (std::vector<int>{7, 8, 9}));   // arr[-3:]
  EXPECT_EQ(arr.slice(5, 2), std::vector<int>{});              // arr[5:2]
  EXPECT_EQ(arr.slice(-100, 3), (std::vector<int>{0, 1, 2}));  // arr[-100:3]
  EXPECT_EQ(arr.slice(8, 100), (std::vector<int>{8, 9}));      // arr[8:100]
  EXPECT_EQ(arr.get(-1), 9);                                   // arr[-1]
  EXPECT_THROW(arr.get(10), mpx::IndexError);                  // IndexError: invalid index
  EXPECT_THROW(arr.get(-11), mpx::IndexError);
  EXPECT_THROW(arr.set_slice(0, 3, {1, 2}), mpx::ValueError);  // Can only assign sequence of same size
  arr.set_slice(-2, 10, {7, 8});                               // arr[-2:] = [7, 8]
  EXPECT_EQ(arr.slice(7, 10), (std::vector<int>{7, 7, 8}));
  EXPECT_EQ(start_and_join([](mpx::Array<int> a) { a.set(-1, 99); }, arr), 0);
  EXPECT_EQ(arr.get(9), 99);
}
