#include "lib/schema/value.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::schema;

namespace {
const Attribute& attr(std::string_view name) {
  const Attribute* a = find(name);
  REQUIRE(a != nullptr);
  return *a;
}
std::string accept(std::string_view name, std::string_view value) {
  auto r = normalize_value(attr(name), value);
  INFO(name << " = " << value << (r ? "" : ": " + r.error().message));
  REQUIRE(r);
  return *r;
}
std::string reject(std::string_view name, std::string_view value) {
  auto r = normalize_value(attr(name), value);
  INFO(name << " = " << value);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == zmproxy::Errc::invalid_argument);
  CHECK(r.error().message.find('\n') == std::string::npos);
  CHECK(r.error().message.rfind(attr(name).name, 0) == 0);  // names the attribute first
  return r.error().message;
}
}  // namespace

TEST_CASE("boolean values", "[schema][value]") {
  CHECK(accept("zimbraReverseProxyStrictServerNameEnabled", "TRUE") == "TRUE");
  CHECK(accept("zimbraReverseProxyStrictServerNameEnabled", "false") == "FALSE");
  CHECK(reject("zimbraReverseProxyStrictServerNameEnabled", "yes").find("TRUE or FALSE") !=
        std::string::npos);
  reject("zimbraReverseProxyStrictServerNameEnabled", "");
}

TEST_CASE("port values name the valid range", "[schema][value]") {
  CHECK(accept("zimbraImapProxyBindPort", "143") == "143");
  CHECK(accept("zimbraMailProxyPort", "0") == "0");
  CHECK(accept("zimbraImapProxyBindPort", "65535") == "65535");
  const auto msg = reject("zimbraImapProxyBindPort", "70000");
  CHECK(msg == "zimbraImapProxyBindPort: '70000' is out of range; valid ports are 0..65535");
  reject("zimbraImapProxyBindPort", "-1");
  reject("zimbraImapProxyBindPort", "14a");
  reject("zimbraImapProxyBindPort", "");
}

TEST_CASE("integer values respect their range", "[schema][value]") {
  CHECK(accept("zimbraReverseProxyWorkerProcesses", "16") == "16");
  CHECK(reject("zimbraReverseProxyWorkerProcesses", "17").find("1..16") != std::string::npos);
  reject("zimbraReverseProxyWorkerProcesses", "0");
  reject("zimbraReverseProxyWorkerProcesses", "four");
  reject("zimbraReverseProxyWorkerProcesses", "99999999999");
  CHECK(accept("zimbraFileUploadMaxSize", "99999999999") == "99999999999");  // long
  CHECK(accept("zimbraReverseProxyUpstreamConnectTimeout", "75") == "75");
  reject("zimbraReverseProxyUpstreamConnectTimeout", "76");
}

TEST_CASE("duration values", "[schema][value]") {
  for (const char* ok : {"1h", "10s", "120000ms", "5m", "1d", "30"}) {
    CHECK(accept("zimbraReverseProxyCacheEntryTTL", ok) == ok);
  }
  CHECK(reject("zimbraReverseProxyCacheEntryTTL", "1w").find("ms, s, m, h or d") !=
        std::string::npos);
  reject("zimbraReverseProxyCacheEntryTTL", "h");
}

TEST_CASE("enum values are canonicalised", "[schema][value]") {
  CHECK(accept("zimbraReverseProxyImapStartTlsMode", "ONLY") == "only");
  CHECK(accept("zimbraReverseProxyMailMode", "redirect") == "redirect");
  CHECK(reject("zimbraReverseProxyImapStartTlsMode", "maybe").find("on, off, only") !=
        std::string::npos);
}

TEST_CASE("string values: length, ASCII and one line", "[schema][value]") {
  CHECK(accept("zimbraMailHost", "mbox1.example.com") == "mbox1.example.com");
  reject("zimbraMailHost", std::string(257, 'a'));
  reject("zimbraMailHost", "caf\xc3\xa9.example.com");  // astring: ASCII only
  CHECK(accept("zimbraReverseProxyImapEnabledCapability", "IMAP4rev1") == "IMAP4rev1");
  reject("zimbraReverseProxyIpThrottleMsg", "two\r\nlines");
}

TEST_CASE("email, id and binary values", "[schema][value]") {
  CHECK(accept("zimbraMailDeliveryAddress", "User1@Example.com") == "user1@example.com");
  reject("zimbraMailDeliveryAddress", "user1");
  reject("zimbraMailDeliveryAddress", "a@b@c");
  CHECK(accept("zimbraId", "3F2A9C4E-1B7D-4C1E-9A2B-0C1D2E3F4A5B") ==
        "3f2a9c4e-1b7d-4c1e-9a2b-0c1d2e3f4a5b");
  reject("zimbraId", "not-a-uuid");
  CHECK(accept("zimbraSSLDHParam", "AAEC") == "AAEC");
  reject("zimbraSSLDHParam", "A*B=");
}
