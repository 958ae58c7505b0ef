// libFuzzer target: SASL helpers. Not incremental, so instead of chunking:
// whatever PLAIN accepts encodes back to the same message and decodes to the
// same credentials; client responses and the OAuth user reader never crash.
#include "lib/core/base64.hpp"
#include "lib/proxy/mail/sasl.hpp"

#include "tests/fuzz/fuzz_check.hpp"

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  using namespace zmproxy::proxy::mail;
  using zmproxy::testing::escape;
  using zmproxy::testing::fuzz_failure;
  const std::string_view input = zmproxy::testing::as_text(data, size);

  // The input as a decoded PLAIN message.
  const PlainResult parsed = parse_plain(input);
  if (parsed.ok()) {
    if (plain_message(parsed.credentials) != input) {
      fuzz_failure("plain_message(parse_plain(x)) != x for \"" + escape(input) + "\"");
    }
    const PlainResult again = decode_plain(encode_plain(parsed.credentials));
    if (!again.ok() || !(again.credentials == parsed.credentials)) {
      fuzz_failure("decode_plain(encode_plain(c)) != c for \"" + escape(input) + "\"");
    }
    if (parsed.credentials.authcid.empty() || parsed.credentials.password.empty() ||
        parsed.credentials.authcid.size() > k_max_sasl_login ||
        parsed.credentials.password.size() > k_max_sasl_password) {
      fuzz_failure("parse_plain accepted out-of-limit values for \"" + escape(input) + "\"");
    }
  }
  // The input as base64 text, initial response and continuation line.
  const PlainResult decoded = decode_plain(input);
  const std::optional<std::string> raw = zmproxy::core::base64_decode(input);
  if (decoded.ok() && (!raw || !parse_plain(*raw).ok())) {
    fuzz_failure("decode_plain accepted what parse_plain refuses: \"" + escape(input) + "\"");
  }
  // (core::base64_decode ignores non-zero padding bits, so compare decoded data.)
  const SaslResponse initial = decode_initial_response(input);
  if (initial.kind == SaslResponseKind::data) {
    const SaslResponse back = decode_initial_response(encode_initial_response(initial.data));
    if (back.kind != SaslResponseKind::data || back.data != initial.data) {
      fuzz_failure("initial response does not round-trip: \"" + escape(input) + "\"");
    }
  }
  (void)decode_continuation(input);
  (void)parse_sasl_mechanism(input);
  (void)check_login_username(input);
  (void)check_login_password(input);
  for (const SaslMechanism m : {SaslMechanism::xoauth2, SaslMechanism::oauthbearer}) {
    const SaslValue user = oauth_user(m, input);
    if (user.ok() &&
        (user.value.empty() || user.value.size() > k_max_sasl_login ||
         user.value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)) {
      fuzz_failure("oauth_user returned a bad user for \"" + escape(input) + "\"");
    }
  }
  return 0;
}
