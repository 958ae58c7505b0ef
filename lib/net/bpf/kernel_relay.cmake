# The kernel relay's BPF program (issue 18), built when clang, bpftool and
# libbpf are found at configure time (ZMPROXY_KERNEL_RELAY, on by default
# then). Without them libzmproxy builds as before and the feature reports
# "not built" (lib/net/sockmap_relay.cpp); the user-space relay is used.
#
#   sockmap_relay.bpf.c --clang --target=bpf--> .bpf.o --bpftool gen skeleton--> sockmap_relay.skel.h

find_program(ZMPROXY_BPF_CLANG NAMES clang clang-16 clang-15 clang-14)
find_program(ZMPROXY_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin /usr/local/sbin)
pkg_check_modules(LIBBPF IMPORTED_TARGET libbpf)
if(ZMPROXY_BPF_CLANG AND ZMPROXY_BPFTOOL AND LIBBPF_FOUND)
  set(zmproxy_kernel_relay_default ON)
else()
  set(zmproxy_kernel_relay_default OFF)
endif()
option(ZMPROXY_KERNEL_RELAY "Build the kernel relay (BPF sockhash; needs clang, bpftool, libbpf-dev)"
       ${zmproxy_kernel_relay_default})
if(ZMPROXY_KERNEL_RELAY AND NOT (ZMPROXY_BPF_CLANG AND ZMPROXY_BPFTOOL AND LIBBPF_FOUND))
  message(FATAL_ERROR "ZMPROXY_KERNEL_RELAY is on but clang, bpftool or libbpf is missing; "
                      "run scripts/install-deps or configure with -DZMPROXY_KERNEL_RELAY=OFF")
endif()

if(ZMPROXY_KERNEL_RELAY)
  set(bpf_dir ${PROJECT_BINARY_DIR}/lib/net)
  set(bpf_arch_include /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
  add_custom_command(
    OUTPUT ${bpf_dir}/sockmap_relay.skel.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${bpf_dir}
    COMMAND ${ZMPROXY_BPF_CLANG} -O2 -g --target=bpf -I${bpf_arch_include}
            -c ${CMAKE_CURRENT_SOURCE_DIR}/net/bpf/sockmap_relay.bpf.c -o ${bpf_dir}/sockmap_relay.bpf.o
    COMMAND ${ZMPROXY_BPFTOOL} gen skeleton ${bpf_dir}/sockmap_relay.bpf.o name sockmap_relay
            > ${bpf_dir}/sockmap_relay.skel.h
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/net/bpf/sockmap_relay.bpf.c
    COMMENT "Building the kernel relay's BPF program and its skeleton"
    VERBATIM)
  target_sources(zmproxy PRIVATE ${bpf_dir}/sockmap_relay.skel.h)
  set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/net/sockmap_relay.cpp PROPERTIES
                              COMPILE_DEFINITIONS ZMPROXY_HAVE_SOCKMAP=1)
  target_link_libraries(zmproxy PRIVATE PkgConfig::LIBBPF)
endif()
