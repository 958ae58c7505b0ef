# Pure protocol parsers (standard library only): listed here, compiled into
# libzmproxy and into the fuzz targets. Owned by the parsers' author.
# Paths are relative to lib/.
set(ZMPROXY_PARSER_SOURCES
  proxy/mail/line_reader.cpp
  proxy/mail/sasl.cpp
  proxy/mail/upstream_text.cpp
  proxy/imap/command_parser.cpp
  proxy/imap/command_format.cpp
  proxy/imap/response_parser.cpp
  proxy/pop3/command_parser.cpp
  proxy/pop3/response_parser.cpp
  proxy/http/route_extract.cpp
  proxy/http/login_user.cpp
  proxy/http/json_scan.cpp
  proxy/http/jwt.cpp
  proxy/http/mail_mode.cpp
  proxy/http/public_url.cpp
  proxy/http/server_names.cpp
  net/proxy_header.cpp
)

# The pure core helpers the parsers call (standard library only): compiled
# into libzmproxy by lib/CMakeLists.txt's own list, added to the fuzz targets
# by tests/fuzz, held to the same warnings.
set(ZMPROXY_PARSER_CORE_SOURCES
  core/address.cpp
  core/base64.cpp
  core/strings.cpp
)

# STYLE 2.10 item 3: the parsers also build clean with -Wconversion
# -Wsign-conversion. Source properties are per directory, so this applies in
# every directory that includes this file (lib/ and tests/fuzz/).
get_filename_component(zmproxy_parser_lib_dir "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
foreach(zmproxy_parser_source IN LISTS ZMPROXY_PARSER_SOURCES ZMPROXY_PARSER_CORE_SOURCES)
  set_property(SOURCE ${zmproxy_parser_lib_dir}/${zmproxy_parser_source}
               APPEND PROPERTY COMPILE_OPTIONS -Wconversion -Wsign-conversion)
endforeach()
