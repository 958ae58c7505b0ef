# Interface targets every first-party target links (as ccache does).
# (-Wnull-dereference is left out: at -O2 it fires inside Boost.Asio templates.)
#
#   zmproxy_settings  include root, definitions, sanitizers, hardening
#   zmproxy_warnings  the warning set (-Werror in the ci preset)
add_library(zmproxy_settings INTERFACE)
target_include_directories(zmproxy_settings INTERFACE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
target_compile_definitions(zmproxy_settings INTERFACE
  BOOST_ASIO_NO_DEPRECATED
  $<$<CONFIG:Debug>:_GLIBCXX_ASSERTIONS>)
if(ZMPROXY_SANITIZE)
  target_compile_options(zmproxy_settings INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_compile_definitions(zmproxy_settings INTERFACE BOOST_ASIO_DISABLE_AWAITABLE_FRAME_RECYCLING)
  target_link_options(zmproxy_settings INTERFACE -fsanitize=address,undefined)
else()
  target_compile_options(zmproxy_settings INTERFACE
    $<$<NOT:$<CONFIG:Debug>>:-D_FORTIFY_SOURCE=2> -fstack-protector-strong)
  target_link_options(zmproxy_settings INTERFACE -Wl,-z,relro,-z,now)
endif()

add_library(zmproxy_warnings INTERFACE)
target_compile_options(zmproxy_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wimplicit-fallthrough -Wformat=2 -Wcast-align -Wextra-semi
  -Wno-mismatched-new-delete  # GCC 12 false positive on Asio coroutine frames
  $<$<BOOL:${ZMPROXY_WERROR}>:-Werror>)
