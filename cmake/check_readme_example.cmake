# cmake -DREADME=... -DEXAMPLE=... -P check_readme_example.cmake
# Fails when the README's quoted copy of an example differs from the file.
file(READ "${README}" readme)
file(READ "${EXAMPLE}" example)
string(FIND "${readme}" "${example}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md no longer quotes ${EXAMPLE} verbatim: update the README's copy")
endif()
