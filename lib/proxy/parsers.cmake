# Pure protocol parsers (standard library only): listed here, compiled into
# libzmproxy and into the fuzz targets. Owned by the parsers' author.
set(ZMPROXY_PARSER_SOURCES
)
