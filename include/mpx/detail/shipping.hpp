// mpx/detail/shipping.hpp — a call that travels to a fresh process of the
// same binary (spawn, forkserver, and later MPI): DESIGN.md's "Shipping a call".
//
//   ShippedCall call = ship(&work, 42, std::string("job"));   // in the parent
//   std::vector<std::byte> bytes = encode(call);              // over a pipe ...
//   run_shipped(decode<ShippedCall>(bytes));                   // ... in the child
//
// A fresh process has none of the parent's memory, so a callable cannot be
// copied into it as fork copies it. What travels is the function's identity
// — its offset inside the binary (or a shared library of it) — and its
// arguments, encoded. The receiver checks that it runs the same binary
// (the build-id) before it turns an offset back into code: a different
// binary gets a ProcessError, never a jump to a wrong address.
//
// What can travel: a function pointer, a static member function, or a lambda
// without captures (it converts to a function pointer), with Encodable
// arguments. A lambda with captures, a std::function or a functor object
// cannot (their state is memory the child does not have); Shippable<F,
// Args...> says which, so callers can refuse at compile time.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpx/codec.hpp"

namespace mpx::detail {

/// Where a piece of code lives: an object of the process (empty: the main
/// program; else a shared library's path) and the offset from its load address.
struct CodeRef {
  std::string object;
  std::uint64_t offset = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(object, offset);
  }
};

/// The CodeRef of `code` in this process. Throws ProcessError if it lies in
/// no loaded object (a JIT buffer, say).
CodeRef code_ref(const void* code);
/// The address of `ref` in this process. Throws ProcessError if its object is
/// not loaded here or the offset falls outside it.
const void* code_address(const CodeRef& ref);
/// The main program's GNU build-id (hex), or, when it was linked without
/// one, a digest of its bytes. Computed once.
const std::string& build_id();

/// The function pointer a callable decays to, if it has one.
template <class F>
using FunctionPointer = decltype(+std::declval<std::decay_t<F>&>());

template <class F, class... Args>
concept Shippable = requires {
  typename FunctionPointer<F>;
}
&&std::is_pointer_v<FunctionPointer<F>>&& std::is_function_v<std::remove_pointer_t<FunctionPointer<F>>> &&
    (Encodable<std::decay_t<Args>> && ...) && std::is_invocable_v<FunctionPointer<F>, std::decay_t<Args>&...>;

/// A call ready to travel: two pieces of code (the typed trampoline that
/// decodes the arguments, and the user's function) and the encoded arguments.
struct ShippedCall {
  std::string build_id;
  CodeRef trampoline;
  CodeRef function;
  std::vector<std::byte> args;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(build_id, trampoline, function, args);
  }
};

using Trampoline = void (*)(const void* function, std::span<const std::byte> args);

// The arguments as one tuple through the codec's archive, encoded from
// references: a move-only argument (a Connection) is never copied.
template <class... Args>
std::vector<std::byte> encode_args(Args&... args) {
  std::vector<std::byte> out;
  SpanOut ar(out);
  ar(std::forward_as_tuple(args...));
  return out;
}

template <class... Args>
std::tuple<Args...> decode_args(std::span<const std::byte> bytes) {
  std::tuple<Args...> values;
  SpanIn ar(bytes.data(), bytes.size());
  try {
    ar(values);
  } catch (const DecodeError&) {
    throw;
  } catch (const cereal::Exception& e) {
    throw DecodeError(e.what());
  }
  if (ar.left() != 0) throw DecodeError(std::to_string(ar.left()) + " trailing bytes after the arguments");
  return values;
}

template <class Fn, class... Args>
void trampoline(const void* function, std::span<const std::byte> args) {
  auto values = decode_args<Args...>(args);
  // A data pointer back to a function pointer: conditionally supported, and
  // what dlsym() relies on on every POSIX system.
  auto fn = reinterpret_cast<Fn>(const_cast<void*>(function));
  std::apply(fn, values);
}

/// Packs f(args...) for another process. Throws ProcessError if f's code
/// cannot be located (see code_ref).
template <class F, class... Args>
requires Shippable<F, Args...> ShippedCall ship(F&& f, Args&... args) {
  using Fn = FunctionPointer<F>;
  Fn fn = +f;
  ShippedCall call;
  call.build_id = build_id();
  call.trampoline = code_ref(reinterpret_cast<const void*>(&trampoline<Fn, std::decay_t<Args>...>));
  call.function = code_ref(reinterpret_cast<const void*>(fn));
  call.args = encode_args(args...);
  return call;
}

/// Runs a call shipped by ship() from a process of the same binary.
/// Throws ProcessError if the binary differs or the code cannot be found;
/// DecodeError if the arguments do not decode; whatever the call throws.
void run_shipped(const ShippedCall& call);

}  // namespace mpx::detail
