// mpx/codec.hpp — how values cross a process boundary.
//
//   struct Order {
//     int id; double price; std::string symbol;
//     template <class Archive> void serialize(Archive& ar) { ar(id, price, symbol); }
//   };
//   std::vector<std::byte> bytes = mpx::encode(Order{1, 9.5, "ACME"});
//   Order back = mpx::decode<Order>(bytes);        // DecodeError on bad bytes
//
// What is Encodable (Python pickles anything; C++ must be told):
//   - trivially copyable types (ints, doubles, plain structs, std::array of
//     them): copied as their bytes;
//   - std::string, vector, deque, list, map, set, unordered_*, optional,
//     variant, tuple, pair, chrono durations, and any nesting of these;
//   - your types with a cereal `serialize` (or save/load) member or free function.
// Pointers, string_view, span and reference_wrapper are refused: their bytes
// mean nothing elsewhere.
// A type that is none of these fails to compile with a message naming it.
//
// Decoding checks every length against the bytes there before allocating, so
// truncated, garbage or hostile input raises mpx::DecodeError, never a crash,
// an out-of-memory or undefined behaviour. One caveat: a trivially copyable
// struct is taken as its bytes, so a field with invariants (a bool, an enum,
// a pointer) inside such a struct is not validated; give the struct a
// serialize() if it must accept bytes from a process you do not trust.
#pragma once

#include <bit>
#include <cereal/types/array.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <functional>
#include <new>
#include <span>
#include <stdexcept>
#include <string_view>
#include <type_traits>

#include "mpx/detail/codec.hpp"

namespace mpx {

namespace detail {
template <class T>
struct is_view : std::false_type {};
template <class C, class Tr>
struct is_view<std::basic_string_view<C, Tr>> : std::true_type {};
template <class E, std::size_t N>
struct is_view<std::span<E, N>> : std::true_type {};
// A reference_wrapper is trivially copyable, but it is a pointer: its bytes
// mean nothing in another process.
template <class T>
struct is_view<std::reference_wrapper<T>> : std::true_type {};

template <class T>
inline constexpr bool kBytewise =
    std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> && !std::is_member_pointer_v<T> && !is_view<T>::value;
}  // namespace detail

/// A type whose values can be sent to another process.
template <class T>
concept Encodable = !std::is_pointer_v<T> && !detail::is_view<T>::value &&
                    (detail::kBytewise<T> || (cereal::traits::is_output_serializable<T, detail::SpanOut>::value &&
                                              cereal::traits::is_input_serializable<T, detail::SpanIn>::value &&
                                              std::is_default_constructible_v<T>));

#define MPX_ASSERT_ENCODABLE(T)                                                                      \
  static_assert(::mpx::Encodable<T>,                                                                 \
                "mpx: this type cannot cross a process boundary. Make it trivially copyable, use "   \
                "std containers of encodable types, or give it a cereal serialize(Archive&) member " \
                "(see mpx/codec.hpp). Pointers, string_view and span are never encodable.")

/// Appends the encoding of `value` to `out`.
/// Throws: whatever the type's serialize throws (nothing, for std types).
template <class T>
void encode_append(const T& value, std::vector<std::byte>& out) {
  MPX_ASSERT_ENCODABLE(T);
  if constexpr (detail::kBytewise<T>) {
    auto* p = reinterpret_cast<const std::byte*>(&value);
    out.insert(out.end(), p, p + sizeof(T));
  } else if constexpr (Encodable<T>) {  // else only the static_assert speaks
    detail::SpanOut ar(out);
    ar(value);
  }
}

/// The encoding of `value` as a new byte vector.
template <class T>
std::vector<std::byte> encode(const T& value) {
  std::vector<std::byte> out;
  // One allocation for small values instead of one per field.
  if constexpr (!detail::kBytewise<T>) out.reserve(64);
  encode_append(value, out);
  return out;
}

/// Decodes a T from exactly `bytes`.
/// Throws: DecodeError if the bytes are truncated, malformed, claim lengths
/// larger than they hold, or have bytes left over.
template <class T>
T decode(std::span<const std::byte> bytes) {
  MPX_ASSERT_ENCODABLE(T);
  if constexpr (detail::kBytewise<T>) {
    if (bytes.size() != sizeof(T)) {
      throw DecodeError("expected " + std::to_string(sizeof(T)) + " bytes, got " + std::to_string(bytes.size()));
    }
    if constexpr (std::is_same_v<T, bool>) {
      if (std::to_integer<unsigned>(bytes[0]) > 1) throw DecodeError("invalid bool byte");
    }
    alignas(T) std::byte raw[sizeof(T)];
    std::memcpy(raw, bytes.data(), sizeof(T));
    return *std::launder(reinterpret_cast<T*>(raw));
  } else if constexpr (Encodable<T>) {
    detail::SpanIn ar(bytes.data(), bytes.size());
    T value{};
    try {
      ar(value);
    } catch (const DecodeError&) {
      throw;
    } catch (const cereal::Exception& e) {
      throw DecodeError(e.what());
    } catch (const std::bad_alloc&) {
      throw DecodeError("decoding needed more memory than the input allows");
    } catch (const std::length_error& e) {
      throw DecodeError(std::string("bad length: ") + e.what());
    }
    if (ar.left() != 0) throw DecodeError(std::to_string(ar.left()) + " trailing bytes after the value");
    return value;
  } else {
    detail::internal_error("unreachable: decode of a non-encodable type");
  }
}

}  // namespace mpx
