// libFuzzer target: HTTP routing helpers (lib/proxy/http). Not incremental,
// so instead of chunking: the input is split at LF into request-target, Host,
// Cookie, Authorization and client address, and every helper must return
// values within its contract (no control bytes in route keys, login users
// or Location headers, peers in range, determinism).
#include "lib/proxy/http/json_scan.hpp"
#include "lib/proxy/http/jwt.hpp"
#include "lib/proxy/http/login_user.hpp"
#include "lib/proxy/http/mail_mode.hpp"
#include "lib/proxy/http/public_url.hpp"
#include "lib/proxy/http/route_extract.hpp"
#include "lib/proxy/http/server_names.hpp"

#include "tests/fuzz/fuzz_check.hpp"

#include <array>
#include <utility>

namespace {

using namespace zmproxy::proxy::http;
using zmproxy::testing::escape;
using zmproxy::testing::fuzz_failure;

void check_key(const RouteKey& key, std::string_view input) {
  if (key.kind == RouteKey::Kind::ip_hash) {
    if (!key.value.empty()) {
      fuzz_failure("ip_hash key with a value for \"" + escape(input) + "\"");
    }
    return;
  }
  if (key.value.empty() || key.value.size() > k_max_route_name) {
    fuzz_failure("route key of bad length for \"" + escape(input) + "\"");
  }
  for (const char c : key.value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      fuzz_failure("control byte in route key for \"" + escape(input) + "\"");
    }
  }
}

void check_location(const ModeDecision& d, std::string_view input) {
  if (d.redirect == d.location.empty() || (d.redirect && d.bad_host)) {
    fuzz_failure("inconsistent mode decision for \"" + escape(input) + "\"");
  }
  for (const char c : d.location) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      fuzz_failure("unsafe byte in Location for \"" + escape(input) + "\"");
    }
  }
  if (d.redirect && d.location.rfind("http://", 0) != 0 && d.location.rfind("https://", 0) != 0) {
    fuzz_failure("Location without a scheme for \"" + escape(input) + "\"");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = zmproxy::testing::as_text(data, size);
  std::array<std::string_view, 5> fields{};
  std::string_view rest = input;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::size_t lf = rest.find('\n');
    fields[i] = rest.substr(0, lf);
    rest = lf == std::string_view::npos ? std::string_view() : rest.substr(lf + 1);
  }
  RequestView r{"GET", fields[0], fields[1], fields[2], fields[3], "fuzz"};

  const RouteKey key = extract_route(r);
  check_key(key, input);
  if (!(extract_route(r) == key)) {
    fuzz_failure("extract_route is not deterministic for \"" + escape(input) + "\"");
  }
  // A login's user has a route key's contract too.
  if (const std::optional<std::string> user = login_user(r)) {
    check_key(RouteKey{RouteKey::Kind::user, *user, false}, input);
  }
  const RouteKey admin = extract_admin_route(r);
  check_key(admin, input);
  if (admin.admin != (admin.kind == RouteKey::Kind::zimbra_id)) {
    fuzz_failure("admin flag wrong for \"" + escape(input) + "\"");
  }
  for (const std::string_view field : fields) {
    std::string id = parse_zm_auth_token_id(field);
    if (!id.empty()) {
      check_key(RouteKey{RouteKey::Kind::zimbra_id, std::move(id), false}, input);
    }
    if (const std::optional<std::string> sub = jwt_subject(field)) {
      check_key(RouteKey{RouteKey::Kind::user, *sub, false}, input);
    }
    const std::optional<std::string> member = json_top_level_string(field, "sub");
    if (member != json_top_level_string(field, "sub")) {
      fuzz_failure("json_top_level_string is not deterministic for \"" + escape(input) + "\"");
    }
    if (const std::optional<std::string> payload = jwt_payload(field); payload && payload->size() > field.size()) {
      fuzz_failure("a JWT payload longer than its token for \"" + escape(input) + "\"");
    }
  }
  for (std::size_t peers = 0; peers < 4; ++peers) {
    if (ip_hash(fields[4], peers) >= (peers == 0 ? 1 : peers)) {
      fuzz_failure("ip_hash out of range for \"" + escape(input) + "\"");
    }
  }
  (void)is_long_poll(fields[0]);
  (void)has_raw_crlf_escape(fields[0]);
  (void)has_auth_token_cookie(fields[2]);
  (void)host_allowed(fields[1], {std::string(fields[4]), "mail.example.com"}, true);

  for (const MailMode mode :
       {MailMode::http, MailMode::https, MailMode::both, MailMode::redirect, MailMode::mixed}) {
    for (const bool tls : {false, true}) {
      for (const bool cookie : {false, true}) {
        check_location(decide(mode, tls, fields[1], fields[0], cookie, 443, 8080), input);
      }
    }
  }

  const std::string out = rewrite_location(fields[0], fields[1], "https://pub.example.com");
  if (out != fields[0] && out.rfind("https://pub.example.com", 0) != 0) {
    fuzz_failure("rewrite_location produced a foreign prefix for \"" + escape(input) + "\"");
  }
  PublicUrlInput in;
  in.domain_public_hostname = std::string(fields[1]);
  in.domain_public_protocol = std::string(fields[3]);
  in.server_hostname = std::string(fields[4]);
  in.server_mail_mode = std::string(fields[2]);
  (void)public_base_url(in);
  return 0;
}
