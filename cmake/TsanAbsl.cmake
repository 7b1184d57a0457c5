# PROV_TSAN=ON (the `tsan` preset): links tests/tsan/absl_mutex_tsan.cc, which tells
# ThreadSanitizer about Debian's uninstrumented absl::Mutex (see that file), into every
# executable defined so far. Include it after every add_subdirectory().
add_library(prov_tsan_absl OBJECT ${CMAKE_SOURCE_DIR}/tests/tsan/absl_mutex_tsan.cc)
target_link_libraries(prov_tsan_absl PRIVATE absl::synchronization absl::time prov::warnings)

# Every EXECUTABLE target under `dir`, into `out`.
function(prov_executables_under dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  set(found "")
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "EXECUTABLE")
      list(APPEND found ${t})
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    prov_executables_under(${sub} sub_found)
    list(APPEND found ${sub_found})
  endforeach()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

prov_executables_under(${CMAKE_SOURCE_DIR} prov_all_executables)
foreach(exe IN LISTS prov_all_executables)
  # The object file goes on the link line itself, ahead of the shared Abseil it interposes on.
  target_link_libraries(${exe} PRIVATE prov_tsan_absl ${CMAKE_DL_LIBS})
endforeach()
