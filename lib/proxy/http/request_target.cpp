#include "lib/proxy/http/request_target.hpp"

namespace zmproxy::proxy::http {

namespace {

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != prefix[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

RequestTarget classify_target(std::string_view target, bool options) {
  RequestTarget r;
  if (!target.empty() && target.front() == '/') {
    r.form = RequestTarget::Form::origin;
    return r;
  }
  if (target == "*") {
    r.form = options ? RequestTarget::Form::asterisk : RequestTarget::Form::invalid;
    return r;
  }
  std::size_t skip = 0;
  if (starts_with_nocase(target, "http://")) {
    skip = 7;
  } else if (starts_with_nocase(target, "https://")) {
    skip = 8;
  } else {
    return r;
  }
  const std::string_view rest = target.substr(skip);
  const std::size_t end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return r;
  }
  std::string_view origin = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (!origin.empty() && origin.front() == '#') {
    return r;  // a fragment is never part of a request target
  }
  r.form = RequestTarget::Form::absolute;
  r.authority = authority;
  // "http://host" and "http://host?q" mean the path "/" (RFC 9112 §3.2.1);
  // the caller prepends the "/" when `origin` starts with '?'.
  r.origin = origin;
  return r;
}

}  // namespace zmproxy::proxy::http
