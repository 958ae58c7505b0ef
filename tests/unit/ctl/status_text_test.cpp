#include "lib/ctl/status_text.hpp"
#include "lib/server/status.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy;

TEST_CASE("json_field reads the flat JSON the daemons write", "[ctl][status]") {
  const std::string j = "{\"pid\":42,\"name\":\"a \\\"b\\\"\",\"inner\":{\"pid\":7}}";
  CHECK(ctl::json_field(j, "pid") == "42");
  CHECK(ctl::json_field(j, "name") == "a \"b\"");
  CHECK(ctl::json_field(j, "pid", j.find("\"inner\"")) == "7");
  CHECK(ctl::json_field(j, "absent").empty());
  CHECK(ctl::json_field(j, "pid", std::string::npos).empty());
}

TEST_CASE("zmproxyctl status prints what zmproxyd's STATUS says", "[ctl][status]") {
  proxy::Counters counters;
  counters.of(proxy::Protocol::pop3).accepted = 4;
  counters.of(proxy::Protocol::pop3).active = 1;
  counters.of(proxy::Protocol::pop3).logins = 2;
  counters.of(proxy::Protocol::pop3).login_failures = 1;
  server::StatusFacts f;
  f.pid = 42;
  f.started = 1'700'000'000;
  f.now = f.started + 5;
  f.config_file = "/h/conf/zmproxy.conf";
  f.config_version = "v1";
  f.generation = 1;
  f.last_reload_result = "ok";
  f.last_reload_message = "started: generation 1 version v1";
  f.last_reload_at = f.started;
  const std::string watcher =
      "{\"at\":\"2023-11-14T22:13:21Z\",\"by\":\"zmconfigd (change)\",\"result\":\"refused\","
      "\"message\":\"http.mode: expected http\"}";
  CHECK(ctl::status_text(server::status_json(f, counters), watcher) ==
        "proxy is running.\n"
        "  pid 42, up 5 s since 2023-11-14T22:13:20Z\n"
        "  configuration /h/conf/zmproxy.conf version v1, generation 1\n"
        "  last reload: ok at 2023-11-14T22:13:20Z: started: generation 1 version v1\n"
        "  connections (active/accepted): imap 0/0 imaps 0/0 pop3 1/4 pop3s 0/0 http 0/0 "
        "https 0/0 admin 0/0 certauth 0/0\n"
        "  logins (accepted/refused): imap 0/0 imaps 0/0 pop3 2/1 pop3s 0/0\n"
        "  throttled: imap 0 imaps 0 pop3 0 pop3s 0 http 0 https 0\n"
        "  last configuration change: refused by zmconfigd (change) at 2023-11-14T22:13:21Z: "
        "http.mode: expected http\n");
}

TEST_CASE("zmproxyctl status names the keytab and principals when GSSAPI is on", "[ctl][status]") {
  proxy::Counters counters;
  server::StatusFacts f;
  CHECK(ctl::status_text(server::status_json(f, counters), "").find("gssapi") == std::string::npos);
  f.gssapi = true;
  f.gssapi_keytab = "/h/conf/krb5.keytab";
  f.gssapi_principals = {"imap/mail.example.com@EXAMPLE.COM", "pop/mail.example.com@EXAMPLE.COM"};
  CHECK_THAT(ctl::status_text(server::status_json(f, counters), ""),
             Catch::Contains("\n  gssapi: keytab /h/conf/krb5.keytab, principals "
                             "imap/mail.example.com@EXAMPLE.COM pop/mail.example.com@EXAMPLE.COM\n"));
}

TEST_CASE("zmproxyctl status names the web upstreams left out and the PROXY header refusals",
          "[ctl][status]") {
  proxy::Counters counters;
  server::StatusFacts f;
  // None down, nothing refused: no line for either.
  f.web_marked_down = 2;
  std::string text = ctl::status_text(server::status_json(f, counters), "");
  CHECK(text.find("web upstreams") == std::string::npos);
  CHECK(text.find("PROXY") == std::string::npos);
  counters.of(proxy::Protocol::imap).proxy_refused = 1;
  counters.of(proxy::Protocol::certauth).proxy_refused = 12;
  f.web_down = {{"127.0.0.2:8080", 287}, {"[::1]:8080", 1}};
  f.web_marked_down = 3;
  text = ctl::status_text(server::status_json(f, counters), "");
  f.web_marked_down = 1;
  f.web_down = {{"127.0.0.2:8080", 5}};
  CHECK_THAT(ctl::status_text(server::status_json(f, counters), ""),
             Catch::Contains("  web upstreams down: 127.0.0.2:8080 (tried again in 5 s); left out 1 time "
                             "since start\n"));
  CHECK_THAT(text, Catch::Contains("\n  throttled: imap 0 imaps 0 pop3 0 pop3s 0 http 0 https 0\n"
                                   "  refused for their PROXY header: imap 1 certauth 12\n"
                                   "  web upstreams down: 127.0.0.2:8080 (tried again in 287 s), "
                                   "[::1]:8080 (tried again in 1 s); left out 3 times since start\n"));
}

TEST_CASE("zmproxyctl status says what kTLS took, or why it cannot, only where tls.ktls is on",
          "[ctl][status]") {
  proxy::Counters counters;
  server::StatusFacts f;
  CHECK(ctl::status_text(server::status_json(f, counters), "").find("kTLS") == std::string::npos);
  f.ktls = true;
  f.ktls_why =
      "the kernel has no TLS ULP (CONFIG_TLS not set, or the tls module not loaded: modprobe tls)";
  CHECK_THAT(ctl::status_text(server::status_json(f, counters), ""),
             Catch::Contains(
                 "\n  kTLS: on, but not available: the kernel has no TLS ULP (CONFIG_TLS not set, "
                 "or the tls module not loaded: modprobe tls)\n"));
  f.ktls_kernel = true;
  f.ktls_why.clear();
  counters.of(proxy::Protocol::imaps).ktls_send = 2;
  counters.of(proxy::Protocol::https).ktls_send = 5;
  counters.of(proxy::Protocol::https).ktls_recv = 4;
  CHECK_THAT(ctl::status_text(server::status_json(f, counters), ""),
             Catch::Contains(
                 "\n  kTLS (kernel send/receive): imap 0/0 imaps 2/0 pop3 0/0 pop3s 0/0 http 0/0 "
                 "https 5/4 admin 0/0 certauth 0/0\n"));
}

TEST_CASE(
    "zmproxyctl status says what the worker limit refused and what the queues hold and dropped",
    "[ctl][status]") {
  proxy::Counters counters;
  server::StatusFacts f;
  const std::string quiet = ctl::status_text(server::status_json(f, counters), "");
  CHECK(quiet.find("worker_connections") == std::string::npos);
  CHECK(quiet.find("queues") == std::string::npos);
  counters.of(proxy::Protocol::imap).worker_refused = 7;
  counters.of(proxy::Protocol::http).worker_refused = 1;
  f.queues = {{"access_log", 8388608, 12, 0}, {"memcached_writes", 1024, 3, 2}};
  CHECK_THAT(ctl::status_text(server::status_json(f, counters), ""),
             Catch::Contains("\n  refused over server.worker_connections: imap 7 http 1\n"
                             "  queues (waiting/limit, dropped): access_log 12/8388608 bytes 0, "
                             "memcached_writes 3/1024 2\n"));
}
