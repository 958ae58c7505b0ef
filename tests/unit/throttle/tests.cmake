# Unit tests of lib/throttle (one file per lib/throttle source), added to unit_tests.
set(ZMPROXY_THROTTLE_TESTS
  unit/throttle/address_text_test.cpp
  unit/throttle/ip_whitelist_test.cpp
  unit/throttle/login_throttle_test.cpp
  unit/throttle/memcached_counter_store_test.cpp
  unit/throttle/pair_hints_test.cpp
  unit/throttle/tarpit_test.cpp
  unit/throttle/throttle_keys_test.cpp
)
