#include "lib/route/lookup_head.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy::route;

namespace {

HeadParse parse(const std::string& text, RequestHead& head, std::size_t& size) {
  return parse_request_head(text, head, size);
}

}  // namespace

TEST_CASE("a lookup's head: request line, fields in order, its length", "[route][lookup_head]") {
  const std::string text =
      "GET /service/extension/nginx-lookup HTTP/1.1\r\nHost: x\r\nAuth-User:  u%40x \r\n"
      "auth-protocol:\timap\r\n\r\nGET /next";
  RequestHead head;
  std::size_t size = 0;
  REQUIRE(parse(text, head, size) == HeadParse::complete);
  CHECK(size == text.find("GET /next"));
  CHECK(head.method == "GET");
  CHECK(head.target == "/service/extension/nginx-lookup");
  CHECK(head.version == 11);
  CHECK(head.keep_alive);
  REQUIRE(head.fields.size() == 3);
  CHECK(head.fields[1].first == "Auth-User");
  CHECK(head.fields[1].second == "u%40x");
  CHECK(head.field("AUTH-PROTOCOL") == "imap");
  CHECK(head.field("Missing").empty());
}

TEST_CASE("keep-alive as Beast decided it: 1.1 unless close, 1.0 only when asked",
          "[route][lookup_head]") {
  RequestHead head;
  std::size_t size = 0;
  REQUIRE(parse("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n", head, size) == HeadParse::complete);
  CHECK_FALSE(head.keep_alive);
  REQUIRE(parse("GET / HTTP/1.0\r\n\r\n", head, size) == HeadParse::complete);
  CHECK(head.version == 10);
  CHECK_FALSE(head.keep_alive);
  REQUIRE(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", head, size) == HeadParse::complete);
  CHECK(head.keep_alive);
}

TEST_CASE("incomplete heads wait, what is not a bodiless HTTP request is invalid",
          "[route][lookup_head]") {
  RequestHead head;
  std::size_t size = 0;
  CHECK(parse("GET / HTTP/1.1\r\nHost: x\r\n", head, size) == HeadParse::incomplete);
  CHECK(parse("", head, size) == HeadParse::incomplete);
  for (const std::string bad : {
           "HELLO\r\n\r\n",
           "GET /\r\n\r\n",
           "GET / HTTP/1.1 x\r\n\r\n",
           "GET / HTTX/1.1\r\n\r\n",
           "GET  / HTTP/1.1\r\n\r\n",
           "G(T / HTTP/1.1\r\n\r\n",
           "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
           "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
           "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
           "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
           "GET / HTTP/1.1\r\nA: b\nC: d\r\n\r\n",
           "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
           "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       }) {
    INFO(bad);
    CHECK(parse(bad, head, size) == HeadParse::invalid);
  }
  CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", head, size) == HeadParse::complete);
}
