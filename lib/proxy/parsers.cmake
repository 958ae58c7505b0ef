# Pure protocol parsers (standard library only): listed here, compiled into
# libzmproxy and into the fuzz targets. Owned by the parsers' author.
# Paths are relative to lib/. core/base64.cpp (used by sasl.cpp) is compiled
# into libzmproxy on its own; tests/fuzz adds it to the fuzz targets.
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
  proxy/http/mail_mode.cpp
  proxy/http/public_url.cpp
  proxy/http/server_names.cpp
)

# STYLE 2.10 item 3: the parsers also build clean with -Wconversion
# -Wsign-conversion. Source properties are per directory, so this applies in
# every directory that includes this file (lib/ and tests/fuzz/).
get_filename_component(zmproxy_parser_lib_dir "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
foreach(zmproxy_parser_source IN LISTS ZMPROXY_PARSER_SOURCES)
  set_property(SOURCE ${zmproxy_parser_lib_dir}/${zmproxy_parser_source}
               APPEND PROPERTY COMPILE_OPTIONS -Wconversion -Wsign-conversion)
endforeach()
