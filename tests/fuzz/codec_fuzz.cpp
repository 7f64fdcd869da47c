// Fuzz target: mpx::decode<T> on hostile bytes, for several shapes of T.
// Only mpx::DecodeError may come out; a value that decodes must re-encode to
// bytes that decode and re-encode to the same bytes.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "fuzz/fuzz_target.hpp"
#include "mpx/codec.hpp"
#include "mpx/detail/pool_jobs.hpp"

namespace {

struct Fill {
  int qty;
  double px;
  bool operator==(const Fill&) const = default;
};

struct Order {
  int id = 0;
  double price = 0;
  std::string symbol;
  std::vector<Fill> fills;
  std::optional<std::map<std::string, int>> tags;
  std::variant<int, std::string, std::vector<double>> note;
  bool flag = false;
  template <class A>
  void serialize(A& ar) {
    ar(id, price, symbol, fills, tags, note, flag);
  }
  bool operator==(const Order&) const = default;
};

using Nested = std::vector<std::tuple<std::string, std::vector<std::string>, std::optional<int>>>;

template <class T>
void check(std::span<const std::byte> bytes) {
  T value;
  try {
    value = mpx::decode<T>(bytes);
  } catch (const mpx::DecodeError&) {
    return;
  }
  // Compared as bytes: a decoded double may be a NaN, unequal to itself.
  auto once = mpx::encode(value);
  if (mpx::encode(mpx::decode<T>(once)) != once) {
    std::fprintf(stderr, "round trip changed a decoded value\n");
    std::abort();
  }
}

// A pool map's chunk of results (bytes from a worker), decoded in place
// (decode_chunk_into) and as a whole vector (decode_chunk): both give the
// same values, or both raise DecodeError.
template <class V>
void check_chunk(std::span<const std::byte> bytes) {
  std::uint64_t claimed = 0;
  if (bytes.size() >= sizeof claimed) std::memcpy(&claimed, bytes.data(), sizeof claimed);
  for (std::size_t n :
       {std::size_t{0}, std::size_t{1}, static_cast<std::size_t>(std::min<std::uint64_t>(claimed, 64))}) {
    std::optional<std::vector<V>> whole;
    try {
      whole = mpx::detail::decode_chunk<V>(bytes, n);
    } catch (const mpx::DecodeError&) {
    }
    std::vector<V> in_place(n);
    bool decoded = true;
    try {
      mpx::detail::decode_chunk_into<V>(bytes, in_place.begin(), n);
    } catch (const mpx::DecodeError&) {
      decoded = false;
    }
    if (decoded != whole.has_value() || (decoded && mpx::encode(*whole) != mpx::encode(in_place))) {
      std::fprintf(stderr, "a chunk decoded in place differs from the whole vector\n");
      std::abort();
    }
  }
}

template <class T>
std::vector<std::uint8_t> seed(const T& v) {
  auto b = mpx::encode(v);
  return {reinterpret_cast<const std::uint8_t*>(b.data()), reinterpret_cast<const std::uint8_t*>(b.data()) + b.size()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  check<Order>(bytes);
  check<Nested>(bytes);
  check<std::map<int, std::string>>(bytes);
  check<std::vector<bool>>(bytes);
  check<std::string>(bytes);
  check<std::tuple<int, double, std::string>>(bytes);
  check_chunk<long>(bytes);
  check_chunk<bool>(bytes);
  check_chunk<std::pair<int, std::string>>(bytes);
  return 0;
}

std::vector<std::vector<std::uint8_t>> mpx_fuzz_seeds() {
  return {
      seed(Order{1, 2.5, "ACME", {{1, 2.0}, {3, 4.0}}, std::map<std::string, int>{{"a", 1}}, std::string("x"), true}),
      seed(Order{}),
      seed(Nested{{"k", {"v1", "v2"}, 3}, {"", {}, std::nullopt}}),
      seed(std::map<int, std::string>{{1, "one"}, {2, "two"}}),
      seed(std::vector<bool>{true, false}),
      seed(std::string("hello")),
      seed(std::make_tuple(1, 2.0, std::string("three"))),
      seed(std::vector<long>{1, 4, 9}),
      seed(std::vector<std::pair<int, std::string>>{{1, "1"}}),
  };
}
