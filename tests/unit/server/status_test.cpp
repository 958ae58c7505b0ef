#include "lib/server/status.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy;
using namespace zmproxy::server;

TEST_CASE("STATUS: the facts and every declared counter of every protocol", "[server][status]") {
  proxy::Counters counters;
  counters.of(proxy::Protocol::imap).accepted = 5;
  counters.of(proxy::Protocol::imap).active = 2;
  counters.of(proxy::Protocol::imap).logins = 3;
  counters.of(proxy::Protocol::imap).login_failures = 1;
  counters.of(proxy::Protocol::admin).accepted = 7;
  StatusFacts f;
  f.pid = 42;
  f.started = 1'700'000'000;
  f.now = f.started + 90;
  f.user = "zmproxy";
  f.config_file = "/opt/zmproxy/conf/zmproxy.conf";
  f.config_version = "123";
  f.generation = 2;
  f.reloads = 1;
  f.last_reload_result = "error";
  f.last_reload_message = "bad \"key\"";
  f.last_reload_at = f.started + 60;
  f.listeners = {{"imap", "127.0.0.1:1143"}, {"http", "[::1]:8080"}};
  f.heap_in_use = 10;
  f.heap_free = 20;
  f.mmapped = 30;
  const std::string j = status_json(f, counters);
  CHECK(j ==
        "{\"running\":true,\"pid\":42,\"uptime_seconds\":90,\"started\":\"2023-11-14T22:13:20Z\","
        "\"user\":\"zmproxy\",\"config_file\":\"/opt/zmproxy/conf/zmproxy.conf\","
        "\"config_version\":\"123\",\"generation\":2,\"reloads\":1,"
        "\"last_reload\":{\"result\":\"error\",\"message\":\"bad \\\"key\\\"\","
        "\"at\":\"2023-11-14T22:14:20Z\"},"
        "\"listeners\":{\"imap\":\"127.0.0.1:1143\",\"http\":\"[::1]:8080\"},"
        "\"memory\":{\"heap_in_use\":10,\"heap_free\":20,\"mmapped\":30},"
        "\"throttle\":{\"active\":false,\"unchecked\":0},"
        "\"gssapi\":{\"active\":false,\"keytab\":\"\",\"busy\":0,\"principals\":[]},"
        "\"web_upstreams\":{\"marked_down\":0,\"down\":[]},"
        "\"ktls\":{\"enabled\":false,\"kernel\":false,\"reason\":\"\"},"
        "\"connections\":{"
        "\"imap\":{\"accepted\":5,\"active\":2,\"logins\":3,\"login_failures\":1,\"throttled\":0,"
        "\"proxy_refused\":0,\"ktls_send\":0,\"ktls_recv\":0,\"worker_refused\":0},"
        "\"imaps\":{\"accepted\":0,\"active\":0,\"logins\":0,\"login_failures\":0,\"throttled\":0,"
        "\"proxy_refused\":0,\"ktls_send\":0,\"ktls_recv\":0,\"worker_refused\":0},"
        "\"pop3\":{\"accepted\":0,\"active\":0,\"logins\":0,\"login_failures\":0,\"throttled\":0,"
        "\"proxy_refused\":0,\"ktls_send\":0,\"ktls_recv\":0,\"worker_refused\":0},"
        "\"pop3s\":{\"accepted\":0,\"active\":0,\"logins\":0,\"login_failures\":0,\"throttled\":0,"
        "\"proxy_refused\":0,\"ktls_send\":0,\"ktls_recv\":0,\"worker_refused\":0},"
        "\"http\":{\"accepted\":0,\"active\":0,\"logins\":0,\"login_failures\":0,\"throttled\":0,"
        "\"proxy_refused\":0,\"ktls_send\":0,\"ktls_recv\":0,\"worker_refused\":0},"
        "\"https\":{\"accepted\":0,\"active\":0,\"logins\":0,\"login_failures\":0,\"throttled\":0,"
        "\"proxy_refused\":0,\"ktls_send\":0,\"ktls_recv\":0,\"worker_refused\":0},"
        "\"admin\":{\"accepted\":7,\"active\":0,\"logins\":0,\"login_failures\":0,\"throttled\":0,"
        "\"proxy_refused\":0,\"ktls_send\":0,\"ktls_recv\":0,\"worker_refused\":0},"
        "\"certauth\":{\"accepted\":0,\"active\":0,\"logins\":0,\"login_failures\":0,\"throttled\":"
        "0,\"proxy_refused\":0,\"ktls_send\":0,\"ktls_recv\":0,\"worker_refused\":0}}"
        ",\"kernel_relay\":{\"state\":\"off\",\"reason\":\"\",\"sessions\":0,\"relayed\":0}"
        ",\"queues\":{}"
        "}");
}

