#include "lib/provisioning/zimbra_tree.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy::provisioning;
using zmproxy::Errc;
using zmproxy::Error;
using zmproxy::schema::Kind;

TEST_CASE("zimbra_tree: where servers and accounts live", "[provisioning]") {
  CHECK(server_dn("mbox1.example.com") == "cn=mbox1.example.com,cn=servers,cn=zimbra");
  CHECK(server_dn("a,b") == "cn=a\\,b,cn=servers,cn=zimbra");
  CHECK(account_dn("user1", "example.com") == "uid=user1,ou=people,dc=example,dc=com");
  CHECK(account_dn("a+b", "x.test") == "uid=a\\+b,ou=people,dc=x,dc=test");
}

TEST_CASE("zimbra_tree: object classes", "[provisioning]") {
  CHECK(object_class(Kind::global) == "zimbraGlobalConfig");
  CHECK(object_class(Kind::server) == "zimbraServer");
  CHECK(object_class(Kind::domain) == "zimbraDomain");
  CHECK(object_class(Kind::account) == "zimbraAccount");
}

TEST_CASE("zimbra_tree: a zimbraId has the shape of a UUID", "[provisioning]") {
  CHECK(looks_like_id("0f3c9a2e-5b1d-4c7e-9a8b-1234567890ab"));
  CHECK_FALSE(looks_like_id("0f3c9a2e5b1d4c7e9a8b1234567890ab"));
  CHECK_FALSE(looks_like_id("user@example.com"));
  CHECK_FALSE(looks_like_id(""));
  CHECK_FALSE(looks_like_id("0f3c9a2e-5b1d-4c7e-9a8b-1234567890ab0"));
}

TEST_CASE("zimbra_tree: directory failures get a service code", "[provisioning]") {
  CHECK(service_error(Error{Errc::invalid_argument, "bad filter"}).value().zimbra_code ==
        "service.INVALID_REQUEST");
  const auto io = service_error(Error{Errc::io_error, "cannot write x"}).value();
  CHECK(io.zimbra_code == "service.FAILURE");
  CHECK(io.message == "cannot write x");
  CHECK(service_error(Error{Errc::not_found, "x", "account.NO_SUCH_ACCOUNT"}).value().zimbra_code ==
        "account.NO_SUCH_ACCOUNT");
}
