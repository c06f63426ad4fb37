# trellis_module(NAME SRCS ... DEPS ... PRIVATE_DEPS ... TESTS ... LABELS ...)
#
# Declares library trellis_NAME with the alias trellis::NAME, rooted include paths, and one
# GoogleTest executable per file in TESTS, registered with ctest under LABELS (default: unit).
# Header-only modules pass no SRCS and become INTERFACE libraries.
# Not -Wnull-dereference: at -O2 g++ 12 reports false positives inside Asio's headers.
# -Wno-restrict: g++ 12 false positive in std::string at -O2 (GCC bug 105329).
set(TRELLIS_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
    -Wno-missing-field-initializers $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)

function(trellis_compile_options target)
  target_compile_options(${target} PRIVATE ${TRELLIS_WARNINGS})
  if(TRELLIS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(trellis_module NAME)
  cmake_parse_arguments(M "" "" "SRCS;DEPS;PRIVATE_DEPS;TESTS;LABELS;TEST_DEPS" ${ARGN})
  set(lib trellis_${NAME})
  if(M_SRCS)
    add_library(${lib} STATIC ${M_SRCS})
    target_include_directories(${lib} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${lib} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
    trellis_compile_options(${lib})
  else()
    add_library(${lib} INTERFACE)
    target_include_directories(${lib} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${lib} INTERFACE ${M_DEPS})
  endif()
  add_library(trellis::${NAME} ALIAS ${lib})

  if(NOT M_LABELS)
    set(M_LABELS unit)
  endif()
  if(TRELLIS_TESTS AND M_TESTS)
    foreach(test_src IN LISTS M_TESTS)
      # For trees where several people add files at once: a test not yet written is skipped
      # with a warning instead of failing the configure (never set in CI).
      if(TRELLIS_TOLERATE_MISSING AND NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${test_src})
        message(WARNING "skipping ${test_src}: not there yet")
        continue()
      endif()
      get_filename_component(test_name ${test_src} NAME_WE)
      add_executable(${test_name} ${test_src})
      target_link_libraries(${test_name} PRIVATE ${lib} ${M_TEST_DEPS} GTest::gtest GTest::gmock
                                                 GTest::gtest_main)
      trellis_compile_options(${test_name})
      add_test(NAME ${test_name} COMMAND ${test_name})
      set_tests_properties(${test_name} PROPERTIES LABELS "${M_LABELS}" TIMEOUT 300)
    endforeach()
  endif()
endfunction()

if(TRELLIS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# trellis_embed_migrations(TARGET <lib> FUNCTION <c++ name> DIR <dir>)
#
# Compiles the V<n>__<name>.sql files of DIR into a static library exposing
#   std::vector<trellis::platform::store::MigrationFile> <FUNCTION>();
# so the binary carries its schema and `trellis migrate` needs no source tree. Re-run when a
# file is added (CONFIGURE_DEPENDS) or changed (each file is a dependency of the generated one).
function(trellis_embed_migrations)
  cmake_parse_arguments(E "" "TARGET;FUNCTION;DIR" "" ${ARGN})
  file(GLOB sql_files CONFIGURE_DEPENDS ${E_DIR}/*.sql)
  list(SORT sql_files)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${E_TARGET}.cpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DFUNCTION=${E_FUNCTION} "-DFILES=${sql_files}"
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake
    DEPENDS ${sql_files} ${PROJECT_SOURCE_DIR}/cmake/embed_migrations.cmake
    VERBATIM)
  add_library(${E_TARGET} STATIC ${out})
  target_link_libraries(${E_TARGET} PUBLIC trellis::store)
endfunction()
