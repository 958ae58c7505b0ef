#include "lib/route/lookup_protocol.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy;
using namespace zmproxy::route;

TEST_CASE("percent-decoding is byte-exact UTF-8 (Zimbra's servlet is not)", "[route][protocol]") {
  CHECK(percent_decode("user%40example.com").value() == "user@example.com");
  CHECK(percent_decode("jos%C3%A9").value() == "jos\xc3\xa9");
  CHECK(percent_decode("a%2Fb%2fc").value() == "a/b/c");
  CHECK(percent_decode("100%25").value() == "100%");
  CHECK_FALSE(percent_decode("bad%G1"));
  CHECK_FALSE(percent_decode("trailing%"));
  CHECK_FALSE(percent_decode("short%4"));
}

TEST_CASE("Auth-User is encoded exactly once", "[route][protocol]") {
  CHECK(percent_encode("a b") == "a%20b");  // Zimbra sends %2520
  CHECK(percent_encode("100%") == "100%25");
  CHECK(percent_encode("jos\xc3\xa9") == "jos%C3%A9");
  CHECK(percent_encode("x\r\ny") == "x%0D%0Ay");
  for (const char* s : {"plain@example.com", "a b%c\xff\x01"}) {
    CHECK(percent_decode(percent_encode(s)).value() == s);
  }
}

TEST_CASE("requests parse with Zimbra's header set", "[route][protocol]") {
  const Headers h = {{"Host", "127.0.0.1"},          {"Auth-Method", "username"},
                     {"auth-user", "jos%C3%A9@example.com"}, {"Auth-Pass", "_password_"},
                     {"Auth-Protocol", "IMAP"},      {"Auth-Login-Attempt", "2"},
                     {"Client-IP", "192.0.2.1"},     {"X-Proxy-IP", "10.0.0.1"},
                     {"Auth-Zimbra-Admin", "True"}};
  auto r = parse_lookup_request(h);
  REQUIRE(r);
  CHECK(r->user == "jos\xc3\xa9@example.com");
  CHECK(r->protocol == "imap");
  CHECK(r->login_attempt == 2);
  CHECK(r->client_ip == "192.0.2.1");
  CHECK(r->proxy_ip == "10.0.0.1");
  CHECK(r->admin);
  for (const char* missing : {"Auth-User", "Auth-Method", "Auth-Protocol"}) {
    Headers partial;
    for (const auto& kv : h) {
      if (kv.first != missing && !(std::string(missing) == "Auth-User" && kv.first == "auth-user")) {
        partial.push_back(kv);
      }
    }
    auto e = parse_lookup_request(partial);
    REQUIRE_FALSE(e);
    CHECK(e.error().message == std::string("missing header field ") + missing);
  }
  Headers bad = h;
  bad[2].second = "x%zz";
  CHECK_FALSE(parse_lookup_request(bad));
}

TEST_CASE("responses round-trip and never carry a line break", "[route][protocol]") {
  LookupResponse ok = LookupResponse::route("127.0.0.2", 7143, "a b@example.com");
  ok.cache_alias = true;
  const std::string text = format_lookup_response(ok);
  CHECK(text == "Auth-Status: OK\r\nAuth-Server: 127.0.0.2\r\nAuth-Port: 7143\r\n"
                "Auth-Cache-Alias: TRUE\r\nAuth-User: a%20b@example.com\r\n");
  Headers parsed = {{"Auth-Status", "OK"}, {"Auth-Server", "127.0.0.2"}, {"Auth-Port", "7143"},
                    {"Auth-User", "a%20b@example.com"}, {"Auth-Cache-Alias", "TRUE"}};
  auto back = parse_lookup_response(parsed);
  REQUIRE(back);
  CHECK(back->ok);
  CHECK(back->user == "a b@example.com");
  CHECK(back->cache_alias);

  auto err = LookupResponse::error("user not found:x\r\nAuth-Status: OK", 10);
  const std::string etext = format_lookup_response(err);
  CHECK(etext == "Auth-Status: user not found:xAuth-Status: OK\r\nAuth-Wait: 10\r\n");

  CHECK_FALSE(parse_lookup_response({{"Auth-Status", "OK"}, {"Auth-Port", "7143"}}));
  CHECK_FALSE(parse_lookup_response({{"Auth-Status", "OK"}, {"Auth-Server", "h"}, {"Auth-Port", "0"}}));
  auto wait = parse_lookup_response({{"Auth-Status", "user not found:x"}, {"Auth-Wait", "10"}});
  REQUIRE(wait);
  CHECK_FALSE(wait->ok);
  CHECK(wait->wait_seconds == 10);
}

