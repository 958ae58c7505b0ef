// libFuzzer target: the IMAP pre-login dialogue, structure-aware. The input
// is a client's byte stream (pipelined commands, literals, SASL continuation
// lines) and, after the first "\0\0", the mailbox's scripted replies to the
// proxy's LOGIN. It is driven through a model of the session's pre-login
// loop (mail/session_driver.hpp next_command, imap/client_session.cpp
// dispatch, mail/sasl_exchange.hpp) built on the real pure pieces: the
// command parser with the session's pre-login limits, the SASL decoders,
// LineReader for continuation lines, the login-name and secret checks,
// printable_ascii for ID, format_command for what goes upstream and the
// response parser for the mailbox's replies.
//
// Reached: every pre-login command (CAPABILITY, NOOP, ID, LOGOUT, STARTTLS
// refused as when no TLS is configured, LOGIN, AUTHENTICATE PLAIN, LOGIN,
// XOAUTH2, OAUTHBEARER with and without initial response, "*" cancel),
// synchronising and LITERAL+ literals, invalid commands and the 10-error cap,
// too-long commands, the upstream LOGIN's formatting and verdict. Not
// reached (Asio and sockets): the coroutines themselves, timeouts, TLS,
// GSSAPI, throttling, the route lookup and the byte relay after login.
//
// Invariants checked: the parser never holds bytes back while asking for
// more (no unbounded buffering: need_more consumes everything) and never
// makes progress without consuming; a ready command fits max_command and has
// a valid tag; every command gets exactly one tagged (or "*") reply; a "+"
// goes out only after a synchronising literal's header; what is sent
// upstream is one clean command line block that parses back to exactly the
// client's credentials; and the whole transcript is the same whether the
// client's bytes arrive at once or in pieces.
#include "lib/proxy/imap/command_parser.hpp"
#include "lib/proxy/imap/response_parser.hpp"
#include "lib/proxy/mail/line_reader.hpp"
#include "lib/proxy/mail/sasl.hpp"
#include "lib/proxy/mail/upstream_text.hpp"

#include "tests/fuzz/fuzz_check.hpp"

#include <optional>

namespace {

using namespace zmproxy::proxy;
using imap::Arg;
using imap::Command;
using imap::CommandParser;
using mail::SaslMechanism;
using mail::SaslResponseKind;
using zmproxy::testing::escape;
using zmproxy::testing::fuzz_failure;

constexpr int k_max_bad_commands = 10;  // session_driver.hpp
constexpr std::string_view k_proxy_tag = "zp0123456789abcdef";

// imap/client_session.cpp parser_limits, GSSAPI not offered.
CommandParser::Limits pre_login_limits() {
  CommandParser::Limits l;
  l.max_literal = 8 * 1024;
  l.max_line = 8 * 1024;
  l.max_command = 16 * 1024;
  return l;
}

std::size_t command_size(const std::vector<Arg>& args) {
  std::size_t n = 0;
  for (const Arg& a : args) {
    n += a.value.size() + command_size(a.children);
  }
  return n;
}

bool valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 32) {
    return false;
  }
  for (const char c : tag) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f ||
        std::string_view("(){%*\"\\+").find(c) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::optional<std::string> arg_string(const Arg& a) {
  if (a.kind == Arg::Kind::atom || a.kind == Arg::Kind::string) {
    return a.value;
  }
  return std::nullopt;
}

class Session {
 public:
  Session(std::string_view input, std::vector<std::string_view> chunks, std::string_view upstream)
      : m_input(input),
        m_chunks(std::move(chunks)),
        m_upstream(upstream),
        m_parser(pre_login_limits()) {}

  // The transcript of everything the proxy said.
  std::string run() {
    while (auto cmd = next_command()) {
      const std::size_t before = m_replies;
      const bool more = dispatch(*cmd);
      if (m_replies > before + 1 || (more && m_replies != before + 1)) {
        fail("a command without exactly one tagged reply");
      }
      if (!more) {
        break;
      }
    }
    return m_out;
  }

 private:
  void fail(const std::string& what) { fuzz_failure(what + " for \"" + escape(m_input) + "\""); }

