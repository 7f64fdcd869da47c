// The default libc entries of the IO seam (sys.hpp).
#include "os/sys.hpp"

#include <sys/socket.h>
#include <unistd.h>

namespace mpx::detail::sys {

Table& table() noexcept {
  static Table t{::read, ::write, ::writev, ::send, ::sendmsg, ::poll};
  return t;
}

}  // namespace mpx::detail::sys