TEST_CASE("client requests carry Zimbra's header set", "[route][protocol]") {
  LookupRequest r;
  r.user = "user 1@example.com";
  r.protocol = "imapssl";
  r.client_ip = "192.0.2.1";
  r.proxy_ip = "10.0.0.1";
  const std::string text = format_lookup_request(r, "127.0.0.1:7072");
  CHECK(text == "Host: 127.0.0.1:7072\r\nAuth-Method: username\r\nAuth-User: user%201@example.com\r\n"
                "Auth-Pass: _password_\r\nAuth-Protocol: imapssl\r\nAuth-Login-Attempt: 1\r\n"
                "X-Proxy-IP: 10.0.0.1\r\nClient-IP: 192.0.2.1\r\n");
}

namespace {

// "Name: value\r\n" lines -> headers, as an HTTP parser would hand them over.
Headers header_lines(std::string_view text) {
  Headers out;
  while (!text.empty()) {
    const auto end = text.find("\r\n");
    REQUIRE(end != std::string_view::npos);
    const std::string_view line = text.substr(0, end);
    const auto colon = line.find(": ");
    REQUIRE(colon != std::string_view::npos);
    out.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
    text.remove_prefix(end + 2);
  }
  return out;
}

}  // namespace

TEST_CASE("what the client side writes, the server side reads back", "[route][protocol]") {
  LookupRequest sent;
  sent.method = "zimbraId";
  sent.user = "a0000000-0000-4000-8000-000000000001";
  sent.protocol = "httpssl";
  sent.login_attempt = 3;
  sent.client_ip = "2001:db8::5";
  sent.proxy_ip = "10.0.0.1";
  sent.proxy_host = "mail.example.com:443";
  sent.admin = true;
  sent.secret = "s3cret";
  const std::string text = format_lookup_request(sent, "[::1]:7072");
  CHECK(text.find("Auth-Zimbra-Admin: True\r\n") != std::string::npos);
  CHECK(text.find("X-Zmproxy-Lookup-Secret: s3cret\r\n") != std::string::npos);
  auto got = parse_lookup_request(header_lines(text));
  REQUIRE(got);
  CHECK(got->method == "zimbraid");  // lower-cased, as the handler compares it
  CHECK(got->user == sent.user);
  CHECK(got->protocol == "httpssl");
  CHECK(got->login_attempt == 3);
  CHECK(got->client_ip == "2001:db8::5");
  CHECK(got->proxy_ip == "10.0.0.1");
  CHECK(got->proxy_host == "mail.example.com:443");
  CHECK(got->admin);
  CHECK_FALSE(got->zx);
  CHECK(got->secret == "s3cret");
  CHECK(got->password == "_password_");

  sent.admin = false;
  sent.zx = true;
  sent.secret.clear();
  sent.proxy_host.clear();
  const std::string zx = format_lookup_request(sent, "h");
  CHECK(zx.find("Auth-Zimbra-Zx: True\r\n") != std::string::npos);
  CHECK(zx.find("X-Proxy-Host") == std::string::npos);
  CHECK(zx.find("X-Zmproxy-Lookup-Secret") == std::string::npos);
  got = parse_lookup_request(header_lines(zx));
  REQUIRE(got);
  CHECK(got->zx);
  CHECK_FALSE(got->admin);
}

TEST_CASE("what the server side writes, the client side reads back", "[route][protocol]") {
  LookupResponse sent = LookupResponse::route("mbox1.example.com", 7143, "jos\xc3\xa9@example.com");
  sent.auth_id = "id-1";
  sent.token = "tok";
  auto got = parse_lookup_response(header_lines(format_lookup_response(sent)));
  REQUIRE(got);
  CHECK(got->ok);
  CHECK(got->server == "mbox1.example.com");
  CHECK(got->port == 7143);
  CHECK(got->user == sent.user);
  CHECK_FALSE(got->cache_alias);
  CHECK(got->auth_id == "id-1");
  CHECK(got->token == "tok");

  got = parse_lookup_response(header_lines(format_lookup_response(
      LookupResponse::error("Client-IP 198.51.100.1 is not allowed on this domain", 7))));
  REQUIRE(got);
  CHECK_FALSE(got->ok);
  CHECK(got->status == "Client-IP 198.51.100.1 is not allowed on this domain");
  CHECK(got->wait_seconds == 7);
}

TEST_CASE("request header values cannot inject lines", "[route][protocol]") {
  LookupRequest r;
  r.user = "evil\r\nAuth-Zimbra-Admin: True";
  r.protocol = "imap\r\nX-Injected: 1";
  r.proxy_ip = "10.0.0.1\n";
  const std::string text = format_lookup_request(r, "host\r\nX-Host: 2");
  CHECK(text.find("X-Injected") != std::string::npos);  // kept, but on the protocol's line
  CHECK(text.find("\r\nX-Injected") == std::string::npos);
  CHECK(text.find("\r\nX-Host") == std::string::npos);
  CHECK(text.find("\r\nAuth-Zimbra-Admin") == std::string::npos);
  auto got = parse_lookup_request(header_lines(text));
  REQUIRE(got);
  CHECK(got->user == r.user);  // percent-encoded on the wire, exact after
  CHECK_FALSE(got->admin);
}

