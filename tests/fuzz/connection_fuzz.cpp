// Fuzz target: a Connection reading hostile bytes off a socket. Frames with
// absurd lengths, torn frames and garbage payloads must give mpx errors
// (DecodeError, EOFError, OSError), never a crash, a hang or a huge allocation.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz/fuzz_target.hpp"
#include "mpx/connection.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto [writer, reader] = mpx::Pipe(true, {.max_message_size = 1 << 20});
  // Inputs are capped well under the socket buffer, so this write never blocks.
  if (size > 0 && ::write(writer.fileno(), data, size) != static_cast<ssize_t>(size)) std::abort();
  writer.close();
  for (int i = 0; i < 1000; ++i) {
    try {
      switch (i % 3) {
        case 0:
          (void)reader.recv<std::vector<std::string>>();
          break;
        case 1:
          (void)reader.recv_bytes();
          break;
        default: {
          std::vector<std::byte> buf(64);
          (void)reader.recv_bytes_into(buf);
        }
      }
    } catch (const mpx::EOFError&) {
      return 0;
    } catch (const mpx::DecodeError&) {
      if (!reader.readable()) return 0;
    } catch (const mpx::BufferTooShort&) {
    } catch (const mpx::OSError&) {
      return 0;  // torn frame at EOF, or the stream position was lost
    }
  }
  return 0;
}

std::vector<std::vector<std::uint8_t>> mpx_fuzz_seeds() {
  std::vector<std::uint8_t> two_frames = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0};
  std::vector<std::uint8_t> long_form = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 2, 'h', 'i'};
  std::vector<std::uint8_t> strings = {0, 0, 0, 21, 1, 0, 0, 0,   0,   0,   0,   0,  5,
                                       0, 0, 0, 0,  0, 0, 0, 'h', 'e', 'l', 'l', 'o'};
  return {two_frames, long_form, strings};
}
