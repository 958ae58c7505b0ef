#include "lib/proxy/http/login_user.hpp"

#include "lib/core/base64.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::proxy::http;

namespace {

std::string basic(std::string_view user_pass) {
  return "Basic " + zmproxy::core::base64_encode(user_pass);
}

std::optional<std::string> login(std::string_view target, std::string_view authorization = {}) {
  RequestView r;
  r.method = "GET";
  r.target = target;
  r.host = "mail.example.com";
  r.authorization = authorization;
  return login_user(r);
}

}  // namespace

TEST_CASE("a Basic header is a login on any path", "[http][login_user]") {
  const std::string alice = basic("alice@example.com:secret");
  CHECK(login("/Microsoft-Server-ActiveSync?Cmd=Sync", alice) == "alice@example.com");
  CHECK(login("/ews/Exchange.asmx", alice) == "alice@example.com");
  CHECK(login("/dav/bob@example.com/Calendar/", alice) == "alice@example.com");
  CHECK(login("/service/home/~/inbox", alice) == "alice@example.com");
  CHECK(login("/", alice) == "alice@example.com");
  // The scheme in any case, surrounding blanks; only the part before the first ':'.
  CHECK(login("/x", "bAsIc  " + zmproxy::core::base64_encode("carol:pa:ss") + " ") == "carol");
  CHECK(login("/x", basic("dave")) == "dave");
}

TEST_CASE("DOMAIN\\user becomes user@DOMAIN as ActiveSync routing makes it", "[http][login_user]") {
  CHECK(login("/Microsoft-Server-ActiveSync", basic("EXAMPLE\\jane:pw")) == "jane@EXAMPLE");
  CHECK(login("/Microsoft-Server-ActiveSync", basic("\\jane:pw")) == "jane");
  CHECK(login("/Microsoft-Server-ActiveSync", basic("EXAMPLE\\:pw")) == std::nullopt);
  // The same name the route takes.
  RequestView r;
  r.target = "/Microsoft-Server-ActiveSync?Cmd=Ping";
  const std::string header = basic("EXAMPLE\\jane:pw");
  r.authorization = header;
  CHECK(extract_route(r).value == *login_user(r));
}

TEST_CASE("preauth's account= is a login", "[http][login_user]") {
  CHECK(login("/service/"
              "preauth?account=alice%40example.com&by=name&timestamp=1&expires=0&preauth=ff") ==
        "alice@example.com");
  CHECK(login("/service/preauth/?timestamp=1&account=bob") == "bob");
  CHECK(login("http://mail.example.com/service/preauth?account=carol") == "carol");
  CHECK(login("/service/preauth?Account=alice") ==
        std::nullopt);  // Zimbra's names are case-sensitive
  CHECK(login("/service/preauth?account=") == std::nullopt);
  CHECK(login("/service/preauth?account=a%zz") == std::nullopt);
  CHECK(login("/service/preauth") == std::nullopt);
  CHECK(login("/service/preauthx?account=alice") == std::nullopt);
  CHECK(login("/Service/preauth?account=alice") == std::nullopt);
  CHECK(login("/home/alice/?account=alice") == std::nullopt);
  // A Basic header wins; one that names nobody leaves the preauth account.
  CHECK(login("/service/preauth?account=alice", basic("bob:pw")) == "bob");
  CHECK(login("/service/preauth?account=alice", "Basic !!!") == "alice");
}

TEST_CASE("names with control bytes or too long are no login", "[http][login_user]") {
  CHECK(login("/x", basic(std::string("al\x01ice:pw"))) == std::nullopt);
  CHECK(login("/x", basic(std::string("al\x7fice:pw"))) == std::nullopt);
  CHECK(login("/x", basic(std::string("al\nice:pw"))) == std::nullopt);
  CHECK(login("/service/preauth?account=al%0Dice") == std::nullopt);
  CHECK(login("/service/preauth?account=al%00ice") == std::nullopt);
  const std::string longest(k_max_route_name, 'a');
  CHECK(login("/x", basic(longest + ":pw")) == longest);
  CHECK(login("/x", basic(longest + "a:pw")) == std::nullopt);
  CHECK(login("/service/preauth?account=" + longest) == longest);
  CHECK(login("/service/preauth?account=" + longest + "a") == std::nullopt);
}

TEST_CASE("other requests are no login", "[http][login_user]") {
  CHECK(login("/") == std::nullopt);
  CHECK(login("/service/soap/AuthRequest") == std::nullopt);  // the user is in the body
  CHECK(login("/Microsoft-Server-ActiveSync?User=alice") == std::nullopt);
  CHECK(login("/x", basic(":pw")) == std::nullopt);
  CHECK(login("/x", "Bearer a.b.c") == std::nullopt);
  CHECK(login("/x", "Basic") == std::nullopt);
  CHECK(login("/x", "Basic not*base64") == std::nullopt);
}
