#include "lib/proxy/http/error_page.hpp"

namespace zmproxy::proxy::http {

std::string percent_encode_component(std::string_view text) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + 16);
  for (const char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '.' || u == '_' || u == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(k_hex[u >> 4]);
      out.push_back(k_hex[u & 0x0f]);
    }
  }
  return out;
}

std::string error_handler_location(std::string_view url, int status, std::string_view upstreams) {
  std::string out(url);
  out.push_back(url.find('?') == std::string_view::npos ? '?' : '&');
  out.append("err=")
      .append(std::to_string(status))
      .append("&up=")
      .append(percent_encode_component(upstreams));
  return out;
}

std::string_view upstream_error_text(int status) {
  return status == 504 ? "The mailbox server did not answer in time; try again later."
                       : "The mailbox server is not reachable; try again later.";
}

}  // namespace zmproxy::proxy::http
