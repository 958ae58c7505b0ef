#pragma once
// Test support shared by the parser unit tests and the fuzz targets: feed an
// input to a parser in given chunks, the way a session would (advance by
// `consumed`, take() what is ready, carry on), and write down everything the
// parser reports as a text transcript. Chunking invariance is then simply:
// the transcript is the same for every way of splitting the input.
//
// Standard library only (the fuzz targets are built without Catch).

#include "lib/proxy/imap/command_parser.hpp"
#include "lib/proxy/imap/response_parser.hpp"
#include "lib/proxy/mail/line_reader.hpp"
#include "lib/proxy/pop3/command_parser.hpp"
#include "lib/proxy/pop3/response_parser.hpp"

#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::testing {

inline std::string render(const proxy::imap::Arg& arg) {
  using Kind = proxy::imap::Arg::Kind;
  switch (arg.kind) {
    case Kind::atom:
      return "atom:" + escape(arg.value);
    case Kind::string:
      return "str:\"" + escape(arg.value) + "\"";
    case Kind::nil:
      return "nil:" + escape(arg.value);
    case Kind::list: {
      std::string out = "(";
      for (std::size_t i = 0; i < arg.children.size(); ++i) {
        out += (i == 0 ? "" : " ") + render(arg.children[i]);
      }
      return out + ")";
    }
  }
  return "?";
}

inline std::string render(const proxy::imap::Command& command) {
  std::string out = "[" + escape(command.tag) + "] " + escape(command.name);
  for (const proxy::imap::Arg& arg : command.args) {
    out += " " + render(arg);
  }
  return out;
}

inline std::string render(const proxy::imap::Response& r) {
  static constexpr const char* k_kinds[] = {"untagged", "continuation", "tagged"};
  return std::string(k_kinds[static_cast<int>(r.kind)]) + " [" + escape(r.tag) + "] " +
         escape(r.status) + " {" + escape(r.text) + "} raw=" + escape(r.raw);
}

inline std::string render(const proxy::pop3::Command& c) {
  std::string out = escape(c.name) + " rest={" + escape(c.rest) + "}";
  for (const std::string& a : c.args) {
    out += " <" + escape(a) + ">";
  }
  return out;
}

inline std::string render(const proxy::pop3::Response& r) {
  static constexpr const char* k_kinds[] = {"+OK", "-ERR", "+"};
  return std::string(k_kinds[static_cast<int>(r.kind)]) + " {" + escape(r.text) +
         "} raw=" + escape(r.raw);
}

// The input split at `cuts` (ascending offsets; 0, duplicates and offsets at or
// past the end are ignored).
inline std::vector<std::string_view> split_at(std::string_view input,
                                              const std::vector<std::size_t>& cuts) {
  std::vector<std::string_view> chunks;
  std::size_t from = 0;
  for (const std::size_t cut : cuts) {
    if (cut > from && cut < input.size()) {
      chunks.push_back(input.substr(from, cut - from));
      from = cut;
    }
  }
  chunks.push_back(input.substr(from));
  return chunks;
}

// What one Step means to the driver.
enum class Verdict { more, event, stop };

// The generic driver. `on_step(parser, step, end_offset, log)` appends to the
// log for an event and says what the step was. Protocol violations by the
// parser (consuming more than given, need_more with bytes left, an event that
// consumed nothing) are written into the log as "!..." and end the run.
template <class Parser, class OnStep>
std::string drive(Parser& parser,
                  std::string_view input,
                  const std::vector<std::size_t>& cuts,
                  OnStep on_step) {
  std::string log;
  std::size_t offset = 0;
  for (std::string_view rest : split_at(input, cuts)) {
    while (!rest.empty()) {
      const auto step = parser.feed(rest);
      if (step.consumed > rest.size()) {
        return log + "!consumed more than given\n";
      }
      offset += step.consumed;
      rest.remove_prefix(step.consumed);
      const Verdict verdict = on_step(parser, step, offset, log);
      if (verdict == Verdict::stop) {
        return log;
      }
      if (verdict == Verdict::more && !rest.empty()) {
        return log + "!need_more with bytes left\n";
      }
      if (verdict == Verdict::event && step.consumed == 0) {
        return log + "!event without progress\n";
      }
    }
  }
  return log + "end@" + std::to_string(offset) + "\n";
}

inline std::string imap_command_transcript(std::string_view input,
                                           const std::vector<std::size_t>& cuts,
                                           const proxy::imap::CommandParser::Limits& limits = {}) {
  using Parser = proxy::imap::CommandParser;
  Parser parser(limits);
  return drive(
      parser, input, cuts,
      [](Parser& p, const Parser::Step& step, std::size_t at, std::string& log) {
        const std::string where = "@" + std::to_string(at) + " ";
        switch (step.status) {
          case Parser::Status::need_more:
            return Verdict::more;
          case Parser::Status::need_continuation:
            log += "continue" + where + "\n";
            return Verdict::event;
          case Parser::Status::command_ready:
            log += "command" + where + render(p.take()) + "\n";
            return Verdict::event;
          case Parser::Status::invalid:
            log += "invalid" + where + std::string(step.reason) + " " + render(p.take()) + "\n";
            return Verdict::event;
          case Parser::Status::too_long:
            log += "too_long" + where + std::string(step.reason) + " " + render(p.take()) + "\n";
            return Verdict::stop;
        }
        return Verdict::stop;
      });
}

