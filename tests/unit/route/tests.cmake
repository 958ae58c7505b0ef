# Unit tests of lib/route (one file per lib/route source), added to unit_tests.
set(ZMPROXY_ROUTE_TESTS
  unit/route/cache_key_test.cpp
  unit/route/cached_route_test.cpp
  unit/route/known_servers_test.cpp
  unit/route/local_route_cache_test.cpp
  unit/route/lookup_access_test.cpp
  unit/route/lookup_client_test.cpp
  unit/route/lookup_handler_test.cpp
  unit/route/lookup_http_test.cpp
  unit/route/lookup_protocol_test.cpp
  unit/route/memcached_cache_test.cpp
  unit/route/purge_test.cpp
  unit/route/route_index_test.cpp
  unit/route/route_resolver_test.cpp
  unit/route/route_seal_test.cpp
)
