// mpx::SharedMemory (shared_memory.hpp): Python's rules on top of
// shm_open/ftruncate/mmap (os/shm.cpp) and the resource tracker
// (os/resource_tracker.cpp).
#include <fcntl.h>

#include <utility>

#include "mpx/detail/fd.hpp"
#include "mpx/shared_memory.hpp"
#include "os/resource_tracker.hpp"
#include "os/shm.hpp"

namespace mpx {

namespace {

// Python's _SHM_NAME_PREFIX: names from mpx and from Python look alike, and
// O_EXCL keeps the two from ever picking the same one.
constexpr std::string_view kNamePrefix = "/psm_";

}  // namespace

SharedMemory::SharedMemory(std::optional<std::string> name, bool create, std::int64_t size)
    : SharedMemory(SharedMemoryOptions{.name = std::move(name), .create = create, .size = size}) {}

SharedMemory::SharedMemory(SharedMemoryOptions options) {
  // The checks and messages of Python's SharedMemory.__init__, in its order.
  if (options.size < 0) throw ValueError("'size' must be a positive integer");
  if (options.create && options.size == 0) {
    throw ValueError("'size' must be a positive number different from zero");
  }
  if (!options.name && !options.create) throw ValueError("'name' can only be None if create=True");
  if (options.name && options.name->find('\0') != std::string::npos) throw ValueError("embedded null character");

  const bool track = options.track.value_or(options.create);
  if (track) detail::resource_tracker::ensure_running();

  const int flags = options.create ? O_CREAT | O_EXCL | O_RDWR : O_RDWR;
  std::optional<std::uint32_t> pending;  // the tracker's slot for a create in progress
  auto open = [&] {
    // A create is registered before shm_open, so no moment of it can leak.
    if (track && options.create) pending = detail::resource_tracker::reserve(posix_name_);
    try {
      return detail::Fd::shm_open(posix_name_.c_str(), flags);
    } catch (...) {
      if (pending) detail::resource_tracker::cancel(*pending);
      pending.reset();
      throw;
    }
  };
  detail::Fd fd;
  if (options.name) {
    posix_name_ = "/" + *options.name;
    fd = open();
  } else {
    for (;;) {
      posix_name_ = detail::shm::random_name(kNamePrefix);
      try {
        fd = open();
        break;
      } catch (const FileExistsError&) {
        // Taken: draw again, as Python does.
      }
    }
  }

  bool registered = false;
  try {
    auto info = detail::shm::stat(fd.get());
    dev_ = info.id.dev;
    ino_ = info.id.ino;
    if (pending) {
      detail::resource_tracker::publish(*pending, info.id);
      registered = true;
    } else if (track) {
      detail::resource_tracker::register_segment(posix_name_, info.id);
      registered = true;
    }
    if (options.create) {
      detail::shm::truncate(fd.get(), static_cast<std::size_t>(options.size));
      info.size = static_cast<std::size_t>(options.size);
    }
    if (info.size == 0) throw ValueError("cannot mmap an empty file");
    data_ = detail::shm::map(fd.get(), info.size);
    size_ = info.size;
  } catch (...) {
    if (registered) detail::resource_tracker::unregister_segment(posix_name_, {dev_, ino_});
    if (pending && !registered) detail::resource_tracker::cancel(*pending);
    if (options.create) {
      try {
        detail::shm::unlink(posix_name_);
      } catch (const OSError&) {
        // Already gone: nothing to undo.
      }
    }
    throw;
  }
  // The descriptor closes here; the mapping is all a handle needs.
}

SharedMemory::SharedMemory(SharedMemory&& other) noexcept
    : posix_name_(std::exchange(other.posix_name_, {})),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      dev_(other.dev_),
      ino_(other.ino_) {}

SharedMemory& SharedMemory::operator=(SharedMemory&& other) noexcept {
  if (this != &other) {
    close();
    posix_name_ = std::exchange(other.posix_name_, {});
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    dev_ = other.dev_;
    ino_ = other.ino_;
  }
  return *this;
}

SharedMemory::~SharedMemory() { close(); }

std::string SharedMemory::name() const {
  // Python's name property: the POSIX name without its leading slash.
  return posix_name_.empty() ? std::string() : posix_name_.substr(1);
}

void SharedMemory::close() noexcept {
  detail::shm::unmap(data_, size_);
  data_ = nullptr;
}

void SharedMemory::unlink() {
  if (posix_name_.empty()) return;  // Python: `if self._name`
  detail::shm::unlink(posix_name_);
  // Whichever handle unlinks, the program's tracker forgets the name: it
  // must not unlink it again at exit, when it may name someone else's block.
  detail::resource_tracker::unregister_segment(posix_name_, {dev_, ino_});
}

std::string SharedMemory::repr() const {
  return "SharedMemory(" + mpx::repr(ShareableList::Value(name())) + ", size=" + std::to_string(size_) + ")";
}

}  // namespace mpx
