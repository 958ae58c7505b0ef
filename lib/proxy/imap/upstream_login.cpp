#include "lib/proxy/imap/upstream_login.hpp"

#include <vector>

#include "lib/core/strings.hpp"
#include "lib/core/version.hpp"
#include "lib/proxy/imap/response_parser.hpp"
#include "lib/proxy/mail/upstream_text.hpp"

namespace zmproxy::proxy::imap {

namespace {

using namespace mail;
using Verdict = MailboxVerdict;

std::string imap_quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
  return out;
}

// The astring for LOGIN: quoted when it can be, else a literal; with
// LITERAL+ a non-synchronising one. Appends to `parts`, split where a
// synchronising literal needs the server's "+" first.
void append_astring(std::vector<std::string>& parts, std::string_view v, bool literal_plus) {
  bool plain = v.size() < 1024;
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0 || c == '\r' || c == '\n' || u >= 0x80) {
      plain = false;
    }
  }
  if (plain) {
    parts.back() += imap_quoted(v);
    return;
  }
  if (literal_plus) {
    parts.back() += "{" + std::to_string(v.size()) + "+}\r\n";
    parts.back() += v;
    return;
  }
  parts.back() += "{" + std::to_string(v.size()) + "}\r\n";
  parts.emplace_back(v);
}

// The proxy's ID: the client's address, and what the client said of itself.
std::string id_command(const MailboxLoginRequest& r, const std::string& id_tag) {
  const std::string& name = r.client_name;
  const std::string& version = r.client_version;
  std::string via = name.empty() ? "" : name + (version.empty() ? "" : "/" + version) + ",";
  via += r.local_ip + "(zmproxy/" + std::string(k_version) + ")";
  return id_tag + " ID (\"X-ORIGINATING-IP\" " + imap_quoted(r.client_ip) + " \"X-ORIGINATING-PORT\" " +
         imap_quoted(std::to_string(r.client_port)) + " \"name\" " +
         imap_quoted(name.empty() ? "zmproxy" : name) + " \"version\" " +
         imap_quoted(version.empty() ? k_version : version) + " \"X-VIA\" " + imap_quoted(via) + ")\r\n";
}

// The client's login as the mailbox gets it: appended to `parts` (split at
// synchronising literals); what AUTHENTICATE sends after "+" when the
// mailbox lacks SASL-IR is returned.
std::string append_login(std::vector<std::string>& parts, const Login& login, const std::string& user,
                         bool literal_plus, bool sasl_ir) {
  if (!login.sasl) {
    parts.back() += login.tag + " LOGIN ";
    append_astring(parts, user, literal_plus);
    parts.back() += ' ';
    append_astring(parts, login.password, literal_plus);
    parts.back() += "\r\n";
    return {};
  }
  std::string ir;
  if (login.mechanism == SaslMechanism::plain || login.mechanism == SaslMechanism::login) {
    ir = encode_plain(PlainCredentials{login.authzid, user, login.password});
    parts.back() += login.tag + " AUTHENTICATE PLAIN";
  } else {
    ir = encode_initial_response(login.password);
    parts.back() += login.tag + " AUTHENTICATE " + std::string(sasl_mechanism_name(login.mechanism));
  }
  if (sasl_ir) {
    parts.back() += " " + ir + "\r\n";
    return {};
  }
  parts.back() += "\r\n";
  return ir + "\r\n";
}

// What the login writes, in order: the first block, then one part per "+".
struct Outgoing {
  std::vector<std::string> parts;
  std::string sasl_data;  // after "+" when the server lacks SASL-IR
  std::size_t next = 1;
  bool sasl = false;

  // The answer to a "+", or nullopt when none is due (a protocol error).
  std::optional<std::string> after_continuation() {
    if (next < parts.size()) {
      return parts[next++];
    }
    if (!sasl_data.empty()) {
      return std::exchange(sasl_data, std::string());
    }
    if (sasl) {
      return std::string("\r\n");  // an error challenge (OAuth): end the exchange
    }
    return std::nullopt;
  }
};

// The mailbox's replies after the login went out, up to the verdict: only
// the tagged reply to the client's tag, after the ID's (when one was sent).
template <class Stream>
awaitable<Verdict> await_verdict(MailboxReader<Stream, ResponseParser>& io, Outgoing& out, const Login& login,
                                 const std::string& id_tag, bool id_answered, const std::string& user) {
  while (true) {
    auto r = co_await io.next_response();
    if (!r) {
      co_return Verdict::unavailable(io.why("no answer to the login"));
    }
    if (r->kind == Response::Kind::continuation) {
      const auto payload = out.after_continuation();
      if (!payload) {
        co_return Verdict::unavailable("unexpected continuation during LOGIN");
      }
      if (!co_await io.write(*payload)) {
        co_return Verdict::unavailable("write failed");
      }
      continue;
    }
    if (r->kind != Response::Kind::tagged) {
      if (r->status == "BYE") {
        co_return Verdict::unavailable("the mailbox said BYE");
      }
      continue;  // * ID, * CAPABILITY, * OK [ALERT]...
    }
    if (r->tag == id_tag && !id_answered) {
      id_answered = true;  // the ID's answer, whatever it says
      continue;
    }
    if (r->tag != login.tag || !id_answered) {
      co_return Verdict::unavailable("a tagged reply out of order during login");
    }
    if (r->status == "OK") {
      co_return Verdict{Verdict::Kind::accepted, std::move(r->raw), {}, user};
    }
    co_return Verdict{Verdict::Kind::refused, std::move(r->text), {}, user};  // NO or BAD
  }
}

template <class Stream>
awaitable<Verdict> login_at(Stream& mailbox, const MailboxLoginRequest& r) {
  MailboxReader<Stream, ResponseParser> io{mailbox, r.timeout};
  auto greeting = co_await io.next_response();
  if (!greeting || greeting->kind != Response::Kind::untagged || greeting->status != "OK") {
    co_return Verdict::unavailable(io.why("no IMAP greeting"));
  }
  std::string caps;
  if (auto code = response_code(greeting->text); code && core::istarts_with(*code, "CAPABILITY ")) {
    caps = core::to_lower(*code);
  }
  const bool literal_plus = caps.find(" literal+") != std::string::npos;
  const bool sasl_ir = caps.find(" sasl-ir") != std::string::npos;

  // The proxy's own commands carry a tag of this session's that the client
  // cannot guess (a fixed one let a client tag its LOGIN with it and take the
  // ID's OK for its login).
  const std::string id_tag = new_proxy_tag(r.login.tag);
  Outgoing out{std::vector<std::string>(1), {}, 1, r.login.sasl};
  if (r.send_client_address) {
    out.parts.back() += id_command(r, id_tag);
  }
  const std::string user = r.route.user + r.login.suffix;
  if (!safe_login_name(user)) {
    co_return Verdict::unavailable("the route names a user with a control character");
  }
  out.sasl_data = append_login(out.parts, r.login, user, literal_plus, sasl_ir);
  // The client's address and the login go in one write, up to the first
  // point where the server must say "+".
  if (!co_await io.write(out.parts.front())) {
    co_return Verdict::unavailable("write failed");
  }
  co_return co_await await_verdict(io, out, r.login, id_tag, !r.send_client_address, user);
}

}  // namespace

awaitable<Verdict> login_at_mailbox(tcp::socket& mailbox, const MailboxLoginRequest& r) { return login_at(mailbox, r); }
awaitable<Verdict> login_at_mailbox(TlsStream& mailbox, const MailboxLoginRequest& r) { return login_at(mailbox, r); }

}  // namespace zmproxy::proxy::imap
