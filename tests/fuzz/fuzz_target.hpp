// The interface between a fuzz target and fuzz_driver.cpp (or libFuzzer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
/// Valid inputs the mutations start from.
std::vector<std::vector<std::uint8_t>> mpx_fuzz_seeds();
