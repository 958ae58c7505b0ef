#include "lib/provisioning/ldif.hpp"

#include <algorithm>

#include "lib/core/base64.hpp"
#include "lib/core/strings.hpp"

namespace zmproxy::provisioning {

namespace {

// RFC 2849 SAFE-STRING: no NUL, CR, LF, no byte >= 0x80, no leading space,
// colon or '<', and (for slapadd's sake) no trailing space.
bool is_safe(std::string_view v) {
  if (v.empty()) {
    return true;
  }
  if (v.front() == ' ' || v.front() == ':' || v.front() == '<' || v.back() == ' ') {
    return false;
  }
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0 || c == '\r' || c == '\n' || u >= 0x80) {
      return false;
    }
  }
  return true;
}

void append_line(std::string& out, std::string_view name, std::string_view value) {
  std::string line(name);
  if (is_safe(value)) {
    line += ": ";
    line += value;
  } else {
    line += ":: ";
    line += core::base64_encode(value);
  }
  // Fold at 76 columns: continuation lines start with one space.
  constexpr std::size_t k_width = 76;
  std::size_t pos = 0;
  bool first = true;
  while (pos < line.size()) {
    const std::size_t take = first ? k_width : k_width - 1;
    if (!first) {
      out += ' ';
    }
    out.append(line, pos, take);
    out += '\n';
    pos += take;
    first = false;
  }
}

struct Parser {
  std::string_view text;
  std::string_view source;
  std::size_t pos = 0;
  std::size_t line_no = 0;

  tl::unexpected<Error> error(std::size_t line, const std::string& what) const {
    return fail(Errc::parse_error, std::string(source) + ":" + std::to_string(line) + ": " + what);
  }

  // Next physical line without its terminator; false at end.
  bool next_line(std::string_view& line) {
    if (pos >= text.size()) {
      return false;
    }
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    pos = end + 1;
    ++line_no;
    return true;
  }

  bool peek_continuation() const { return pos < text.size() && text[pos] == ' '; }
};

}  // namespace

void append_ldif(std::string& out, const Entry& entry) {
  append_line(out, "dn", entry.dn);
  if (const Values* oc = entry.values("objectClass")) {
    for (const std::string& v : *oc) {
      append_line(out, "objectClass", v);
    }
  }
  for (const auto& [name, values] : entry.attrs) {
    if (core::iequals(name, "objectClass")) {
      continue;
    }
    for (const std::string& v : values) {
      append_line(out, name, v);
    }
  }
  out += '\n';
}

namespace {
Result<std::vector<Entry>> parse_from(std::string_view text, std::string_view source,
                                      std::size_t first_line) {
  Parser p{text, source, 0, first_line - 1};
  std::vector<Entry> entries;
  Entry cur;
  bool in_record = false;
  std::string_view raw;
  while (p.next_line(raw)) {
    const std::size_t start_line = p.line_no;
    if (raw.empty()) {
      if (in_record) {
        entries.push_back(std::move(cur));
        cur = Entry{};
        in_record = false;
      }
      continue;
    }
    if (raw.front() == '#') {
      while (p.peek_continuation()) {
        p.next_line(raw);
      }
      continue;
    }
    if (raw.front() == ' ') {
      return p.error(start_line, "a continuation line with nothing to continue");
    }
    std::string line(raw);
    while (p.peek_continuation()) {
      std::string_view cont;
      p.next_line(cont);
      line.append(cont.substr(1));
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      return p.error(start_line, "expected 'attribute: value'");
    }
    const std::string name = line.substr(0, colon);
    // A control byte in a name (which append_ldif writes as it is) could end
    // up before a fold and read back as a CR LF: found by
    // tests/fuzz/ldif_fuzz.cpp (corpus/ldif/control_in_attribute_name).
    if (std::any_of(name.begin(), name.end(), [](char c) {
          const auto u = static_cast<unsigned char>(c);
          return u < 0x20 || u == 0x7f;
        })) {
      return p.error(start_line, "a control character in an attribute name");
    }
    std::string value;
    std::size_t v = colon + 1;
    if (v < line.size() && line[v] == ':') {
      ++v;
      while (v < line.size() && line[v] == ' ') {
        ++v;
      }
      auto decoded = core::base64_decode(line.substr(v));
      if (!decoded) {
        return p.error(start_line, "invalid base64 value of " + name);
      }
      value = std::move(*decoded);
    } else if (v < line.size() && line[v] == '<') {
      return p.error(start_line, "URL values (attr:< url) are not supported");
    } else {
      while (v < line.size() && line[v] == ' ') {
        ++v;
      }
      value = line.substr(v);
    }
    if (!in_record) {
      if (core::iequals(name, "version")) {
        continue;
      }
      if (!core::iequals(name, "dn")) {
        return p.error(start_line, "a record must start with 'dn:'");
      }
      if (value.empty()) {
        return p.error(start_line, "empty dn");
      }
      cur.dn = std::move(value);
      in_record = true;
      continue;
    }
    if (core::iequals(name, "dn") || core::iequals(name, "changetype")) {
      return p.error(start_line, "unexpected '" + name + ":' inside a record (missing blank line?)");
    }
    cur.attrs[name].push_back(std::move(value));
  }
  if (in_record) {
    entries.push_back(std::move(cur));
  }
  return entries;
}

}  // namespace

