// The codec: round trips of every supported kind, and bounded, clean
// failure on truncated, garbage and hostile bytes.
#include "mpx/codec.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

namespace {

struct Plain {
  int a;
  double b;
  char tag[4];
  bool operator==(const Plain&) const = default;
};

struct Order {
  int id = 0;
  double price = 0;
  std::string symbol;
  std::vector<Plain> fills;
  std::optional<std::map<std::string, int>> extra;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, price, symbol, fills, extra);
  }
  bool operator==(const Order&) const = default;
};

template <class T>
T roundtrip(const T& v) {
  return mpx::decode<T>(mpx::encode(v));
}

std::vector<std::byte> bytes_of(std::initializer_list<unsigned> v) {
  std::vector<std::byte> out;
  for (auto b : v) out.push_back(std::byte(b));
  return out;
}

std::vector<std::byte> hostile_length(std::uint64_t len) {
  std::vector<std::byte> b(8);
  std::memcpy(b.data(), &len, 8);
  for (int i = 0; i < 4; ++i) b.push_back(std::byte{'A'});
  return b;
}

}  // namespace

static_assert(mpx::Encodable<int>);
static_assert(mpx::Encodable<Plain>);
static_assert(mpx::Encodable<Order>);
static_assert(mpx::Encodable<std::vector<std::string>>);
static_assert(mpx::Encodable<std::variant<int, std::string>>);
static_assert(!mpx::Encodable<int*>);
static_assert(!mpx::Encodable<std::string_view>);
static_assert(!mpx::Encodable<std::span<int>>);

TEST(Codec, TriviallyCopyableIsItsBytes) {
  Plain p{1, 2.5, {'a', 'b', 'c', 0}};
  auto bytes = mpx::encode(p);
  EXPECT_EQ(bytes.size(), sizeof(Plain));
  EXPECT_EQ(roundtrip(p), p);
  EXPECT_EQ(roundtrip(42), 42);
  EXPECT_EQ(roundtrip(3.25), 3.25);
}

TEST(Codec, StdTypesRoundTrip) {
  EXPECT_EQ(roundtrip(std::string("hello")), "hello");
  EXPECT_EQ(roundtrip(std::string()), "");
  EXPECT_EQ(roundtrip(std::vector<int>{1, 2, 3}), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(roundtrip(std::map<std::string, std::vector<double>>{{"x", {1.5}}, {"y", {}}}),
            (std::map<std::string, std::vector<double>>{{"x", {1.5}}, {"y", {}}}));
  EXPECT_EQ(roundtrip(std::optional<std::string>()), std::nullopt);
  EXPECT_EQ(roundtrip(std::optional<std::string>("x")), "x");
  using V = std::variant<int, std::string, std::vector<int>>;
  EXPECT_EQ(roundtrip(V(std::string("s"))), V(std::string("s")));
  EXPECT_EQ(roundtrip(V(std::vector<int>{4})), V(std::vector<int>{4}));
  auto t = std::make_tuple(1, std::string("two"), 3.0);
  EXPECT_EQ(roundtrip(t), t);
  EXPECT_EQ(roundtrip(std::pair<std::string, int>("a", 1)), (std::pair<std::string, int>("a", 1)));
  EXPECT_EQ(roundtrip(std::vector<bool>{true, false, true}), (std::vector<bool>{true, false, true}));
}

TEST(Codec, UserTypeWithSerializeAndNestedPlainStructs) {
  Order o{7, 99.5, "ACME", {{1, 2.0, {'x'}}, {3, 4.0, {'y'}}}, std::map<std::string, int>{{"k", 1}}};
  EXPECT_EQ(roundtrip(o), o);
}

TEST(Codec, LargeValues) {
  std::vector<char> big(3 << 20, 'z');
  EXPECT_EQ(roundtrip(big), big);
  std::string s(1 << 20, 'q');
  EXPECT_EQ(roundtrip(s), s);
}

TEST(Codec, EveryTruncationIsADecodeError) {
  Order o{7, 99.5, "ACME", {{1, 2.0, {'x'}}}, std::map<std::string, int>{{"k", 1}}};
  auto bytes = mpx::encode(o);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_THROW(mpx::decode<Order>(std::span(bytes.data(), n)), mpx::DecodeError) << n;
  }
  EXPECT_THROW(mpx::decode<int>(std::span(bytes.data(), 3)), mpx::DecodeError);
}

TEST(Codec, TrailingBytesAreAnError) {
  auto bytes = mpx::encode(std::string("abc"));
  bytes.push_back(std::byte{0});
  EXPECT_THROW(mpx::decode<std::string>(bytes), mpx::DecodeError);
  auto ib = mpx::encode(5);
  ib.push_back(std::byte{0});
  EXPECT_THROW(mpx::decode<int>(ib), mpx::DecodeError);
}

TEST(Codec, HostileLengthsFailFastWithoutAllocating) {
  // A decoder that believed these lengths would allocate gigabytes first.
  for (std::uint64_t len :
       {std::uint64_t(3) << 30, std::uint64_t(1) << 40, std::uint64_t(1) << 62, ~std::uint64_t(0)}) {
    auto b = hostile_length(len);
    EXPECT_THROW(mpx::decode<std::string>(b), mpx::DecodeError);
    EXPECT_THROW(mpx::decode<std::vector<int>>(b), mpx::DecodeError);
    EXPECT_THROW(mpx::decode<std::vector<std::string>>(b), mpx::DecodeError);
    EXPECT_THROW((mpx::decode<std::map<int, int>>(b)), mpx::DecodeError);
  }
}

TEST(Codec, InvalidVariantIndexAndBoolAreErrors) {
  using V = std::variant<int, std::string>;
  auto bytes = mpx::encode(V(5));
  bytes[0] = std::byte{9};  // the index
  EXPECT_THROW(mpx::decode<V>(bytes), mpx::DecodeError);
  EXPECT_THROW(mpx::decode<bool>(bytes_of({2})), mpx::DecodeError);
  EXPECT_THROW(mpx::decode<std::optional<int>>(bytes_of({7, 1, 0, 0, 0})), mpx::DecodeError);
}

TEST(Codec, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(12345);
  int errors = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::byte> b(rng() % 64);
    for (auto& x : b) x = std::byte(rng() & 0xff);
    try {
      (void)mpx::decode<Order>(b);
    } catch (const mpx::DecodeError&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 19000);
}