inline std::string imap_response_transcript(
    std::string_view input,
    const std::vector<std::size_t>& cuts,
    const proxy::imap::ResponseParser::Limits& limits = {}) {
  using Parser = proxy::imap::ResponseParser;
  Parser parser(limits);
  return drive(parser, input, cuts,
               [](Parser& p, const Parser::Step& step, std::size_t at, std::string& log) {
                 const std::string where = "@" + std::to_string(at) + " ";
                 switch (step.status) {
                   case Parser::Status::need_more:
                     return Verdict::more;
                   case Parser::Status::response_ready:
                     log += "response" + where + render(p.take()) + "\n";
                     return Verdict::event;
                   case Parser::Status::invalid:
                     log += "invalid" + where + std::string(step.reason) + " " + render(p.take()) +
                            "\n";
                     return Verdict::event;
                   case Parser::Status::too_long:
                     log += "too_long" + where + std::string(step.reason) + "\n";
                     return Verdict::stop;
                 }
                 return Verdict::stop;
               });
}

inline std::string pop3_command_transcript(std::string_view input,
                                           const std::vector<std::size_t>& cuts,
                                           const proxy::pop3::CommandParser::Limits& limits = {}) {
  using Parser = proxy::pop3::CommandParser;
  Parser parser(limits);
  return drive(parser, input, cuts,
               [](Parser& p, const Parser::Step& step, std::size_t at, std::string& log) {
                 const std::string where = "@" + std::to_string(at) + " ";
                 switch (step.status) {
                   case Parser::Status::need_more:
                     return Verdict::more;
                   case Parser::Status::command_ready:
                     log += "command" + where + render(p.take()) + "\n";
                     return Verdict::event;
                   case Parser::Status::invalid:
                     log += "invalid" + where + std::string(step.reason) + "\n";
                     return Verdict::event;
                   case Parser::Status::too_long:
                     log += "too_long" + where + std::string(step.reason) + "\n";
                     return Verdict::stop;
                 }
                 return Verdict::stop;
               });
}

inline std::string pop3_response_transcript(
    std::string_view input,
    const std::vector<std::size_t>& cuts,
    const proxy::pop3::ResponseParser::Limits& limits = {}) {
  using Parser = proxy::pop3::ResponseParser;
  Parser parser(limits);
  return drive(parser, input, cuts,
               [](Parser& p, const Parser::Step& step, std::size_t at, std::string& log) {
                 const std::string where = "@" + std::to_string(at) + " ";
                 switch (step.status) {
                   case Parser::Status::need_more:
                     return Verdict::more;
                   case Parser::Status::response_ready:
                     log += "response" + where + render(p.take()) + "\n";
                     return Verdict::event;
                   case Parser::Status::invalid:
                     log += "invalid" + where + std::string(step.reason) + " " + render(p.take()) +
                            "\n";
                     return Verdict::event;
                   case Parser::Status::too_long:
                     log += "too_long" + where + std::string(step.reason) + "\n";
                     return Verdict::stop;
                 }
                 return Verdict::stop;
               });
}

inline std::string line_transcript(
    std::string_view input,
    const std::vector<std::size_t>& cuts,
    std::size_t max_line = proxy::mail::LineReader::k_default_max_line) {
  using Reader = proxy::mail::LineReader;
  Reader reader(max_line);
  return drive(reader, input, cuts,
               [](Reader& r, const Reader::Step& step, std::size_t at, std::string& log) {
                 const std::string where = "@" + std::to_string(at) + " ";
                 switch (step.status) {
                   case Reader::Status::need_more:
                     return Verdict::more;
                   case Reader::Status::line_ready:
                     log += "line" + where + escape(r.take()) + "\n";
                     return Verdict::event;
                   case Reader::Status::too_long:
                     log += "too_long" + where + "\n";
                     return Verdict::stop;
                 }
                 return Verdict::stop;
               });
}

using Transcript =
    std::function<std::string(std::string_view input, const std::vector<std::size_t>& cuts)>;

// Split points derived from the data itself, for the fuzz targets: chunk
// lengths 1..17 taken from successive input bytes.
inline std::vector<std::size_t> data_derived_cuts(std::string_view input) {
  std::vector<std::size_t> cuts;
  std::size_t at = 0;
  for (std::size_t i = 0; !input.empty(); ++i) {
    at += 1 + static_cast<unsigned char>(input[i % input.size()]) % 17;
    if (at >= input.size()) {
      break;
    }
    cuts.push_back(at);
  }
  return cuts;
}

// Compares the transcript of the whole input with `variant_cuts` chunkings;
// the first difference, described, or nullopt.
inline std::optional<std::string> first_mismatch(
    const Transcript& transcript,
    std::string_view input,
    const std::vector<std::vector<std::size_t>>& variant_cuts) {
  const std::string whole = transcript(input, {});
  for (const std::vector<std::size_t>& cuts : variant_cuts) {
    const std::string other = transcript(input, cuts);
    if (other != whole) {
      std::string where;
      for (const std::size_t c : cuts) {
        where += std::to_string(c) + ",";
      }
      return "input \"" + escape(input) + "\"\nsplit at " + where + "\nwhole:\n" + whole +
             "split:\n" + other;
    }
  }
  return std::nullopt;
}

// Whole vs byte by byte vs every single split point (the unit-test check).
inline std::optional<std::string> chunking_mismatch(const Transcript& transcript,
                                                    std::string_view input) {
  std::vector<std::vector<std::size_t>> variants;
  std::vector<std::size_t> every_byte;
  for (std::size_t i = 1; i < input.size(); ++i) {
    every_byte.push_back(i);
    variants.push_back({i});
  }
  variants.push_back(every_byte);
  return first_mismatch(transcript, input, variants);
}

}  // namespace zmproxy::testing