Result<std::vector<Entry>> parse_ldif(std::string_view text, std::string_view source) {
  return parse_from(text, source, 1);
}

Result<Entry> parse_ldif_record(std::string_view text, std::string_view source,
                                std::size_t first_line) {
  auto entries = parse_from(text, source, first_line);
  if (!entries) {
    return tl::unexpected(entries.error());
  }
  if (entries->size() != 1) {
    return fail(Errc::parse_error, std::string(source) + ":" + std::to_string(first_line) +
                                       ": expected one record");
  }
  return std::move(entries->front());
}

std::size_t ldif_line_at(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<std::size_t>(
                 std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

namespace {

// The end of the line that starts at `pos`: the offset of its '\n', or the text's end.
std::size_t line_end(std::string_view text, std::size_t pos) {
  const std::size_t e = text.find('\n', pos);
  return e == std::string_view::npos ? text.size() : e;
}

// The line at [pos, end) without its CR.
std::string_view line_at(std::string_view text, std::size_t pos, std::size_t end) {
  std::string_view l = text.substr(pos, end - pos);
  if (!l.empty() && l.back() == '\r') {
    l.remove_suffix(1);
  }
  return l;
}

tl::unexpected<Error> index_error(std::string_view text, std::string_view source, std::size_t pos,
                                  std::string_view what) {
  return fail(Errc::parse_error, std::string(source) + ":" +
                                     std::to_string(ldif_line_at(text, pos)) + ": " +
                                     std::string(what));
}

// Where the record whose lines after the dn line start at `from` ends: the
// offset of the blank line after it, or the text's end.
std::size_t record_end(std::string_view text, std::size_t from, bool has_cr) {
  if (!has_cr) {
    // `from` follows the dn line's newline: a blank line is a "\n\n" from there on.
    if (from == 0 || from > text.size()) {
      return text.size();
    }
    const std::size_t q = text.find("\n\n", from - 1);  // memchr for each '\n': fast
    return q == std::string_view::npos ? text.size() : q + 1;
  }
  for (std::size_t q = from; q < text.size();) {
    const std::size_t e = line_end(text, q);
    if (line_at(text, q, e).empty()) {
      return q;
    }
    q = e + 1;
  }
  return text.size();
}

}  // namespace

Result<void> index_ldif(std::string_view text, std::string_view source,
                        const LdifRecordSink& on_record) {
  const bool has_cr = text.find('\r') != std::string_view::npos;
  std::string unfolded;  // a folded dn line, joined
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = line_end(text, pos);
    const std::size_t next = end == text.size() ? end : end + 1;
    const std::string_view l = line_at(text, pos, end);
    if (l.empty() || l.front() == '#' || l.front() == ' ') {
      pos = next;
      continue;
    }
    // The line and its continuation lines (a fold may split even "dn:" or
    // "version:": corpus/ldif/fold_inside_dn_keyword, fold_inside_version).
    std::size_t dn_end = next;
    while (dn_end < text.size() && text[dn_end] == ' ') {
      const std::size_t e = line_end(text, dn_end);
      dn_end = e == text.size() ? e : e + 1;
    }
    std::string_view full = l;  // the dn line, unfolded
    if (dn_end != next) {
      unfolded.assign(l);
      for (std::size_t q = next; q < dn_end;) {
        const std::size_t e = line_end(text, q);
        unfolded.append(line_at(text, q, e).substr(1));
        q = e == text.size() ? e : e + 1;
      }
      full = unfolded;
    }
    if (core::istarts_with(full, "version:")) {
      pos = dn_end;
      continue;
    }
    if (!core::istarts_with(full, "dn:")) {
      return index_error(text, source, pos, "a record must start with 'dn:'");
    }
    std::string_view dn;
    std::string decoded;  // a base64 dn
    if (full.size() > 3 && (full[3] == ':' || full[3] == '<')) {
      const std::string_view head = text.substr(pos, dn_end - pos);
      auto parsed = parse_from(head, source, 1);
      if (!parsed) {  // again, for the error's line number
        auto again = parse_from(head, source, ldif_line_at(text, pos));
        return tl::unexpected(again ? parsed.error() : again.error());
      }
      decoded = std::move(parsed->front().dn);
      dn = decoded;
    } else {
      dn = full.substr(3);
      while (!dn.empty() && dn.front() == ' ') {
        dn.remove_prefix(1);
      }
      if (dn.empty()) {
        return index_error(text, source, pos, "empty dn");
      }
    }
    const std::size_t stop = record_end(text, dn_end, has_cr);
    on_record(dn, pos, stop - pos);
    pos = stop == text.size() ? stop : line_end(text, stop) + 1;
  }
  return {};
}

}  // namespace zmproxy::provisioning
