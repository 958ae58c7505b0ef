#include "lib/proxy/http/error_page.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy::proxy::http;

TEST_CASE("error handler URL: err and up appended, the upstreams encoded", "[http][error_page]") {
  CHECK(error_handler_location("https://errors.example.com/50x", 502, "10.0.0.1:8080") ==
        "https://errors.example.com/50x?err=502&up=10.0.0.1%3A8080");
  CHECK(error_handler_location("https://errors.example.com/50x?lang=en", 504, "[::1]:8080") ==
        "https://errors.example.com/50x?lang=en&err=504&up=%5B%3A%3A1%5D%3A8080");
  CHECK(error_handler_location("http://e.example/", 502, "") == "http://e.example/?err=502&up=");
  // Two tried, as nginx's $upstream_addr lists them.
  CHECK(error_handler_location("http://e.example/", 502, "a:1, b:2") ==
        "http://e.example/?err=502&up=a%3A1%2C%20b%3A2");
}

TEST_CASE("error handler URL: nothing in an upstream name ends the field or adds a URL part",
          "[http][error_page]") {
  const std::string hostile = "evil\r\nSet-Cookie: x=1&err=200#frag?q=/..%00 \x7f\xff";
  const std::string encoded = percent_encode_component(hostile);
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    const char ch = encoded[i];
    const bool unreserved = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                            (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
                            ch == '~';
    INFO(i << ": " << ch);
    CHECK((unreserved || ch == '%'));
  }
  CHECK(encoded.find("%0D%0A") != std::string::npos);
  CHECK(encoded.find("%26err%3D200%23frag%3Fq%3D%2F..%2500%20%7F%FF") != std::string::npos);
}

TEST_CASE("built-in error pages name no upstream", "[http][error_page]") {
  CHECK(upstream_error_text(502) == "The mailbox server is not reachable; try again later.");
  CHECK(upstream_error_text(504) == "The mailbox server did not answer in time; try again later.");
}
