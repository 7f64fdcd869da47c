// Code identities and the build-id check behind shipped calls (detail/shipping.hpp).
#include "mpx/detail/shipping.hpp"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>

#include "mpx/errors.hpp"

namespace mpx::detail {

namespace {

struct Found {
  const void* code = nullptr;  // in: the address to place
  std::uintptr_t want = 0;     // in (resolve): base + offset to check
  const char* object = nullptr;
  bool resolve = false;
  bool hit = false;
  std::string name;
  std::uintptr_t base = 0;
};

// Whether `addr` lies in an executable PT_LOAD segment of the object.
bool in_code_segment(const dl_phdr_info* info, std::uintptr_t addr) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (addr >= start && addr < start + ph.p_memsz) return true;
  }
  return false;
}

int visit(dl_phdr_info* info, std::size_t, void* data) {
  auto& f = *static_cast<Found*>(data);
  const char* name = info->dlpi_name ? info->dlpi_name : "";
  if (f.resolve) {
    if (std::strcmp(name, f.object) != 0) return 0;
    f.base = info->dlpi_addr;
    f.hit = in_code_segment(info, f.base + f.want);
    return 1;
  }
  if (!in_code_segment(info, reinterpret_cast<std::uintptr_t>(f.code))) return 0;
  f.hit = true;
  f.name = name;
  f.base = info->dlpi_addr;
  return 1;
}

std::string hex(const unsigned char* p, std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

// The NT_GNU_BUILD_ID note of the first object dl_iterate_phdr reports: the
// main program.
int find_build_id(dl_phdr_info* info, std::size_t, void* data) {
  auto& out = *static_cast<std::string*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    const unsigned char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) note;
      std::memcpy(&note, p, sizeof note);
      const unsigned char* name = p + sizeof note;
      const unsigned char* desc = name + ((note.n_namesz + 3) & ~3u);
      const unsigned char* next = desc + ((note.n_descsz + 3) & ~3u);
      if (next > end) break;
      if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        out = hex(desc, note.n_descsz);
        return 1;
      }
      p = next;
    }
  }
  return 1;  // only the main program counts
}

// Without a build-id: FNV-1a of the program's bytes, which a rebuilt binary changes.
std::string digest_of_program() {
  int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_os_error("open(/proc/self/exe)");
  std::uint64_t h = 1469598103934665603ull;
  unsigned char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) h = (h ^ buf[i]) * 1099511628211ull;
  }
  ::close(fd);
  char s[32];
  std::snprintf(s, sizeof s, "fnv-%016llx", static_cast<unsigned long long>(h));
  return s;
}

}  // namespace

CodeRef code_ref(const void* code) {
  Found f;
  f.code = code;
  dl_iterate_phdr(visit, &f);
  if (!f.hit) throw ProcessError("cannot ship this call: its code lies in no loaded object of the program");
  return CodeRef{f.name, reinterpret_cast<std::uintptr_t>(code) - f.base};
}

const void* code_address(const CodeRef& ref) {
  Found f;
  f.resolve = true;
  f.object = ref.object.c_str();
  f.want = ref.offset;
  dl_iterate_phdr(visit, &f);
  if (!f.hit) {
    throw ProcessError("shipped call: no code at offset " + std::to_string(ref.offset) + " of " +
                       (ref.object.empty() ? std::string("the program") : ref.object));
  }
  return reinterpret_cast<const void*>(f.base + ref.offset);
}

const std::string& build_id() {
  static const std::string id = [] {
    std::string s;
    dl_iterate_phdr(find_build_id, &s);
    return s.empty() ? digest_of_program() : s;
  }();
  return id;
}

void run_shipped(const ShippedCall& call) {
  if (call.build_id != build_id()) {
    throw ProcessError("the shipped call comes from another binary (build-id " + call.build_id + ", this program is " +
                       build_id() + ")");
  }
  auto tramp = reinterpret_cast<Trampoline>(const_cast<void*>(code_address(call.trampoline)));
  const void* fn = code_address(call.function);
  tramp(fn, call.args);
}

}  // namespace mpx::detail
