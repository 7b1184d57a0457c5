# prov_add_test(NAME name SOURCES a.cc b.cc DEPS lib1 lib2 [LABELS unit|integration])
# Builds one gtest binary and registers it with ctest (gtest_discover_tests would need the binary
# at configure time of the test list; one ctest entry per binary keeps ctest -j2 efficient).
function(prov_add_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest GTest::gtest_main prov::warnings)
  target_compile_options(${T_NAME} PRIVATE ${PROV_TEST_COMPILE_OPTIONS})
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  math(EXPR timeout "300 * ${PROV_TEST_TIMEOUT_SCALE}")
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${timeout}
    ENVIRONMENT "PROV_SOURCE_DIR=${CMAKE_SOURCE_DIR};PROV_BIN_DIR=${CMAKE_BINARY_DIR}/bin;PROV_TEST_TIME_SCALE=${PROV_TEST_TIMEOUT_SCALE}")
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