  bool read_more() {
    if (m_next == m_chunks.size()) {
      m_out += "[closed]\n";
      return false;
    }
    m_in += m_chunks[m_next++];
    return true;
  }

  void say(std::string_view line) {
    m_out.append(line);
    m_out += '\n';
  }
  void reply(const std::string& tag, std::string_view text) {
    ++m_replies;
    say(tag + " " + std::string(text));
  }

  std::optional<Command> next_command() {
    while (true) {
      const auto step = m_parser.feed(m_in);
      if (step.consumed > m_in.size()) {
        fail("the parser consumed more than it was given");
      }
      // The last bytes the parser consumed, across feeds.
      m_recent.append(m_in, 0, step.consumed);
      if (m_recent.size() > 8) {
        m_recent.erase(0, m_recent.size() - 8);
      }
      m_in.erase(0, step.consumed);
      using Status = CommandParser::Status;
      if (step.status == Status::command_ready) {
        Command cmd = m_parser.take();
        if (!valid_tag(cmd.tag) || cmd.name.empty()) {
          fail("a ready command with a bad tag or no name");
        }
        if (command_size(cmd.args) > pre_login_limits().max_command) {
          fail("a ready command over max_command");
        }
        return cmd;
      }
      if (step.status == Status::need_more) {
        if (!m_in.empty()) {
          fail("need_more with bytes held back");
        }
        if (!read_more()) {
          return std::nullopt;
        }
      } else if (step.status == Status::too_long) {
        say("* BYE too long");
        return std::nullopt;
      } else if (step.status == Status::invalid) {
        if (++m_bad > k_max_bad_commands) {
          say("* BYE too many errors");
          return std::nullopt;
        }
        const Command partial = m_parser.take();
        reply(partial.tag.empty() ? "*" : partial.tag,
              "BAD [CLIENTBUG] " + std::string(step.reason));
      } else {
        // need_continuation: only right after a synchronising literal's header.
        const std::string_view read = m_recent;
        if (!(read.ends_with("}\r\n") || read.ends_with("}\n"))) {
          fail("a continuation request not after a literal header");
        }
        say("+ Ready for literal data");
      }
    }
  }

  // mail/sasl_exchange.hpp read_sasl_line: nullopt when the session ends.
  std::optional<std::string> read_sasl_line() {
    mail::LineReader reader(mail::k_max_sasl_response + 2);
    while (true) {
      const auto step = reader.feed(m_in);
      m_in.erase(0, step.consumed);
      if (step.status == mail::LineReader::Status::line_ready) {
        return reader.take();
      }
      if (step.status == mail::LineReader::Status::too_long) {
        say("[sasl line too long]");
        return std::nullopt;
      }
      if (!m_in.empty()) {
        fail("LineReader held bytes back");
      }
      if (!read_more()) {
        return std::nullopt;
      }
    }
  }

  // One SASL response: the initial one, or "+ prompt" and a line.
  std::optional<mail::SaslResponse> sasl_response(std::optional<std::string>& initial,
                                                  std::string_view prompt) {
    if (initial) {
      auto r = mail::decode_initial_response(*initial);
      initial.reset();
      return r;
    }
    say("+ " + std::string(prompt));
    const auto line = read_sasl_line();
    if (!line) {
      return std::nullopt;
    }
    return mail::decode_continuation(*line);
  }

