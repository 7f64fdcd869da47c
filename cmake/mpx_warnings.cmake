# The warning set for mpx's own code, on an INTERFACE target linked PRIVATE,
# so that users of mpx never inherit it.
add_library(mpx_warnings INTERFACE)
target_compile_options(mpx_warnings INTERFACE -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wpedantic)
if(MPX_WERROR)
  target_compile_options(mpx_warnings INTERFACE -Werror)
endif()
