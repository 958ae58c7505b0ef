// parse_get_reply: what a get's reply must look like to be believed.

#include "lib/route/memcached_reply.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

using namespace zmproxy::route;

namespace {

const std::vector<std::string> k_keys = {"alias:a", "route:a"};

GetReplyStatus parse(const std::string& reply, std::vector<std::optional<std::string>>& values,
                     std::size_t max_value = 64) {
  return parse_get_reply(reply, k_keys, max_value, values);
}

}  // namespace

TEST_CASE("a get's reply: values by key, absent keys, END", "[route][memcached_reply]") {
  std::vector<std::optional<std::string>> v;
  CHECK(parse("END\r\n", v) == GetReplyStatus::complete);
  CHECK(v == std::vector<std::optional<std::string>>{std::nullopt, std::nullopt});

  CHECK(parse("VALUE route:a 0 13\r\n10.0.0.1:7143\r\nEND\r\n", v) == GetReplyStatus::complete);
  CHECK(v == std::vector<std::optional<std::string>>{std::nullopt, "10.0.0.1:7143"});

  CHECK(parse("VALUE alias:a 0 1\r\nb\r\nVALUE route:a 3 0 99\r\n\r\nEND\r\n", v) == GetReplyStatus::complete);
  CHECK(v == std::vector<std::optional<std::string>>{"b", ""});

  // A value may hold CR LF and "END": its length says where it ends.
  CHECK(parse("VALUE route:a 0 6\r\nEND\r\nx\r\nEND\r\n", v) == GetReplyStatus::complete);
  CHECK(v[1] == "END\r\nx");
}

TEST_CASE("a reply cut anywhere is incomplete, never believed early", "[route][memcached_reply]") {
  const std::string whole = "VALUE alias:a 0 1\r\nb\r\nVALUE route:a 0 13\r\n10.0.0.1:7143\r\nEND\r\n";
  std::vector<std::optional<std::string>> v;
  for (std::size_t cut = 0; cut < whole.size(); ++cut) {
    INFO("cut at " << cut);
    CHECK(parse(whole.substr(0, cut), v) == GetReplyStatus::incomplete);
  }
  CHECK(parse(whole, v) == GetReplyStatus::complete);
}

TEST_CASE("hostile or broken replies are bad", "[route][memcached_reply]") {
  std::vector<std::optional<std::string>> v;
  const std::vector<std::string> bad = {
      "ERROR\r\n",
      "SERVER_ERROR out of memory\r\n",
      "CLIENT_ERROR bad command line format\r\n",
      "STORED\r\n",
      "END\r\nVALUE route:a 0 1\r\nx\r\nEND\r\n",          // bytes after END: a desync
      "END\r\nEND\r\n",
      "VALUE other:key 0 1\r\nx\r\nEND\r\n",                // a key not asked
      "VALUE route:a 0 1\r\nx\r\nVALUE alias:a 0 1\r\ny\r\nEND\r\n",  // out of order
      "VALUE route:a 0 1\r\nx\r\nVALUE route:a 0 1\r\ny\r\nEND\r\n",  // twice
      "VALUE route:a 0 65\r\n",                             // longer than max_value
      "VALUE route:a 0 1\r\nxy\r\nEND\r\n",                 // data longer than said
      "VALUE route:a 0 -1\r\n",
      "VALUE route:a 0 1x\r\n",
      "VALUE route:a 4294967296 1\r\n",                     // flags over 32 bits
      "VALUE route:a 0 1 2 3\r\n",                          // a token too many
      "VALUE route:a  0 1\r\n",                             // two spaces
      "VALUE route:a 0\r\n",
      "VALUE\r\n",
      "value route:a 0 1\r\nx\r\nEND\r\n",
      "XYZ",
      "END\n",
      std::string(400, 'V'),                                // no line end within the bound
  };
  for (const std::string& reply : bad) {
    INFO(reply);
    CHECK(parse(reply, v) == GetReplyStatus::bad);
  }
}

TEST_CASE("gets' cas token is accepted, bounded", "[route][memcached_reply]") {
  std::vector<std::optional<std::string>> v;
  CHECK(parse("VALUE route:a 0 1 12345\r\nx\r\nEND\r\n", v) == GetReplyStatus::complete);
  CHECK(parse("VALUE route:a 0 1 123456789012345678901\r\nx\r\nEND\r\n", v) == GetReplyStatus::bad);
}
