// mpx/detail/id_table.hpp — a map from rising ids to values, for things
// handed out in order and mostly returned in order (a pool's tasks in
// flight).
//
//   IdTable<Entry> table;
//   table.emplace(7, entry);              // ids only rise
//   if (auto e = table.take(7)) use(*e);  // in any order
//
// The values sit in a deque indexed by `id - base`, so finding one is an
// index, not a hash probe: a pool's result thread takes each task out of a
// table of thousands, and the hash table's probes (a cache miss each, and a
// node freed on another thread's malloc arena) were its largest cost. A
// value left behind by many later ones (a task that runs long while
// thousands of short ones finish) would make the deque span them all: once
// the span passes twice the values held (and kMinSpan), the oldest values
// move to an ordinary hash map instead, so memory stays proportional to
// the values held.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <utility>

namespace mpx::detail {

template <class T>
class IdTable {
 public:
  /// Ids the deque may span whatever the values held.
  static constexpr std::size_t kMinSpan = 1024;

  /// Adds `value` under `id`, which is larger than every id added before
  /// (ids skipped stay empty).
  void emplace(std::uint64_t id, T value) {
    if (slots_.empty()) base_ = id;
    // Ids skipped (never added) are empty slots.
    while (base_ + slots_.size() < id) push_slot(std::nullopt);
    push_slot(std::move(value));
    ++size_;
  }

  /// The value under `id`, or null.
  T* find(std::uint64_t id) {
    if (id >= base_ && id - base_ < slots_.size()) {
      auto& slot = slots_[static_cast<std::size_t>(id - base_)];
      return slot ? &*slot : nullptr;
    }
    auto it = overflow_.find(id);
    return it == overflow_.end() ? nullptr : &it->second;
  }
  bool contains(std::uint64_t id) { return find(id) != nullptr; }

  /// Removes and returns the value under `id`, if there is one.
  std::optional<T> take(std::uint64_t id) {
    std::optional<T> out;
    if (id >= base_ && id - base_ < slots_.size()) {
      auto& slot = slots_[static_cast<std::size_t>(id - base_)];
      if (!slot) return out;
      out = std::move(slot);
      slot.reset();
      while (!slots_.empty() && !slots_.front()) pop_slot();
    } else {
      auto it = overflow_.find(id);
      if (it == overflow_.end()) return out;
      out = std::move(it->second);
      overflow_.erase(it);
    }
    --size_;
    return out;
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  /// Calls fn(id, value&) for every value, then empties the table.
  template <class Fn>
  void drain(Fn&& fn) {
    for (auto& [id, value] : overflow_) fn(id, value);
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i]) fn(base_ + i, *slots_[i]);
    }
    clear();
  }
  void clear() noexcept {
    slots_.clear();
    overflow_.clear();
    size_ = 0;
  }
  void swap(IdTable& other) noexcept {
    slots_.swap(other.slots_);
    overflow_.swap(other.overflow_);
    std::swap(base_, other.base_);
    std::swap(size_, other.size_);
  }

 private:
  void push_slot(std::optional<T> value) {
    if (slots_.size() >= std::max(kMinSpan, 2 * size_)) {
      if (slots_.front()) overflow_.emplace(base_, std::move(*slots_.front()));
      pop_slot();
    }
    slots_.push_back(std::move(value));
  }
  void pop_slot() {
    slots_.pop_front();
    ++base_;
  }

  std::deque<std::optional<T>> slots_;
  std::uint64_t base_ = 0;  // the id of slots_.front()
  std::unordered_map<std::uint64_t, T> overflow_;
  std::size_t size_ = 0;
};

}  // namespace mpx::detail
