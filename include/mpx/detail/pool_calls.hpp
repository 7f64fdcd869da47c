// mpx/detail/pool_calls.hpp — part of mpx/pool.hpp: how one call or one
// chunk of a map travels to a pool worker and back.
//
//   parent: make_apply_message(f, args...)  ─► worker: apply_trampoline<Fn, R, Args...>
//           make_chunk_message(f, items)     ─► worker: chunk_trampoline<Fn, Star, Item>
//   worker: the result, encoded               ─► parent: decode_result<R> / decode_chunk<R>
//
// Both trampolines are instantiated in the parent (their addresses are taken
// to ship them), so the worker — the same binary — has them too.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "mpx/detail/future_core.hpp"
#include "mpx/detail/process_pool.hpp"
#include "mpx/detail/shipping.hpp"

namespace mpx::detail {

/// What a call returning R yields in a container: monostate for void (Python's None).
template <class R>
using ValueOf = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

template <class T>
concept TupleLike = requires {
  std::tuple_size<std::remove_cvref_t<T>>::value;
};

/// The result of calling f on one item: f(item), or f(*item) for starmap.
template <class F, class Item, bool Star>
struct ItemCall;
template <class F, class Item>
struct ItemCall<F, Item, false> {
  using type = std::invoke_result_t<F&, Item&>;
};
template <class F, class Item>
struct ItemCall<F, Item, true> {
  using type = decltype(std::apply(std::declval<F&>(), std::declval<Item&>()));
};
template <class F, class Item, bool Star>
using item_result_t = std::remove_cvref_t<typename ItemCall<std::decay_t<F>, Item, Star>::type>;

template <class F, class Item, bool Star>
ValueOf<item_result_t<F, Item, Star>> call_item(F& fn, Item& item) {
  using R = item_result_t<F, Item, Star>;
  auto call = [&]() -> decltype(auto) {
    if constexpr (Star) {
      return std::apply(fn, item);
    } else {
      return std::invoke(fn, item);
    }
  };
  if constexpr (std::is_void_v<R>) {
    call();
    return {};
  } else {
    return call();
  }
}

template <class Fn, class R, class... Args>
void apply_trampoline(const void* function, std::span<const std::byte> args, std::vector<std::byte>& out) {
  auto values = decode_args<Args...>(args);
  auto fn = reinterpret_cast<Fn>(const_cast<void*>(function));
  if constexpr (std::is_void_v<R>) {
    std::apply(fn, values);
  } else {
    R r = std::apply(fn, values);
    SpanOut ar(out);
    ar(r);
  }
}

template <class Fn, bool Star, class Item>
void chunk_trampoline(const void* function, std::span<const std::byte> args, std::vector<std::byte>& out) {
  // Decoded item by item, as make_chunk_message encoded them.
  SpanIn in(args.data(), args.size());
  cereal::size_type n = 0;
  in(cereal::make_size_tag(n));
  if (n > in.left())
    throw DecodeError("a chunk claims " + std::to_string(n) + " items in " + std::to_string(in.left()) + " bytes");
  std::vector<Item> items;
  items.reserve(static_cast<std::size_t>(n));
  for (cereal::size_type i = 0; i < n; ++i) {
    Item item{};
    in(item);
    items.push_back(std::move(item));
  }
  if (in.left() != 0) throw DecodeError(std::to_string(in.left()) + " trailing bytes after a chunk");
  auto fn = reinterpret_cast<Fn>(const_cast<void*>(function));
  using V = ValueOf<item_result_t<Fn, Item, Star>>;
  SpanOut ar(out);
  if constexpr (std::is_same_v<V, std::monostate>) {
    // Nothing but the count: the codec refuses a vector of empty things
    // (its length cannot be checked against the bytes left).
    for (Item& item : items) call_item<Fn, Item, Star>(fn, item);
    ar(static_cast<std::uint64_t>(items.size()));
  } else {
    std::vector<V> results;
    results.reserve(items.size());
    for (Item& item : items) results.push_back(call_item<Fn, Item, Star>(fn, item));
    ar(results);
  }
}

/// The task message for f(args...).
template <class F, class... Args>
std::vector<std::byte> make_apply_message(F& f, std::chrono::nanoseconds timeout, Args&... args) {
  using Fn = FunctionPointer<F>;
  using R = std::invoke_result_t<Fn, std::decay_t<Args>&...>;
  Fn fn = +f;
  PoolTrampoline tr = &apply_trampoline<Fn, R, std::decay_t<Args>...>;
  return make_task_message(reinterpret_cast<const void*>(tr), reinterpret_cast<const void*>(fn), timeout,
                           [&](SpanOut& ar) { ar(std::forward_as_tuple(args...)); });
}

/// The task message for one chunk of a map, the items [first, last), into `out`.
template <bool Star, class Item, class F, class It>
void encode_chunk_message(std::vector<std::byte>& out, F& f, std::chrono::nanoseconds timeout, It first, It last) {
  using Fn = FunctionPointer<F>;
  Fn fn = +f;
  PoolTrampoline tr = &chunk_trampoline<Fn, Star, Item>;
  encode_task_message(out, reinterpret_cast<const void*>(tr), reinterpret_cast<const void*>(fn), timeout,
                      [&](SpanOut& ar) {
                        // The length, then the items (chunk_trampoline reads them back so).
                        ar(cereal::make_size_tag(static_cast<cereal::size_type>(last - first)));
                        for (It it = first; it != last; ++it) ar(*it);
                      });
}
template <bool Star, class Item, class F, class It>
std::vector<std::byte> make_chunk_message(F& f, std::chrono::nanoseconds timeout, It first, It last) {
  std::vector<std::byte> out;
  encode_chunk_message<Star, Item>(out, f, timeout, first, last);
  return out;
}

/// Decodes a result; DecodeError if the bytes do not hold exactly one R.
/// (A type that is not Encodable only reaches here in a ThreadPool's job,
/// which never decodes: it compiles, and refuses at run time.)
template <class T>
T decode_exact(std::span<const std::byte> bytes) {
  if constexpr (Encodable<T>) {
    auto [value] = decode_args<T>(bytes);
    return std::move(value);
  } else {
    throw DecodeError("this result type cannot be decoded");
  }
}

/// Fails `f` unless a done callback or waiter is installed on it (false).
inline bool fail_quietly(FutureCore& f, const std::exception_ptr& error) noexcept {
  try {
    return f.set_exception_quietly(error);
  } catch (...) {
    return false;
  }
}

/// Completes `f` with the R decoded from `bytes` (or the decoding error),
/// unless a done callback or waiter is installed on it (false).
template <class R>
bool complete_quietly(FutureValue<R>& f, std::span<const std::byte> bytes) noexcept {
  try {
    if constexpr (std::is_void_v<R>) {
      if (!bytes.empty()) throw DecodeError("a void result with bytes");
      return f.set_result_quietly([](FutureCore*, void*) {}, nullptr);
    } else {
      R value = decode_exact<R>(bytes);
      return f.set_result_quietly(
          [](FutureCore* c, void* v) { static_cast<FutureValue<R>*>(c)->emplace(std::move(*static_cast<R*>(v))); },
          &value);
    }
  } catch (...) {
    return fail_quietly(f, std::current_exception());
  }
}

}  // namespace mpx::detail