TEST_CASE("STATUS: every bounded queue with its bound, what waits and what it dropped",
          "[server][status]") {
  proxy::Counters counters;
  counters.of(proxy::Protocol::pop3).worker_refused = 4;
  StatusFacts f;
  f.queues = {{"access_log", 8388608, 120, 3}, {"memcached_writes", 1024, 2, 0}};
  const std::string j = status_json(f, counters);
  CHECK_THAT(j, Catch::EndsWith(
                    ",\"queues\":{\"access_log\":{\"limit\":8388608,\"waiting\":120,\"dropped\":3},"
                    "\"memcached_writes\":{\"limit\":1024,\"waiting\":2,\"dropped\":0}}}"));
  CHECK_THAT(
      j, Catch::Contains("\"pop3\":{\"accepted\":0,\"active\":0,\"logins\":0,\"login_failures\":0,"
                         "\"throttled\":0,\"proxy_refused\":0,\"ktls_send\":0,\"ktls_recv\":0,"
                         "\"worker_refused\":4}"));
}

TEST_CASE("STATUS before any reload: an empty time, no listeners", "[server][status]") {
  proxy::Counters counters;
  StatusFacts f;
  const std::string j = status_json(f, counters);
  CHECK_THAT(j, Catch::Contains("\"last_reload\":{\"result\":\"none\",\"message\":\"\",\"at\":\"\"}"));
  CHECK_THAT(j, Catch::Contains("\"listeners\":{},"));
}

TEST_CASE("STATUS with GSSAPI on: the keytab and the service principals", "[server][status]") {
  proxy::Counters counters;
  StatusFacts f;
  f.gssapi = true;
  f.gssapi_keytab = "/opt/zmproxy/conf/krb5.keytab";
  f.gssapi_principals = {"imap/mail.example.com@EXAMPLE.COM", "pop/mail.example.com@EXAMPLE.COM"};
  f.gssapi_busy = 3;
  CHECK_THAT(status_json(f, counters),
             Catch::Contains("\"gssapi\":{\"active\":true,\"keytab\":\"/opt/zmproxy/conf/krb5.keytab\","
                             "\"busy\":3,\"principals\":[\"imap/mail.example.com@EXAMPLE.COM\","
                             "\"pop/mail.example.com@EXAMPLE.COM\"]}"));
}

TEST_CASE("STATUS: the web upstreams left out, and the connections refused for their PROXY header",
          "[server][status]") {
  proxy::Counters counters;
  counters.of(proxy::Protocol::certauth).proxy_refused = 3;
  StatusFacts f;
  f.web_down = {{"127.0.0.2:8080", 287}, {"[::1]:8080", 1}};
  f.web_marked_down = 4;
  const std::string j = status_json(f, counters);
  CHECK_THAT(j, Catch::Contains("\"web_upstreams\":{\"marked_down\":4,\"down\":["
                                "{\"address\":\"127.0.0.2:8080\",\"retry_in_seconds\":287},"
                                "{\"address\":\"[::1]:8080\",\"retry_in_seconds\":1}]}"));
  CHECK_THAT(j, Catch::Contains("\"certauth\":{\"accepted\":0,\"active\":0,\"logins\":0,"
                                "\"login_failures\":0,\"throttled\":0,\"proxy_refused\":3,"));
}

TEST_CASE("STATUS: kTLS asked for, whether the kernel can, and the connections it took",
          "[server][status]") {
  proxy::Counters counters;
  counters.of(proxy::Protocol::imaps).ktls_send = 3;
  counters.of(proxy::Protocol::imaps).ktls_recv = 1;
  StatusFacts f;
  f.ktls = true;
  f.ktls_why = "the kernel has no TLS ULP";
  const std::string j = status_json(f, counters);
  CHECK_THAT(j, Catch::Contains("\"ktls\":{\"enabled\":true,\"kernel\":false,"
                                "\"reason\":\"the kernel has no TLS ULP\"}"));
  CHECK_THAT(
      j, Catch::Contains("\"imaps\":{\"accepted\":0,\"active\":0,\"logins\":0,\"login_failures\":0,"
                         "\"throttled\":0,\"proxy_refused\":0,\"ktls_send\":3,\"ktls_recv\":1,"
                         "\"worker_refused\":0}"));
}
