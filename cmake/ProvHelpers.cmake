# prov_add_test(NAME name SOURCES a.cc b.cc DEPS lib1 lib2 [LABELS unit|integration] [NO_THREADS])
# Builds one gtest binary and registers it with ctest (gtest_discover_tests would need the binary
# at configure time of the test list; one ctest entry per binary keeps ctest -j2 efficient).
function(prov_add_test)
  cmake_parse_arguments(T "NO_THREADS" "NAME" "SOURCES;DEPS;LABELS" ${ARGN})
  # NO_THREADS: neither the test nor any process it starts creates a thread. Not built under tsan,
  # which could not report anything there; guarded where there is no sanitizer (PROV_NO_THREADS_GUARD
  # in ../CMakeLists.txt, tests/threads/no_threads_guard.c).
  if(T_NO_THREADS AND PROV_TSAN)
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest GTest::gtest_main prov::warnings)
  target_compile_options(${T_NAME} PRIVATE ${PROV_TEST_COMPILE_OPTIONS})
  # Most tests are one file; those of several define the same helpers (kT0, FlagsOf, TestPolicy)
  # in each file's anonymous namespace, which one unity-build unit cannot hold.
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests
    UNITY_BUILD OFF)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  math(EXPR timeout "300 * ${PROV_TEST_TIMEOUT_SCALE}")
  set(env "PROV_SOURCE_DIR=${CMAKE_SOURCE_DIR};PROV_BIN_DIR=${CMAKE_BINARY_DIR}/bin;PROV_TEST_TIME_SCALE=${PROV_TEST_TIMEOUT_SCALE}")
  if(T_NO_THREADS)
    list(APPEND T_LABELS no_threads)
    if(PROV_NO_THREADS_GUARD)
      list(APPEND env "LD_PRELOAD=$<TARGET_FILE:prov_no_threads_guard>")
    endif()
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${timeout}
    ENVIRONMENT "${env}")
endfunction()

# prov_test_timeout(test seconds): the test's TIMEOUT, multiplied like prov_add_test's by
# PROV_TEST_TIMEOUT_SCALE (3 under tsan, 2 under asan), for tests that set their own.
function(prov_test_timeout name seconds)
  math(EXPR timeout "${seconds} * ${PROV_TEST_TIMEOUT_SCALE}")
  set_tests_properties(${name} PROPERTIES TIMEOUT ${timeout})
endfunction()

# prov_embed_file(OUT_VAR symbol input): generates a .cc defining
# `extern const char symbol[]` with the file's bytes, so data tables ship inside binaries.
function(prov_embed_file out_var symbol input)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${symbol}_embed.cc)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DINPUT=${input} -DOUTPUT=${out} -DSYMBOL=${symbol}
            -P ${CMAKE_SOURCE_DIR}/cmake/EmbedFile.cmake
    DEPENDS ${input} ${CMAKE_SOURCE_DIR}/cmake/EmbedFile.cmake
    COMMENT "Embedding ${input}")
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
