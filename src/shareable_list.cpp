// mpx::ShareableList (shared_memory.hpp), byte for byte Python's layout
// (Lib/multiprocessing/shared_memory.py), so either side can attach:
//
//   0                 8                    (n+2)*8            P = (n+2)*8 + offsets[n]
//   | n (int64) | offsets[0..n] (int64) | data area ...      | formats: n × 8 bytes | codes: n × int8 |
//                 offsets[0] = 0           item i at (n+2)*8 + offsets[i], offsets[i+1] - offsets[i] bytes
//
//   format (NUL-padded to 8)   item                  code
//   "q"                        int64                 0
//   "d"                        double                0
//   "xxxxxxx?"                 bool in the 8th byte  0
//   "xxxxxx?x"                 None (7th byte 0)     3
//   "<N>s"                     str (UTF-8) / bytes   1 / 2   N bytes, NUL-padded; read back without
//                                                            trailing NULs (as Python does)
//
// Everything is native-endian and 8-aligned, as Python's struct "@" packs it.
// A block another process wrote is checked before use: a bad header, offset
// or format is a ValueError, never a read outside the block.
#include <algorithm>
#include <cstring>
#include <optional>

#include "mpx/shared_memory.hpp"
#include "shareable_value.hpp"

namespace mpx {

namespace {

using Value = ShareableList::Value;

enum Code : std::int8_t { kPlain = 0, kStr = 1, kBytes = 2, kNone = 3 };
constexpr std::int64_t kAlignment = 8;
constexpr std::size_t kMaxSlot = 9'999'999;  // "%ds" must fit 8 bytes: 7 digits and the 's'

std::int64_t load_i64(const std::byte* p) {
  std::int64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
void store_i64(std::byte* p, std::int64_t v) { std::memcpy(p, &v, sizeof v); }

std::string_view text(const Value& v) {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  auto& b = std::get<std::vector<std::byte>>(v);
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
bool is_text(const Value& v) {
  return std::holds_alternative<std::string>(v) || std::holds_alternative<std::vector<std::byte>>(v);
}

// Python sizes a str's slot by its length in characters. Where the UTF-8
// bytes would not fit that slot (Python then truncates them), mpx makes room.
std::int64_t text_slot(const Value& v) {
  auto t = text(v);
  std::size_t units = t.size();
  if (std::holds_alternative<std::string>(v)) {
    units = static_cast<std::size_t>(std::count_if(t.begin(), t.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  }
  auto slot = kAlignment * (static_cast<std::int64_t>(units) / kAlignment + 1);
  if (static_cast<std::int64_t>(t.size()) > slot)
    slot = kAlignment * (static_cast<std::int64_t>(t.size()) / kAlignment + 1);
  if (static_cast<std::size_t>(slot) > kMaxSlot) throw ValueError("bytes/str item too long for a ShareableList");
  return slot;
}

std::string format_for(const Value& v, std::int64_t slot) {
  switch (v.index()) {
    case 0:
      return "xxxxxx?x";
    case 1:
      return "q";
    case 2:
      return "d";
    case 3:
      return "xxxxxxx?";
    default:
      return std::to_string(slot) + "s";
  }
}

Code code_for(const Value& v) {
  if (std::holds_alternative<std::monostate>(v)) return kNone;
  if (std::holds_alternative<std::string>(v)) return kStr;
  if (std::holds_alternative<std::vector<std::byte>>(v)) return kBytes;
  return kPlain;
}

// N of a "<N>s" format (at most 7 digits: formats are 8 bytes), or nullopt.
std::optional<std::size_t> text_length(std::string_view fmt) {
  if (fmt.size() < 2 || fmt.back() != 's') return std::nullopt;
  std::size_t n = 0;
  for (char c : fmt.substr(0, fmt.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  return n;
}

struct Layout {
  std::vector<std::string> formats;
  std::vector<std::int64_t> offsets;  // n + 1
  std::int64_t bytes = 0;
};

// Python's struct.calcsize("q" + "q"*(n+1) + formats + "8s"*n + "b"*n).
Layout plan(const std::vector<Value>& items) {
  Layout l;
  l.offsets.push_back(0);
  for (const auto& v : items) {
    std::int64_t slot = is_text(v) ? text_slot(v) : kAlignment;
    l.formats.push_back(format_for(v, slot));
    l.offsets.push_back(l.offsets.back() + slot);
  }
  auto n = static_cast<std::int64_t>(items.size());
  l.bytes = (n + 2) * 8 + l.offsets.back() + n * 8 + n;
  return l;
}

// The bytes of `fmt` for `v` at `at` (Python's struct.pack_into; pad bytes are zero).
void pack(std::byte* at, std::string_view fmt, const Value& v) {
  if (auto len = text_length(fmt)) {
    std::size_t n = *len;
    auto t = text(v);
    std::memset(at, 0, n);
    if (!t.empty()) std::memcpy(at, t.data(), std::min(n, t.size()));
  } else if (auto* i = std::get_if<std::int64_t>(&v)) {
    store_i64(at, *i);
  } else if (auto* d = std::get_if<double>(&v)) {
    std::memcpy(at, d, sizeof *d);
  } else {
    std::memset(at, 0, 8);
    if (auto* b = std::get_if<bool>(&v)) at[7] = std::byte{*b ? std::uint8_t{1} : std::uint8_t{0}};
  }
}

void store_format(std::byte* at, std::string_view fmt) {
  std::memset(at, 0, 8);
  std::memcpy(at, fmt.data(), std::min<std::size_t>(fmt.size(), 8));
}

}  // namespace

ShareableList::ShareableList(std::vector<Value> sequence, std::optional<std::string> name)
    : shm_(SharedMemoryOptions{.name = std::move(name), .create = true, .size = plan(sequence).bytes}) {
  Layout l = plan(sequence);
  length_ = static_cast<std::ptrdiff_t>(sequence.size());
  offsets_ = l.offsets;
  std::byte* base = shm_.buf().data();
  store_i64(base, length_);
  for (std::size_t i = 0; i < offsets_.size(); ++i) store_i64(base + 8 + 8 * i, offsets_[i]);
  std::byte* data = base + (length_ + 2) * 8;
  std::byte* formats = data + offsets_.back();
  std::byte* codes = formats + 8 * length_;
  for (std::size_t i = 0; i < sequence.size(); ++i) {
    pack(data + offsets_[i], l.formats[i], sequence[i]);
    store_format(formats + 8 * i, l.formats[i]);
    codes[i] = static_cast<std::byte>(code_for(sequence[i]));
  }
}

ShareableList::ShareableList(std::nullopt_t, std::string name) : shm_(std::move(name)) { attach_layout(); }

void ShareableList::attach_layout() {
  auto b = shm_.buf();
  auto bad = [this](const char* why) { return ValueError("'" + shm_.name() + "' is not a ShareableList: " + why); };
  auto size = static_cast<std::int64_t>(b.size());
  if (size < 16) throw bad("too small");
  std::int64_t n = load_i64(b.data());
  if (n < 0 || n > size / 17) throw bad("bad length");  // each item takes at least 8 + 8 + 1 bytes
  offsets_.resize(static_cast<std::size_t>(n) + 1);
  for (std::size_t i = 0; i < offsets_.size(); ++i) {
    offsets_[i] = load_i64(b.data() + 8 + 8 * i);
    if (offsets_[i] < 0 || (i > 0 && offsets_[i] < offsets_[i - 1])) throw bad("bad offsets");
  }
  if (offsets_[0] != 0 || offsets_.back() > size - (n + 2) * 8 - 9 * n) throw bad("bad offsets");
  length_ = static_cast<std::ptrdiff_t>(n);
}

std::size_t ShareableList::slot(std::ptrdiff_t index, const char* what) const {
  if (!shm_.buf().data()) throw ValueError("operation on a closed ShareableList");
  std::ptrdiff_t i = index < 0 ? index + length_ : index;
  if (i < 0 || i >= length_) throw IndexError(what);
  return static_cast<std::size_t>(i);
}

std::string ShareableList::packing_format(std::size_t i) const {
  const std::byte* at = shm_.buf().data() + (length_ + 2) * 8 + offsets_.back() + 8 * i;
  std::string fmt(reinterpret_cast<const char*>(at), 8);
  fmt.erase(fmt.find_last_not_of('\0') + 1);  // Python: rstrip(b'\x00')
  return fmt;
}

Value ShareableList::get(std::ptrdiff_t index) const {
  std::size_t i = slot(index, "index out of range");
  auto b = shm_.buf();
  std::string fmt = packing_format(i);
  auto code =
      static_cast<std::int8_t>(b[static_cast<std::size_t>((length_ + 2) * 8 + offsets_.back() + 8 * length_) + i]);
  const std::byte* at = b.data() + (length_ + 2) * 8 + offsets_[i];
  auto room = static_cast<std::size_t>(b.data() + b.size() - at);
  auto corrupt = [&] { return ValueError("ShareableList item " + std::to_string(i) + " has format '" + fmt + "'"); };
  if (code == kNone) return std::monostate{};
  if (auto len = text_length(fmt)) {
    std::size_t n = *len;
    if (n > room) throw corrupt();
    std::string s(reinterpret_cast<const char*>(at), n);
    s.erase(s.find_last_not_of('\0') + 1);
    if (code == kStr) return s;
    auto* p = reinterpret_cast<const std::byte*>(s.data());
    return std::vector<std::byte>(p, p + s.size());
  }
  if (code != kPlain || room < 8) throw corrupt();
  if (fmt == "q") return load_i64(at);
  if (fmt == "d") {
    double d;
    std::memcpy(&d, at, sizeof d);
    return d;
  }
  if (fmt == "xxxxxxx?") return at[7] != std::byte{0};
  if (fmt == "xxxxxx?x") return at[6] != std::byte{0};
  throw corrupt();
}

void ShareableList::set(std::ptrdiff_t index, const Value& value) {
  std::size_t i = slot(index, "assignment index out of range");
  std::string current = packing_format(i);
  std::string fmt;
  if (is_text(value)) {
    auto allocated = static_cast<std::size_t>(offsets_[i + 1] - offsets_[i]);
    if (text(value).size() > allocated) throw ValueError("bytes/str item exceeds available storage");
    // Python keeps an "<N>s" format as it is, else writes "<allocated>s".
    fmt = !current.empty() && current.back() == 's' ? current : std::to_string(allocated) + "s";
  } else {
    fmt = format_for(value, kAlignment);
  }
  auto b = shm_.buf();
  std::byte* at = b.data() + (length_ + 2) * 8 + offsets_[i];
  auto need = fmt.back() == 's' ? text_length(fmt) : std::optional<std::size_t>(8);
  if (!need || *need > static_cast<std::size_t>(b.data() + b.size() - at)) {
    throw ValueError("ShareableList item " + std::to_string(i) + " has format '" + current + "'");
  }
  std::byte* formats = b.data() + (length_ + 2) * 8 + offsets_.back();
  store_format(formats + 8 * i, fmt);
  formats[8 * length_ + static_cast<std::ptrdiff_t>(i)] = static_cast<std::byte>(code_for(value));
  pack(at, fmt, value);
}

std::size_t ShareableList::count(const Value& value) const {
  return static_cast<std::size_t>(
      std::count_if(begin(), end(), [&](const Value& v) { return detail::py_equal(value, v); }));
}

std::size_t ShareableList::index(const Value& value) const {
  for (std::ptrdiff_t i = 0; i < length_; ++i) {
    if (detail::py_equal(value, get(i))) return static_cast<std::size_t>(i);
  }
  throw ValueError(mpx::repr(value) + " not in this container");
}

std::string ShareableList::format() const {
  std::string all;
  for (std::ptrdiff_t i = 0; i < length_; ++i) all += packing_format(slot(i, "index out of range"));
  return all;
}

std::vector<Value> ShareableList::tolist() const { return {begin(), end()}; }

std::string ShareableList::repr() const {
  std::string items;
  for (const auto& v : *this) items += (items.empty() ? "" : ", ") + mpx::repr(v);
  return "ShareableList([" + items + "], name=" + mpx::repr(Value(shm_.name())) + ")";
}

}  // namespace mpx
