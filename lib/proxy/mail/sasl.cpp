#include "lib/proxy/mail/sasl.hpp"

#include "lib/core/base64.hpp"
#include "lib/core/strings.hpp"

#include <array>
#include <utility>

namespace zmproxy::proxy::mail {

namespace {

using core::iequals;

bool has_crlf(std::string_view s) noexcept {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

SaslResponse response_error(SaslError error) {
  SaslResponse r;
  r.kind = SaslResponseKind::error;
  r.error = error;
  return r;
}

SaslResponse response_data(std::string data) {
  SaslResponse r;
  r.kind = SaslResponseKind::data;
  r.data = std::move(data);
  return r;
}

SaslResponse decode_base64_response(std::string_view text, std::size_t max) {
  if (text.size() > max) {
    return response_error(SaslError::too_long);
  }
  std::optional<std::string> decoded = core::base64_decode(text);
  if (!decoded) {
    return response_error(SaslError::bad_base64);
  }
  return response_data(std::move(*decoded));
}

SaslValue value_error(SaslError error) {
  SaslValue v;
  v.error = error;
  return v;
}

SaslValue check_login_name(std::string_view name) {
  if (name.empty()) {
    return value_error(SaslError::empty_authcid);
  }
  if (name.size() > k_max_sasl_login) {
    return value_error(SaslError::too_long);
  }
  if (name.find('\0') != std::string_view::npos) {
    return value_error(SaslError::malformed);
  }
  if (has_crlf(name)) {
    return value_error(SaslError::bad_characters);
  }
  return SaslValue{SaslError::none, std::string(name)};
}

struct MechanismName {
  SaslMechanism mechanism;
  std::string_view name;
};
constexpr std::array<MechanismName, 7> k_mechanisms{{
    {SaslMechanism::plain, "PLAIN"},
    {SaslMechanism::login, "LOGIN"},
    {SaslMechanism::xoauth2, "XOAUTH2"},
    {SaslMechanism::oauthbearer, "OAUTHBEARER"},
    {SaslMechanism::gssapi, "GSSAPI"},
    {SaslMechanism::external, "EXTERNAL"},
    {SaslMechanism::cram_md5, "CRAM-MD5"},
}};

}  // namespace

SaslMechanism parse_sasl_mechanism(std::string_view name) noexcept {
  for (const MechanismName& m : k_mechanisms) {
    if (iequals(name, m.name)) {
      return m.mechanism;
    }
  }
  return SaslMechanism::unknown;
}

std::string_view sasl_mechanism_name(SaslMechanism mechanism) noexcept {
  if (mechanism == SaslMechanism::x_zimbra) {
    return "X-ZIMBRA";  // not in k_mechanisms: a client cannot ask for it
  }
  for (const MechanismName& m : k_mechanisms) {
    if (m.mechanism == mechanism) {
      return m.name;
    }
  }
  return {};
}

std::string_view sasl_error_text(SaslError error) noexcept {
  switch (error) {
    case SaslError::none:
      return "ok";
    case SaslError::bad_base64:
      return "invalid base64";
    case SaslError::too_long:
      return "authentication data too long";
    case SaslError::malformed:
      return "malformed authentication data";
    case SaslError::empty_authcid:
      return "empty login name";
    case SaslError::empty_password:
      return "empty password";
    case SaslError::bad_characters:
      return "invalid characters in login name";
  }
  return "unknown error";
}

SaslResponse decode_initial_response(std::string_view text, std::size_t max) {
  if (text == "=") {
    return response_data({});
  }
  if (text.empty()) {
    // An initial response is either "=" or base64 (RFC 4959 §3).
    return response_error(SaslError::bad_base64);
  }
  return decode_base64_response(text, max);
}

SaslResponse decode_continuation(std::string_view line, std::size_t max) {
  if (line == "*") {
    SaslResponse r;
    r.kind = SaslResponseKind::cancel;
    return r;
  }
  if (line.empty()) {
    return response_data({});
  }
  return decode_base64_response(line, max);
}

std::string encode_initial_response(std::string_view data) {
  return data.empty() ? std::string("=") : core::base64_encode(data);
}

PlainResult parse_plain(std::string_view decoded) {
  PlainResult r;
  const std::size_t nul1 = decoded.find('\0');
  const std::size_t nul2 =
      nul1 == std::string_view::npos ? std::string_view::npos : decoded.find('\0', nul1 + 1);
  if (nul2 == std::string_view::npos || decoded.find('\0', nul2 + 1) != std::string_view::npos) {
    r.error = SaslError::malformed;
    return r;
  }
  const std::string_view authzid = decoded.substr(0, nul1);
  const std::string_view authcid = decoded.substr(nul1 + 1, nul2 - nul1 - 1);
  const std::string_view password = decoded.substr(nul2 + 1);
  if (authcid.empty()) {
    r.error = SaslError::empty_authcid;
  } else if (password.empty()) {
    r.error = SaslError::empty_password;
  } else if (authcid.size() > k_max_sasl_login || authzid.size() > k_max_sasl_login ||
             password.size() > k_max_sasl_password) {
    r.error = SaslError::too_long;
  } else if (has_crlf(authcid) || has_crlf(authzid)) {
    r.error = SaslError::bad_characters;
  } else {
    r.credentials.authzid.assign(authzid);
    r.credentials.authcid.assign(authcid);
    r.credentials.password.assign(password);
  }
  return r;
}

PlainResult decode_plain(std::string_view base64) {
  // authzid NUL authcid NUL passwd at their limits, in base64.
  constexpr std::size_t k_max_message = 2 * k_max_sasl_login + k_max_sasl_password + 2;
  constexpr std::size_t k_max_base64 = (k_max_message + 2) / 3 * 4;
  PlainResult r;
  if (base64.size() > k_max_base64) {
    r.error = SaslError::too_long;
    return r;
  }
  std::optional<std::string> decoded = core::base64_decode(base64);
  if (!decoded) {
    r.error = SaslError::bad_base64;
    return r;
  }
  return parse_plain(*decoded);
}

std::string plain_message(const PlainCredentials& credentials) {
  std::string message;
  message.reserve(credentials.authzid.size() + credentials.authcid.size() +
                  credentials.password.size() + 2);
  message.append(credentials.authzid);
  message.push_back('\0');
  message.append(credentials.authcid);
  message.push_back('\0');
  message.append(credentials.password);
  return message;
}

std::string encode_plain(const PlainCredentials& credentials) {
  return core::base64_encode(plain_message(credentials));
}

SaslValue check_login_username(std::string_view decoded) {
  return check_login_name(decoded);
}

SaslValue check_login_password(std::string_view decoded) {
  if (decoded.empty()) {
    return value_error(SaslError::empty_password);
  }
  if (decoded.size() > k_max_sasl_password) {
    return value_error(SaslError::too_long);
  }
  if (decoded.find('\0') != std::string_view::npos) {
    return value_error(SaslError::malformed);
  }
  return SaslValue{SaslError::none, std::string(decoded)};
}

SaslValue oauth_user(SaslMechanism mechanism, std::string_view decoded) {
  if (mechanism == SaslMechanism::xoauth2) {
    // user=<u> ^A auth=Bearer <token> ^A ^A
    constexpr std::string_view k_prefix = "user=";
    if (decoded.substr(0, k_prefix.size()) != k_prefix) {
      return value_error(SaslError::malformed);
    }
    const std::string_view rest = decoded.substr(k_prefix.size());
    const std::size_t end = rest.find('\x01');
    if (end == std::string_view::npos) {
      return value_error(SaslError::malformed);
    }
    SaslValue v = check_login_name(rest.substr(0, end));
    if (v.error == SaslError::empty_authcid) {
      v.error = SaslError::malformed;
    }
    return v;
  }
  if (mechanism == SaslMechanism::oauthbearer) {
    // gs2-header = gs2-cb-flag "," [ "a=" saslname ] ","   (RFC 5801 §4)
    const std::size_t comma = decoded.find(',');
    if (comma == std::string_view::npos) {
      return value_error(SaslError::malformed);
    }
    const std::string_view flag = decoded.substr(0, comma);
    if (flag != "n" && flag != "y" && flag.substr(0, 2) != "p=") {
      return value_error(SaslError::malformed);
    }
    const std::string_view rest = decoded.substr(comma + 1);
    if (rest.substr(0, 2) != "a=") {
      return value_error(SaslError::malformed);
    }
    const std::size_t end = rest.find(',', 2);
    if (end == std::string_view::npos) {
      return value_error(SaslError::malformed);
    }
    const std::string_view saslname = rest.substr(2, end - 2);
    std::string user;
    for (std::size_t i = 0; i < saslname.size(); ++i) {
      if (saslname[i] != '=') {
        user.push_back(saslname[i]);
      } else if (saslname.substr(i, 3) == "=2C") {
        user.push_back(',');
        i += 2;
      } else if (saslname.substr(i, 3) == "=3D") {
        user.push_back('=');
        i += 2;
      } else {
        return value_error(SaslError::malformed);
      }
    }
    SaslValue v = check_login_name(user);
    if (v.error == SaslError::empty_authcid) {
      v.error = SaslError::malformed;
    }
    return v;
  }
  return value_error(SaslError::malformed);
}

}  // namespace zmproxy::proxy::mail