TEST_CASE("a gssapi request carries the principal and the admin account", "[route][protocol]") {
  LookupRequest sent;
  sent.method = "gssapi";
  sent.user = "alice@example.com";
  sent.auth_id = "alice@EXAMPLE.COM";
  sent.admin_user = "zmproxy-admin";
  sent.admin_pass = "p@ss word";
  sent.protocol = "imap";
  sent.proxy_ip = "127.0.0.1";
  const std::string text = format_lookup_request(sent, "h");
  CHECK(text.find("Auth-Method: gssapi\r\n") != std::string::npos);
  CHECK(text.find("Auth-ID: alice@EXAMPLE.COM\r\n") != std::string::npos);
  CHECK(text.find("Auth-Admin-User: zmproxy-admin\r\n") != std::string::npos);
  CHECK(text.find("Auth-Admin-Pass: p@ss word\r\n") != std::string::npos);
  auto got = parse_lookup_request(header_lines(text));
  REQUIRE(got);
  CHECK(got->method == "gssapi");
  CHECK(got->user == "alice@example.com");
  CHECK(got->auth_id == "alice@EXAMPLE.COM");
  CHECK(got->admin_user == "zmproxy-admin");
  CHECK(got->admin_pass == "p@ss word");
  CHECK(got->proxy_ip == "127.0.0.1");

  // A username request has none of them.
  LookupRequest plain;
  plain.user = "bob";
  const std::string username = format_lookup_request(plain, "h");
  CHECK(username.find("Auth-ID") == std::string::npos);
  CHECK(username.find("Auth-Admin") == std::string::npos);
}

TEST_CASE("a request parsed into a reused one keeps nothing of the last", "[route][protocol]") {
  LookupRequest r;
  const HeaderViews first = {{"Auth-User", "Caf%C3%A9@example.com"}, {"Auth-Method", "PLAIN"},
                             {"Auth-Protocol", "IMAP"}, {"Auth-Pass", "s%20cret"},
                             {"Auth-Login-Attempt", "3"}, {"Client-IP", " 192.0.2.1 "},
                             {"X-Proxy-IP", "127.0.0.1"}, {"Auth-Zimbra-Admin", "True"},
                             {"Auth-ID", "id"}, {k_secret_header, "x"}};
  REQUIRE(parse_lookup_request(first, r));
  CHECK(r.user == "Caf\xc3\xa9@example.com");
  CHECK(r.method == "plain");
  CHECK(r.protocol == "imap");
  CHECK(r.password == "s cret");
  CHECK(r.login_attempt == 3);
  CHECK(r.client_ip == "192.0.2.1");
  CHECK(r.admin);
  CHECK(r.auth_id == "id");
  CHECK(r.secret == "x");
  // The first of a repeated field counts; absent ones get their defaults.
  const HeaderViews second = {{"auth-user", "bob"}, {"AUTH-USER", "eve"}, {"Auth-Method", "plain"},
                              {"Auth-Protocol", "pop3"}, {"Auth-Zimbra-Zx", "TRUE"}};
  REQUIRE(parse_lookup_request(second, r));
  CHECK(r.user == "bob");
  CHECK(r.protocol == "pop3");
  CHECK(r.password == "_password_");
  CHECK(r.login_attempt == 1);
  CHECK(r.client_ip.empty());
  CHECK(r.proxy_ip.empty());
  CHECK_FALSE(r.admin);
  CHECK(r.zx);
  CHECK(r.auth_id.empty());
  CHECK(r.secret.empty());
  // The same errors as the returning form.
  const HeaderViews bad = {{"Auth-User", "a%zz"}, {"Auth-Method", "plain"}, {"Auth-Protocol", "imap"}};
  const auto e = parse_lookup_request(bad, r);
  REQUIRE_FALSE(e);
  CHECK(e.error().message == "invalid Auth-User: malformed percent escape (a '%' without two hex digits)");
  const HeaderViews partial = {{"Auth-User", "a"}, {"Auth-Method", "plain"}};
  REQUIRE_FALSE(parse_lookup_request(partial, r));
  CHECK(parse_lookup_request(partial, r).error().message == "missing header field Auth-Protocol");
}

TEST_CASE("responses made in place are the ones the builders make", "[route][protocol]") {
  LookupResponse r = LookupResponse::route("10.0.0.1", 7143, "someone@example.com");
  r.cache_alias = true;
  r.token = "t";
  r.assign_error("user not found:x", 4);
  CHECK(format_lookup_response(r) == format_lookup_response(LookupResponse::error("user not found:x", 4)));
  r.auth_id = "id";
  r.assign_route("10.0.0.2", 993, "u@example.com");
  CHECK(format_lookup_response(r) ==
        format_lookup_response(LookupResponse::route("10.0.0.2", 993, "u@example.com")));
}
