// src/shareable_value.hpp — Python's == between ShareableList values (the
// repr() of a value is public: mpx::repr in shared_memory.hpp).
#pragma once

#include "mpx/shared_memory.hpp"

namespace mpx::detail {

/// Python's `a == b` for the values a ShareableList holds: int, float and
/// bool compare by numeric value (1 == 1.0 == True, exactly, with no
/// rounding of large ints), str only with str, bytes only with bytes, None
/// only with None.
bool py_equal(const ShareableList::Value& a, const ShareableList::Value& b);

}  // namespace mpx::detail
