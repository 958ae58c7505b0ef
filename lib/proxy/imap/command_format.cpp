// Writing IMAP commands and ID lists: quoting, literals, the ID fields a
// client sent (the formatting half of command_parser.hpp).
#include <algorithm>
#include <utility>

#include "lib/proxy/imap/command_parser.hpp"
#include "lib/proxy/imap/imap_chars.hpp"

namespace zmproxy::proxy::imap {

std::string quote_imap(std::string_view value, bool literal_plus) {
  constexpr std::size_t k_max_quoted = 1024;
  bool quotable = value.size() <= k_max_quoted;
  for (std::size_t i = 0; quotable && i < value.size(); ++i) {
    const auto u = static_cast<unsigned char>(value[i]);
    quotable = u != 0 && u < 0x80 && u != '\r' && u != '\n';
  }
  std::string out;
  if (quotable) {
    out.reserve(value.size() + 2);
    out.push_back('"');
    for (const char c : value) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
      }
      out.push_back(c);
    }
    out.push_back('"');
    return out;
  }
  out.push_back('{');
  out.append(std::to_string(value.size()));
  out.append(literal_plus ? "+}\r\n" : "}\r\n");
  out.append(value);
  return out;
}

namespace {

void format_arg(const Arg& arg, bool literal_plus, std::string& out) {
  switch (arg.kind) {
    case Arg::Kind::atom:
    case Arg::Kind::nil:
      if (!arg.value.empty() && std::all_of(arg.value.begin(), arg.value.end(), is_atom_char) &&
          (arg.kind == Arg::Kind::nil) == is_nil(arg.value)) {
        out.append(arg.value);
        return;
      }
      out.append(quote_imap(arg.value, literal_plus));
      return;
    case Arg::Kind::string:
      out.append(quote_imap(arg.value, literal_plus));
      return;
    case Arg::Kind::list:
      out.push_back('(');
      for (std::size_t i = 0; i < arg.children.size(); ++i) {
        if (i != 0) {
          out.push_back(' ');
        }
        format_arg(arg.children[i], literal_plus, out);
      }
      out.push_back(')');
      return;
  }
}

}  // namespace

std::string format_command(const Command& command, bool literal_plus) {
  std::string out = command.tag;
  out.push_back(' ');
  out.append(command.name);
  for (const Arg& arg : command.args) {
    out.push_back(' ');
    format_arg(arg, literal_plus, out);
  }
  out.append("\r\n");
  return out;
}

std::optional<std::string_view> astring_value(const Arg& arg) {
  if (arg.kind == Arg::Kind::list) {
    return std::nullopt;
  }
  return std::string_view(arg.value);
}

std::optional<std::vector<IdField>> id_fields(const Arg& arg) {
  constexpr std::size_t k_max_pairs = 30;
  constexpr std::size_t k_max_name = 30;
  constexpr std::size_t k_max_value = 1024;
  std::vector<IdField> fields;
  if (arg.kind == Arg::Kind::nil) {
    return fields;
  }
  if (arg.kind != Arg::Kind::list || arg.children.size() % 2 != 0 ||
      arg.children.size() > 2 * k_max_pairs) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < arg.children.size(); i += 2) {
    const Arg& name = arg.children[i];
    const Arg& value = arg.children[i + 1];
    if ((name.kind != Arg::Kind::string && name.kind != Arg::Kind::atom) || name.value.empty() ||
        name.value.size() > k_max_name) {
      return std::nullopt;
    }
    IdField field;
    field.name = name.value;
    if (value.kind == Arg::Kind::list || value.value.size() > k_max_value) {
      return std::nullopt;
    }
    if (value.kind != Arg::Kind::nil) {
      field.value = value.value;
    }
    fields.push_back(std::move(field));
  }
  return fields;
}

std::string format_id_fields(const std::vector<IdField>& fields) {
  if (fields.empty()) {
    return "NIL";
  }
  std::string out = "(";
  for (const IdField& field : fields) {
    if (out.size() > 1) {
      out.push_back(' ');
    }
    out.append(quote_imap(field.name));
    out.push_back(' ');
    out.append(field.value ? quote_imap(*field.value) : std::string("NIL"));
  }
  out.push_back(')');
  return out;
}

}  // namespace zmproxy::proxy::imap
