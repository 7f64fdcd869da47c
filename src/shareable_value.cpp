// Python's == and repr() for ShareableList values (shareable_value.hpp).
#include "shareable_value.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace mpx {

namespace {

using Value = ShareableList::Value;

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

bool is_number(const Value& v) {
  return std::holds_alternative<std::int64_t>(v) || std::holds_alternative<double>(v) ||
         std::holds_alternative<bool>(v);
}

std::int64_t as_int(const Value& v) {
  if (auto* b = std::get_if<bool>(&v)) return *b ? 1 : 0;
  return std::get<std::int64_t>(v);
}

// Python compares int and float exactly: 2**53 + 1 != float(2**53 + 1).
bool int_equals_float(std::int64_t i, double d) {
  if (!std::isfinite(d) || d != std::trunc(d)) return false;
  if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return false;
  return static_cast<std::int64_t>(d) == i;
}

// Python's repr(float): the shortest digits that read back the same, in
// fixed notation for exponents -4..15 and scientific otherwise; "100.0", "1e+16".
std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // "-2.73154e+02"
  std::string out;
  std::size_t pos = 0;
  if (sci[0] == '-') {
    out = "-";
    pos = 1;
  }
  auto e_at = sci.find('e');
  std::string digits;
  for (std::size_t i = pos; i < e_at; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  int exp = std::atoi(sci.c_str() + e_at + 1);
  if (exp < -4 || exp >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += exp < 0 ? "e-" : "e+";
    auto e = std::to_string(std::abs(exp));
    out += (e.size() < 2 ? "0" : "") + e;
    return out;
  }
  if (exp < 0) return out + "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
  auto int_len = static_cast<std::size_t>(exp) + 1;
  if (digits.size() <= int_len) return out + digits + std::string(int_len - digits.size(), '0') + ".0";
  return out + digits.substr(0, int_len) + "." + digits.substr(int_len);
}

// Python's repr of str (is_bytes false) or bytes: single quotes unless the
// text has a ' and no ", escapes for \\, the quote, \t \n \r and other
// control bytes; bytes also escape everything outside ASCII.
std::string quote(std::string_view s, bool is_bytes) {
  char q = s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos ? '"' : '\'';
  std::string out = is_bytes ? "b" : "";
  out += q;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (ch == q || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f || (is_bytes && c >= 0x80)) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  out += q;
  return out;
}

}  // namespace

std::string repr(const Value& value) {
  return std::visit(Overloaded{
                        [](std::monostate) -> std::string { return "None"; },
                        [](std::int64_t i) { return std::to_string(i); },
                        [](double d) { return float_repr(d); },
                        [](bool b) -> std::string { return b ? "True" : "False"; },
                        [](const std::string& s) { return quote(s, false); },
                        [](const std::vector<std::byte>& b) {
                          return quote(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()), true);
                        },
                    },
                    value);
}

namespace detail {

bool py_equal(const Value& a, const Value& b) {
  if (is_number(a) && is_number(b)) {
    auto* da = std::get_if<double>(&a);
    auto* db = std::get_if<double>(&b);
    if (da && db) return *da == *db;
    if (da) return int_equals_float(as_int(b), *da);
    if (db) return int_equals_float(as_int(a), *db);
    return as_int(a) == as_int(b);
  }
  return a == b;  // same alternative and equal value; different types never equal
}

}  // namespace detail

}  // namespace mpx
