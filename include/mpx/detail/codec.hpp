// mpx/detail/codec.hpp — the bounded span archives behind mpx/codec.hpp.
//
// cereal's stock BinaryInputArchive resizes a string or vector to whatever
// length the bytes claim before checking that the bytes are there: 12
// hostile bytes cost gigabytes. SpanIn checks every length prefix against
// the bytes left first, so a decode never allocates more than about
// (bytes left × element size), and runs out of input with DecodeError.
// The wire layout is cereal's binary layout: native-endian arithmetic,
// 64-bit sizes. Both ends of an mpx channel run the same binary (or at least
// the same architecture), so no byte swapping.
#pragma once

#include <cereal/cereal.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "mpx/errors.hpp"

namespace mpx::detail {

class SpanOut : public cereal::OutputArchive<SpanOut, cereal::AllowEmptyClassElision> {
 public:
  explicit SpanOut(std::vector<std::byte>& out) : OutputArchive(this), out_(out) {}
  void saveBinary(const void* data, std::size_t n) {
    auto* p = static_cast<const std::byte*>(data);
    out_.insert(out_.end(), p, p + n);
  }

 private:
  std::vector<std::byte>& out_;
};

class SpanIn : public cereal::InputArchive<SpanIn, cereal::AllowEmptyClassElision> {
 public:
  SpanIn(const std::byte* data, std::size_t n) : InputArchive(this), p_(data), end_(data + n) {}
  void loadBinary(void* data, std::size_t n) {
    if (n == 0) return;  // an empty container's data() may be null: no memcpy
    if (left() < n) {
      throw DecodeError("truncated: " + std::to_string(n) + " bytes needed, " + std::to_string(left()) + " left");
    }
    std::memcpy(data, p_, n);
    p_ += n;
  }
  std::size_t left() const noexcept { return static_cast<std::size_t>(end_ - p_); }

 private:
  const std::byte* p_;
  const std::byte* end_;
};

}  // namespace mpx::detail

// Stand-in archives used only to ask "does T bring its own cereal
// functions?". They live outside mpx::detail so that argument-dependent
// lookup does not find the overloads below, which would ask the question
// again (and recurse).
namespace mpx::codec_probe {
class Out : public cereal::OutputArchive<Out> {
 public:
  Out() : OutputArchive(this) {}
};
class In : public cereal::InputArchive<In> {
 public:
  In() : InputArchive(this) {}
};
}  // namespace mpx::codec_probe

namespace mpx::detail {

/// A class type copied as its bytes inside containers: trivially copyable
/// and without cereal functions of its own. (A concept, so the cheap checks
/// short-circuit the expensive ones.)
template <class T>
struct is_cereal_wrapper : std::false_type {};
template <class T>
struct is_cereal_wrapper<cereal::NameValuePair<T>> : std::true_type {};
template <class T>
struct is_cereal_wrapper<cereal::SizeTag<T>> : std::true_type {};
template <class T>
struct is_cereal_wrapper<cereal::BinaryData<T>> : std::true_type {};
template <class T>
struct is_cereal_wrapper<cereal::DeferredData<T>> : std::true_type {};

template <class T>
concept RawClass = std::is_class_v<T> && std::is_trivially_copyable_v<T> && !is_cereal_wrapper<T>::value &&
                   cereal::traits::detail::count_output_serializers<T, codec_probe::Out>::value == 0 &&
                   cereal::traits::detail::count_input_serializers<T, codec_probe::In>::value == 0;

// Arithmetic types: their bytes. bool is checked, since any byte but 0 and 1
// would be an invalid bool (undefined behaviour to read).
template <class T>
requires std::is_arithmetic_v<T>
void CEREAL_SAVE_FUNCTION_NAME(SpanOut& ar, const T& t) { ar.saveBinary(&t, sizeof t); }
template <class T>
requires std::is_arithmetic_v<T>
void CEREAL_LOAD_FUNCTION_NAME(SpanIn& ar, T& t) {
  if constexpr (std::is_same_v<T, bool>) {
    unsigned char b;
    ar.loadBinary(&b, 1);
    if (b > 1) throw DecodeError("invalid bool byte " + std::to_string(b));
    t = b != 0;
  } else {
    ar.loadBinary(&t, sizeof t);
  }
}

template <class T>
requires RawClass<T>
void CEREAL_SAVE_FUNCTION_NAME(SpanOut& ar, const T& t) { ar.saveBinary(&t, sizeof t); }
template <class T>
requires RawClass<T>
void CEREAL_LOAD_FUNCTION_NAME(SpanIn& ar, T& t) { ar.loadBinary(&t, sizeof t); }

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(SpanOut& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}
template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(SpanIn& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(SpanOut& ar, const cereal::SizeTag<T>& t) {
  std::uint64_t n = t.size;
  ar.saveBinary(&n, sizeof n);
}
// The check that makes decoding bounded: a container may not claim more
// elements than there are bytes left (every element takes at least one).
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(SpanIn& ar, cereal::SizeTag<T>& t) {
  std::uint64_t n;
  ar.loadBinary(&n, sizeof n);
  if (n > ar.left()) {
    throw DecodeError("length " + std::to_string(n) + " exceeds the " + std::to_string(ar.left()) + " bytes left");
  }
  t.size = static_cast<std::remove_reference_t<T>>(n);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(SpanOut& ar, const cereal::BinaryData<T>& b) {
  ar.saveBinary(b.data, static_cast<std::size_t>(b.size));
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(SpanIn& ar, cereal::BinaryData<T>& b) {
  ar.loadBinary(b.data, static_cast<std::size_t>(b.size));
}

}  // namespace mpx::detail

CEREAL_REGISTER_ARCHIVE(mpx::detail::SpanOut)
CEREAL_REGISTER_ARCHIVE(mpx::detail::SpanIn)
CEREAL_SETUP_ARCHIVE_TRAITS(mpx::detail::SpanIn, mpx::detail::SpanOut)