  bool dispatch(const Command& cmd) {
    const std::string& tag = cmd.tag;
    if (cmd.name == "CAPABILITY") {
      say("* CAPABILITY IMAP4rev1 ID LITERAL+ SASL-IR AUTH=PLAIN AUTH=LOGIN");
      reply(tag, "OK CAPABILITY completed");
    } else if (cmd.name == "NOOP") {
      reply(tag, "OK NOOP completed");
    } else if (cmd.name == "LOGOUT") {
      say("* BYE");
      reply(tag, "OK LOGOUT completed");
      return false;
    } else if (cmd.name == "ID") {
      id(cmd);
      reply(tag, "OK ID completed");
    } else if (cmd.name == "STARTTLS") {
      reply(tag, "BAD STARTTLS not available");  // no TLS configured
    } else if (cmd.name == "LOGIN") {
      const auto user = cmd.args.size() == 2 ? arg_string(cmd.args[0]) : std::nullopt;
      const auto pass = cmd.args.size() == 2 ? arg_string(cmd.args[1]) : std::nullopt;
      if (!user || !pass) {
        reply(tag, "BAD LOGIN takes a user name and a password");
        return true;
      }
      login(tag, *user, *pass);
      return false;
    } else if (cmd.name == "AUTHENTICATE") {
      return authenticate(cmd);
    } else {
      if (++m_bad > k_max_bad_commands) {
        say("* BYE too many errors");
        return false;
      }
      reply(tag, "BAD [CLIENTBUG] " + escape(cmd.name) + " is not valid before login");
    }
    return true;
  }

  void id(const Command& cmd) {
    if (cmd.args.empty() || cmd.args[0].kind != Arg::Kind::list) {
      return;
    }
    const auto& items = cmd.args[0].children;
    for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
      const auto value = arg_string(items[i + 1]);
      if (!value) {
        continue;
      }
      const std::string kept = mail::printable_ascii(*value, 64);
      if (kept.size() > 64 || mail::clean_command_block(kept + "\r\n") == false) {
        fail("printable_ascii kept an unsafe ID value");
      }
    }
  }

  bool authenticate(const Command& cmd) {
    const std::string& tag = cmd.tag;
    const auto mech_name = !cmd.args.empty() ? arg_string(cmd.args[0]) : std::nullopt;
    const SaslMechanism mech =
        mech_name ? mail::parse_sasl_mechanism(*mech_name) : SaslMechanism::unknown;
    std::optional<std::string> ir;
    if (cmd.args.size() >= 2) {
      ir = arg_string(cmd.args[1]).value_or(std::string("\x01"));
    }
    if (mech != SaslMechanism::plain && mech != SaslMechanism::login &&
        mech != SaslMechanism::xoauth2 && mech != SaslMechanism::oauthbearer) {
      reply(tag, "NO mechanism not supported");
      return true;
    }
    auto first =
        sasl_response(ir, mech == SaslMechanism::login ? mail::k_login_username_prompt : "");
    if (!first) {
      return false;
    }
    if (first->kind == SaslResponseKind::cancel) {
      reply(tag, "BAD AUTHENTICATE cancelled");
      return true;
    }
    if (first->kind == SaslResponseKind::error) {
      reply(tag, "NO invalid " + std::string(mail::sasl_error_text(first->error)));
      return true;
    }
    std::string user;
    std::string secret;
    if (mech == SaslMechanism::plain) {
      const auto plain = mail::parse_plain(first->data);
      if (!plain.ok()) {
        reply(tag, "NO invalid " + std::string(mail::sasl_error_text(plain.error)));
        return true;
      }
      user = plain.credentials.authcid;
      secret = plain.credentials.password;
    } else if (mech == SaslMechanism::login) {
      const auto name = mail::check_login_username(first->data);
      if (!name.ok()) {
        reply(tag, "NO invalid " + std::string(mail::sasl_error_text(name.error)));
        return true;
      }
      auto second = sasl_response(ir, mail::k_login_password_prompt);
      if (!second) {
        return false;
      }
      if (second->kind != SaslResponseKind::data) {
        reply(tag, second->kind == SaslResponseKind::cancel ? "BAD AUTHENTICATE cancelled"
                                                            : "NO invalid");
        return true;
      }
      const auto password = mail::check_login_password(second->data);
      if (!password.ok()) {
        reply(tag, "NO invalid " + std::string(mail::sasl_error_text(password.error)));
        return true;
      }
      user = name.value;
      secret = password.value;
    } else {
      const auto who = mail::oauth_user(mech, first->data);
      if (!who.ok()) {
        reply(tag, "NO invalid " + std::string(mail::sasl_error_text(who.error)));
        return true;
      }
      user = who.value;
      secret = first->data;
    }
    login(tag, user, secret);
    return false;
  }

  // session_driver.hpp do_login's checks, then the login at the mailbox.
  void login(const std::string& tag, const std::string& user, const std::string& secret) {
    if (!mail::safe_login_name(user) || user.size() > mail::k_max_sasl_login) {
      reply(tag, "NO invalid login name");
      return;
    }
    if (!mail::safe_secret(secret)) {
      reply(tag, "NO bad password");
      return;
    }
    // What goes upstream parses back to exactly the client's credentials.
    Command upstream{std::string(k_proxy_tag), "LOGIN", {}};
    upstream.args.push_back(Arg{Arg::Kind::string, user, {}});
    upstream.args.push_back(Arg{Arg::Kind::string, secret, {}});
    const std::string block = imap::format_command(upstream, true);
    if (!mail::clean_command_block(block)) {
      fail("the upstream LOGIN is not a clean command block: " + escape(block));
    }
    CommandParser check(CommandParser::Limits{});
    const auto step = check.feed(block);
    if (step.status != CommandParser::Status::command_ready || step.consumed != block.size()) {
      fail("the upstream LOGIN is not one command: " + escape(block));
    }
    const Command back = check.take();
    if (back.args.size() != 2 || back.args[0].value != user || back.args[1].value != secret) {
      fail("the upstream LOGIN carries other credentials: " + escape(block));
    }
    reply(tag, verdict());
  }

  // The mailbox's replies to the proxy's LOGIN, read to its tagged answer.
  std::string verdict() {
    imap::ResponseParser parser;
    std::string_view rest = m_upstream;
    while (true) {
      const auto step = parser.feed(rest);
      if (step.consumed > rest.size()) {
        fail("the response parser consumed more than it was given");
      }
      rest.remove_prefix(step.consumed);
      using Status = imap::ResponseParser::Status;
      if (step.status == Status::need_more) {
        if (!rest.empty()) {
          fail("the response parser held bytes back");
        }
        return "NO mailbox timed out";
      }
      if (step.status != Status::response_ready) {
        return "NO mailbox unavailable";
      }
      const imap::Response r = parser.take();
      if (r.kind == imap::Response::Kind::tagged && r.tag == k_proxy_tag) {
        return r.status == "OK" ? "OK LOGIN completed" : "NO LOGIN failed";
      }
    }
  }

  std::string_view m_input;
  std::vector<std::string_view> m_chunks;
  std::size_t m_next = 0;
  std::string_view m_upstream;
  CommandParser m_parser;
  std::string m_in;
  std::string m_recent;
  std::string m_out;
  std::size_t m_replies = 0;
  int m_bad = 0;
};

