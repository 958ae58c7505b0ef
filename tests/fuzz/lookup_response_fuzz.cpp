// libFuzzer target: the lookup client's side of the lookup protocol. The
// input is a lookup handler's reply, read as route/lookup_client.cpp reads
// it (Beast's response parser, the same limits), then its fields through
// parse_lookup_response. Checks: an OK has a server and a port in range, and
// whatever is accepted, formatted again as zmlookupd would
// (format_lookup_response), reads back to the same response.
#include "lib/route/lookup_protocol.hpp"

#include "tests/fuzz/fuzz_support.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

namespace {

using namespace zmproxy::route;
using zmproxy::testing::fuzz_expect;
namespace http = boost::beast::http;

bool same_response(const LookupResponse& a, const LookupResponse& b) {
  return a.ok == b.ok && a.status == b.status && a.server == b.server && a.port == b.port &&
         a.user == b.user && a.cache_alias == b.cache_alias && a.wait_seconds == b.wait_seconds &&
         a.auth_id == b.auth_id && a.token == b.token;
}

// "Name: value\r\n" lines -> headers (what Beast hands over for them).
Headers read_lines(std::string_view lines) {
  Headers out;
  while (!lines.empty()) {
    const auto eol = lines.find("\r\n");
    const std::string_view line = lines.substr(0, eol);
    lines.remove_prefix(eol == std::string_view::npos ? lines.size() : eol + 2);
    const auto colon = line.find(':');
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
      value.remove_suffix(1);
    }
    out.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  return out;
}

}  // namespace

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  const std::string_view input = zmproxy::testing::as_text(data, size);
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(4096);
  parser.header_limit(8192);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (!ec && used < input.size() && !parser.is_done()) {
    const std::size_t n =
        parser.put(boost::asio::buffer(input.data() + used, input.size() - used), ec);
    used += n;
    if (n == 0 && !ec) {
      break;
    }
  }
  if ((ec == http::error::need_more || !ec) && !parser.is_done() && parser.got_some()) {
    ec = {};
    parser.put_eof(ec);  // the handler closed the connection
  }
  if (ec || !parser.is_done()) {
    return 0;
  }
  const auto& res = parser.get();
  if (res.result() != http::status::ok) {
    return 0;
  }
  Headers headers;
  for (const auto& f : res) {
    headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  const auto parsed = parse_lookup_response(headers);
  if (!parsed) {
    return 0;
  }
  if (parsed->ok) {
    fuzz_expect(!parsed->server.empty() && parsed->port > 0 && parsed->port <= 65535,
                "an OK without a usable server", input);
  }
  const auto back = parse_lookup_response(read_lines(format_lookup_response(*parsed)));
  fuzz_expect(back.has_value(), "format_lookup_response wrote an unreadable reply", input);
  LookupResponse expected = *parsed;
  if (expected.ok) {
    expected.wait_seconds = 0;  // an OK carries no Auth-Wait
  } else {
    expected.server.clear();  // an error carries nothing else
    expected.port = 0;
    expected.user.clear();
    expected.cache_alias = false;
    expected.auth_id.clear();
    expected.token.clear();
  }
  fuzz_expect(same_response(*back, expected), "a reply does not round-trip", input);
  return 0;
}
