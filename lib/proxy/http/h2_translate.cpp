#include "lib/proxy/http/h2_translate.hpp"

#include "lib/core/strings.hpp"

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <vector>

namespace zmproxy::proxy::http {

namespace bhttp = boost::beast::http;

namespace {

// A byte no request line or field may carry: a control byte (HTAB allowed
// in values only) or DEL. nghttp2 checks fields already; this is the
// boundary our HTTP/1.1 bytes depend on, so it is checked here again.
bool clean_value(std::string_view v) {
  for (char ch : v) {
    const auto u = static_cast<unsigned char>(ch);
    if ((u < 0x20 && ch != '\t') || u == 0x7f) {
      return false;
    }
  }
  return true;
}

bool clean_token(std::string_view v) {
  if (v.empty()) {
    return false;
  }
  for (char ch : v) {
    const auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u == 0x7f || ch == ':') {
      return false;
    }
  }
  return true;
}

bool no_space(std::string_view v) {
  for (char ch : v) {
    const auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u == 0x7f) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<std::string> h1_request_head(const H2RequestHead& head, bool& chunked) {
  if (!clean_token(head.method) || head.path.empty() || !no_space(head.path) ||
      !no_space(head.authority)) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(64 + head.path.size() + head.authority.size() + head.headers.size() * 48);
  out.append(head.method).append(" ").append(head.path).append(" HTTP/1.1\r\n");
  if (!head.authority.empty()) {
    out.append("Host: ").append(head.authority).append("\r\n");
  }
  bool has_length = false;
  for (const H2Header& f : head.headers) {
    if (!clean_token(f.name) || !clean_value(f.value)) {
      return std::nullopt;
    }
    // :authority wins over Host (RFC 9113 §8.3.1); TE ("trailers", the only
    // value HTTP/2 allows) and Transfer-Encoding are hop-by-hop.
    if ((!head.authority.empty() && f.name == "host") || f.name == "te" ||
        f.name == "transfer-encoding") {
      continue;
    }
    has_length = has_length || f.name == "content-length";
    out.append(f.name).append(": ").append(f.value).append("\r\n");
  }
  chunked = !head.end_stream && !has_length;
  if (chunked) {
    out.append("Transfer-Encoding: chunked\r\n");
  }
  out.append("\r\n");
  return out;
}

void append_chunk(std::string& out, std::string_view data) {
  if (data.empty()) {
    return;  // an empty chunk would end the body
  }
  std::array<char, 24> size{};
  const int n = std::snprintf(size.data(), size.size(), "%zx\r\n", data.size());
  out.append(size.data(), static_cast<std::size_t>(n)).append(data).append("\r\n");
}

struct H2ResponseRelay::Parser {
  bhttp::response_parser<bhttp::buffer_body> p;
};

H2ResponseRelay::H2ResponseRelay(bool head_request)
    : m_head_request(head_request), m_parser(std::make_unique<Parser>()) {
  m_parser->p.body_limit(boost::none);
  m_parser->p.header_limit(64 * 1024);
  m_parser->p.skip(head_request);
}

H2ResponseRelay::~H2ResponseRelay() = default;

bool H2ResponseRelay::feed(H2Connection& h2, std::int32_t stream, std::string_view bytes) {
  if (m_complete) {
    return true;  // a page written after a HEAD answer: nothing more goes out
  }
  std::string_view in = bytes;
  if (!m_pending.empty()) {
    m_pending.append(bytes);
    in = m_pending;
  }
  // Body bytes are copied through here on their way into the connection.
  thread_local std::array<char, 16 * 1024> scratch;
  std::size_t used = 0;
  bool ok = true;
  while (ok && used < in.size() && !m_complete) {
    auto& p = m_parser->p;
    boost::system::error_code ec;
    const std::string_view rest = in.substr(used);
    if (!p.is_header_done()) {
      const std::size_t n = p.put(boost::asio::buffer(rest.data(), rest.size()), ec);
      if (ec == bhttp::error::need_more) {
        break;
      }
      if (ec) {
        ok = false;
        break;
      }
      used += n;
      if (!p.is_header_done()) {
        continue;
      }
      const auto& res = p.get();
      const unsigned status = res.result_int();
      if (status >= 100 && status < 200) {
        // An interim answer (101 is never passed on over HTTP/2): the next
        // message is the final one.
        m_parser = std::make_unique<Parser>();
        m_parser->p.body_limit(boost::none);
        m_parser->p.header_limit(64 * 1024);
        m_parser->p.skip(m_head_request);
        continue;
      }
      std::vector<H2Header> fields;
      fields.reserve(16);
      for (const auto& f : res) {
        const auto name = f.name_string();
        const auto value = f.value();
        fields.push_back({core::to_lower(std::string_view(name.data(), name.size())),
                          std::string(value.data(), value.size())});
      }
      m_started = true;
      m_complete = p.is_done();
      ok = h2.submit_response(stream, static_cast<int>(status), fields, m_complete);
      if (!m_complete && !p.chunked() && p.content_length()) {
        m_raw_left = static_cast<std::int64_t>(*p.content_length());
      }
      continue;
    }
    if (m_raw_left >= 0) {
      const std::size_t n =
          std::min<std::size_t>(rest.size(), static_cast<std::size_t>(m_raw_left));
      m_raw_left -= static_cast<std::int64_t>(n);
      used += n;
      m_complete = m_raw_left == 0;
      ok = h2.send_body(stream, rest.substr(0, n), m_complete);
      continue;
    }
    p.get().body().data = scratch.data();
    p.get().body().size = scratch.size();
    const std::size_t n = p.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    if (ec == bhttp::error::need_buffer) {
      ec = {};
    }
    if (ec && ec != bhttp::error::need_more) {
      ok = false;
      break;
    }
    used += n;
    const std::size_t body = scratch.size() - p.get().body().size;
    m_complete = p.is_done();
    if (body > 0 || m_complete) {
      ok = h2.send_body(stream, std::string_view(scratch.data(), body), m_complete);
    }
    if (n == 0 && body == 0 && !m_complete) {
      break;  // a partial chunk line: wait for more
    }
  }
  if (!ok) {
    m_pending.clear();
    return false;
  }
  if (in.data() == m_pending.data()) {
    m_pending.erase(0, used);
  } else {
    m_pending.assign(in.substr(used));
  }
  return true;
}

}  // namespace zmproxy::proxy::http
