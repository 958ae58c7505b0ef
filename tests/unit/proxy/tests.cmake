# Unit tests of the protocol parsers and the mail sessions (in process,
# against tests/support/fake_upstream), added to unit_tests.
set(ZMPROXY_PARSER_TESTS
  unit/proxy/line_reader_test.cpp
  unit/proxy/sasl_test.cpp
  unit/proxy/upstream_text_test.cpp
  unit/proxy/login_budget_test.cpp
  unit/proxy/imap_command_parser_test.cpp
  unit/proxy/imap_response_parser_test.cpp
  unit/proxy/pop3_command_parser_test.cpp
  unit/proxy/pop3_response_parser_test.cpp
  unit/proxy/http_routing_test.cpp
  unit/proxy/peer_connections_test.cpp
  unit/proxy/throttle_gate_test.cpp
  unit/proxy/imap/client_session_test.cpp
  unit/proxy/imap/upstream_login_test.cpp
  unit/proxy/pop3/client_session_test.cpp
  unit/proxy/pop3/upstream_login_test.cpp
  unit/proxy/mail/kerberos_login_test.cpp
  support/fake_upstream.cpp
)