namespace mpx {

/// Pool's and ProcessPoolExecutor's initializer=, initargs=: a function that
/// can travel, with its arguments: `.initializer = init` or
/// `.initializer = {init, lock, 42}`. The arguments are copied now; shared
/// objects among them (Lock, Value, Queue...) reach every worker as the same
/// object, under every start method, as Python's initargs do.
class Initializer {
 public:
  Initializer() = default;
  template <class F, class... A>
  requires detail::Shippable<F, A...> Initializer(F f, A... args) {
    auto fn = +f;
    auto tup = std::make_shared<std::tuple<A...>>(std::move(args)...);
    run_ = [fn, tup] { std::apply(fn, *tup); };
    // Encoded when a worker is spawned, under its Transfer: shared objects travel.
    ship_ = [fn, tup] { return std::apply([&](auto&... a) { return detail::ship(fn, a...); }, *tup); };
  }
  explicit operator bool() const noexcept { return static_cast<bool>(run_); }
  /// Runs it here (a forked worker holds a copy).
  const std::function<void()>& run() const noexcept { return run_; }
  /// Packs it for a spawned worker.
  const std::function<detail::ShippedCall()>& shipper() const noexcept { return ship_; }

 private:
  std::function<void()> run_;
  std::function<detail::ShippedCall()> ship_;
};

}  // namespace mpx
