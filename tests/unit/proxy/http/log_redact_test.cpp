#include "lib/proxy/http/log_redact.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::proxy::http;

namespace {

std::string redacted(std::string s) {
  redact_credentials(s);
  return s;
}

}  // namespace

TEST_CASE("credential parameters are redacted in request lines and URLs", "[http][log_redact]") {
  CHECK(redacted("GET /home/u/inbox?zauthtoken=0_abc_123&fmt=json HTTP/1.1") ==
        "GET /home/u/inbox?zauthtoken=***&fmt=json HTTP/1.1");
  CHECK(redacted("/x?fmt=json&ZAuthToken=abc") == "/x?fmt=json&ZAuthToken=***");
  CHECK(redacted("/x?%7Aauthtoken=abc&%7a%41uth%54oken=def") ==
        "/x?%7Aauthtoken=***&%7a%41uth%54oken=***");
  CHECK(redacted("/service/preauth?account=a@b&preauth=ff00&timestamp=1") ==
        "/service/preauth?account=a@b&preauth=***&timestamp=1");
  CHECK(redacted("/x?zjwt=a.b.c;auth=co") == "/x?zjwt=***;auth=***");
  CHECK(redacted("https://mail.example.com/?AUTH=x#auth=frag") ==
        "https://mail.example.com/?AUTH=***#auth=frag");
  CHECK(redacted("/x?zauthtoken=") == "/x?zauthtoken=***");
}

TEST_CASE("the user information of an absolute URL is redacted", "[http][log_redact]") {
  CHECK(redacted("GET http://alice:s3cret@mail.example.com/x?zauthtoken=t HTTP/1.1") ==
        "GET http://***@mail.example.com/x?zauthtoken=*** HTTP/1.1");
  CHECK(redacted("https://alice:s3cret@mail.example.com") == "https://***@mail.example.com");
  CHECK(redacted("GET HTTP://a@b@h:80?q=1 HTTP/1.1") == "GET HTTP://***@h:80?q=1 HTTP/1.1");
  CHECK(redacted("https://***@mail.example.com/") == "https://***@mail.example.com/");
  for (const char* same :
       {"GET /x?u=http://a@b HTTP/1.1", "GET /a://b@c HTTP/1.1", "https://mail.example.com/a@b",
        "GET http://h/p@q HTTP/1.1", "://a@b", "GET :// HTTP/1.1"}) {
    CHECK(redacted(same) == same);
  }
}

TEST_CASE("other parameters and paths are left alone", "[http][log_redact]") {
  for (const char* same :
       {"/home/u/inbox", "/x?author=me&authx=1&zauthtokens=2", "/x?fmt=json", "/zauthtoken=1/x",
        "/x?zauthtoken", "", "?", "/x?a=1&&b=2", "/x?=v&auth"}) {
    CHECK(redacted(same) == same);
  }
  CHECK_FALSE(is_credential_parameter("authorization"));
  CHECK(is_credential_parameter("Auth"));
  CHECK(is_credential_parameter("z%4Awt"));
}
