// libFuzzer target: zmlookupd's side of the lookup protocol. The input is
// what a caller sends: the request head parsed in place
// (route/lookup_head.cpp), then its fields read as a lookup
// (route/lookup_protocol.cpp). Checks: a complete head ends at the first
// blank line and parses the same without what follows, its fields hold no
// control byte, a connection's reused request reads like a fresh one, and an
// accepted request formatted again by the client (format_lookup_request)
// reads back to the same request; Auth-User percent-decoding round-trips.
#include "lib/route/lookup_head.hpp"
#include "lib/route/lookup_protocol.hpp"

#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace zmproxy::route;
using zmproxy::testing::fuzz_expect;

bool same_request(const LookupRequest& a, const LookupRequest& b) {
  return a.method == b.method && a.user == b.user && a.password == b.password &&
         a.protocol == b.protocol && a.login_attempt == b.login_attempt &&
         a.client_ip == b.client_ip && a.proxy_ip == b.proxy_ip && a.proxy_host == b.proxy_host &&
         a.admin == b.admin && a.zx == b.zx && a.auth_id == b.auth_id &&
         a.admin_user == b.admin_user && a.admin_pass == b.admin_pass && a.secret == b.secret;
}

}  // namespace

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  const std::string_view input = zmproxy::testing::as_text(data, size);
  // One request reused across inputs, as a keep-alive connection does.
  static RequestHead reused_head;
  static LookupRequest reused;

  std::size_t head_size = 0;
  const HeadParse parse = parse_request_head(input, reused_head, head_size);
  if (input.find("\r\n\r\n") == std::string_view::npos) {
    fuzz_expect(parse == HeadParse::incomplete, "a head without a blank line is not incomplete",
                input);
  }
  // The same percent-decoding both ways, on the raw input too.
  if (const auto decoded = percent_decode(input)) {
    fuzz_expect(percent_decode(percent_encode(*decoded)).value_or("") == *decoded,
                "percent_encode does not round-trip", input);
  }
  if (parse != HeadParse::complete) {
    return 0;
  }
  fuzz_expect(head_size == input.find("\r\n\r\n") + 4, "the head does not end at the blank line",
              input);
  RequestHead alone;
  std::size_t alone_size = 0;
  fuzz_expect(
      parse_request_head(input.substr(0, head_size), alone, alone_size) == HeadParse::complete &&
          alone_size == head_size && alone.fields == reused_head.fields &&
          alone.target == reused_head.target && alone.keep_alive == reused_head.keep_alive,
      "bytes after the head change it", input);
  for (const auto& [name, value] : reused_head.fields) {
    fuzz_expect(!name.empty(), "an empty field name", input);
    for (const char c : value) {
      const auto u = static_cast<unsigned char>(c);
      fuzz_expect((u >= 0x20 || u == '\t') && u != 0x7f, "a control byte in a field value", input);
    }
  }

  const auto fresh = parse_lookup_request(reused_head.fields);
  const auto into = parse_lookup_request(reused_head.fields, reused);
  fuzz_expect(fresh.has_value() == into.has_value(), "reused and fresh requests disagree", input);
  if (!fresh) {
    return 0;
  }
  fuzz_expect(same_request(*fresh, reused), "a reused request keeps an old field", input);

  // What the client would send for this request reads back the same.
  const std::string again = "GET " + std::string(k_lookup_path) + " HTTP/1.1\r\n" +
                            format_lookup_request(*fresh, "lookup.example") + "\r\n";
  RequestHead head2;
  std::size_t size2 = 0;
  fuzz_expect(
      parse_request_head(again, head2, size2) == HeadParse::complete && size2 == again.size(),
      "format_lookup_request wrote an invalid head", input);
  const auto back = parse_lookup_request(head2.fields);
  fuzz_expect(back.has_value(), "format_lookup_request wrote an unreadable request", input);
  LookupRequest expected = *fresh;
  expected.password = "_password_";  // the client never sends the password
  fuzz_expect(same_request(*back, expected), "a request does not round-trip", input);
  return 0;
}