std::vector<std::string_view> cut(std::string_view s, const std::vector<std::size_t>& at) {
  std::vector<std::string_view> out;
  std::size_t from = 0;
  for (const std::size_t p : at) {
    if (p > from && p < s.size()) {
      out.push_back(s.substr(from, p - from));
      from = p;
    }
  }
  if (from < s.size()) {
    out.push_back(s.substr(from));
  }
  return out;
}

}  // namespace

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  const std::string_view input = zmproxy::testing::as_text(data, size);
  const std::size_t split = input.find(std::string_view("\0\0", 2));
  const std::string_view client = input.substr(0, split);
  const std::string_view upstream =
      split == std::string_view::npos
          ? std::string_view("* OK ready\r\nzp0123456789abcdef OK done\r\n")
          : input.substr(split + 2);

  const std::string whole = Session(input, cut(client, {}), upstream).run();
  const std::string pieces =
      Session(input, cut(client, zmproxy::testing::data_derived_cuts(client)), upstream).run();
  if (pieces != whole) {
    fuzz_failure("the session depends on how the client's bytes arrive for \"" + escape(input) +
                 "\":\n--- whole\n" + whole + "--- in pieces\n" + pieces);
  }
  if (client.size() <= 512) {
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < client.size(); ++i) {
      every.push_back(i);
    }
    if (Session(input, cut(client, every), upstream).run() != whole) {
      fuzz_failure("the session differs byte by byte for \"" + escape(input) + "\"");
    }
  }
  return 0;
}
