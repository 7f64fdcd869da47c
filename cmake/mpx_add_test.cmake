# mpx_add_test(NAME name SOURCES a.cpp ... [LABEL unit|conformance|fault|fuzz|thread] [TIMEOUT s] [SHM])
#
# SHM: the test makes named /dev/shm segments. Such tests run one at a time
# (RESOURCE_LOCK dev_shm), and only they have the leak guard check /dev/shm,
# which is shared by every process of the machine.
#
# The one way a test is registered: every test gets a ctest TIMEOUT (nothing
# can hang CI) and one label (make test selects label `thread`, the tests of
# thread-only code, for TSan). One label, not a list: gtest_discover_tests
# passes PROPERTIES through two layers of CMake that would split a list.
# gtest binaries are registered case by case, so a failure names its case.
include(GoogleTest)
find_package(GTest REQUIRED)

function(mpx_add_test)
  cmake_parse_arguments(T "SHM" "NAME;TIMEOUT;LABEL" "SOURCES" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  if(NOT T_LABEL)
    set(T_LABEL unit)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  if(T_LABEL STREQUAL "thread")
    # make test-tsan builds only these (target mpx_thread_tests).
    set_property(GLOBAL APPEND PROPERTY MPX_THREAD_TESTS ${T_NAME})
  endif()
  target_link_libraries(${T_NAME} PRIVATE mpx::mpx mpx_test_support GTest::gtest GTest::gmock mpx_warnings)
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  if(T_SHM)
    set(shm_properties RESOURCE_LOCK dev_shm ENVIRONMENT MPX_TEST_CHECK_SHM=1)
  endif()
  gtest_discover_tests(${T_NAME}
    PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS ${T_LABEL} ${shm_properties}
    NO_PRETTY_TYPES NO_PRETTY_VALUES DISCOVERY_TIMEOUT 30)
endfunction()
