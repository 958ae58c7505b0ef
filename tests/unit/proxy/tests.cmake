# Unit tests of the protocol parsers, added to unit_tests.
set(ZMPROXY_PARSER_TESTS
)
