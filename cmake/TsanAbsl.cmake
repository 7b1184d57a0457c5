# PROV_TSAN=ON (the `tsan` preset): links tests/tsan/absl_mutex_tsan.cc and
# tests/tsan/grpc_handoff_tsan.cc, which tell ThreadSanitizer about Debian's uninstrumented
# absl::Mutex and about the handoff inside gRPC's completion queue (see those files), into every
# executable defined so far. Include it after every add_subdirectory().
add_library(prov_tsan_absl OBJECT ${CMAKE_SOURCE_DIR}/tests/tsan/absl_mutex_tsan.cc)
target_link_libraries(prov_tsan_absl PRIVATE absl::synchronization absl::time prov::warnings)
add_library(prov_tsan_grpc OBJECT ${CMAKE_SOURCE_DIR}/tests/tsan/grpc_handoff_tsan.cc)
# grpc++ is public: the shim names two of its callback tags, and the executable must load libgrpc
# for the shim's definitions to interpose on it.
target_link_libraries(prov_tsan_grpc PRIVATE prov::warnings PUBLIC gRPC::grpc++)

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
  # The object files go on the link line itself, ahead of the shared Abseil and gRPC they
  # interpose on.
  target_link_libraries(${exe} PRIVATE prov_tsan_absl prov_tsan_grpc ${CMAKE_DL_LIBS})
endforeach()
