#include "lib/proxy/http/request_target.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::proxy::http;
using Form = RequestTarget::Form;

TEST_CASE("request target forms", "[http][request_target]") {
  CHECK(classify_target("/", false).form == Form::origin);
  CHECK(classify_target("/home/u?x=1", false).form == Form::origin);
  CHECK(classify_target("*", true).form == Form::asterisk);
  CHECK(classify_target("*", false).form == Form::invalid);

  auto t = classify_target("http://mail.example.com:8080/home/u?x=1", false);
  CHECK(t.form == Form::absolute);
  CHECK(t.authority == "mail.example.com:8080");
  CHECK(t.origin == "/home/u?x=1");

  t = classify_target("HTTPS://[::1]", false);
  CHECK(t.form == Form::absolute);
  CHECK(t.authority == "[::1]");
  CHECK(t.origin.empty());

  t = classify_target("http://mail.example.com?x=1", false);
  CHECK(t.form == Form::absolute);
  CHECK(t.authority == "mail.example.com");
  CHECK(t.origin == "?x=1");

  for (const char* bad : {"", "mail.example.com:443", "ftp://x/", "http:///x", "http://user@host/",
                          "http://a:b@host/", "http://host#frag", "home/u", "http:/x"}) {
    CHECK(classify_target(bad, false).form == Form::invalid);
  }
}
