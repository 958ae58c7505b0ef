#include "lib/schema/registry.hpp"

#include "lib/core/strings.hpp"

#include <algorithm>

namespace zmproxy::schema {

namespace {
#include "lib/schema/attributes.inc"

int icompare(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const char x = core::ascii_lower(a[i]);
    const char y = core::ascii_lower(b[i]);
    if (x != y) {
      return x < y ? -1 : 1;
    }
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}
}  // namespace

std::span<const Attribute> all() noexcept {
  return k_attributes;
}

const Attribute* find(std::string_view name) noexcept {
  const auto it = std::lower_bound(
      std::begin(k_attributes), std::end(k_attributes), name,
      [](const Attribute& a, std::string_view n) { return icompare(a.name, n) < 0; });
  if (it != std::end(k_attributes) && icompare(it->name, name) == 0) {
    return &*it;
  }
  return nullptr;
}

std::string_view suggest(std::string_view unknown) {
  std::string_view best;
  std::size_t best_distance = std::max<std::size_t>(2, unknown.size() / 10) + 1;
  for (const Attribute& a : k_attributes) {
    const std::size_t d = core::edit_distance(a.name, unknown);
    if (d < best_distance) {
      best_distance = d;
      best = a.name;
    }
  }
  return best;
}

std::string_view type_name(Type t) noexcept {
  switch (t) {
    case Type::boolean:
      return "boolean";
    case Type::integer:
      return "integer";
    case Type::long_integer:
      return "long";
    case Type::port:
      return "port";
    case Type::duration:
      return "duration";
    case Type::enumeration:
      return "enum";
    case Type::string:
      return "string";
    case Type::astring:
      return "astring";
    case Type::email:
      return "email";
    case Type::id:
      return "id";
    case Type::binary:
      return "binary";
    case Type::pem:
      return "pem";
  }
  return "?";
}

std::string_view kind_name(Kind k) noexcept {
  switch (k) {
    case Kind::global:
      return "globalConfig";
    case Kind::server:
      return "server";
    case Kind::domain:
      return "domain";
    case Kind::account:
      return "account";
  }
  return "?";
}

std::string_view change_name(Change c) noexcept {
  switch (c) {
    case Change::none:
      return "none";
    case Change::reload:
      return "reload";
    case Change::rebind:
      return "rebind";
    case Change::restart:
      return "restart";
  }
  return "?";
}

std::optional<Kind> parse_kind(std::string_view name) noexcept {
  for (Kind k : {Kind::global, Kind::server, Kind::domain, Kind::account}) {
    if (core::iequals(name, kind_name(k))) {
      return k;
    }
  }
  if (core::iequals(name, "global") || core::iequals(name, "config")) {
    return Kind::global;
  }
  return std::nullopt;
}

std::string kinds_text(KindSet kinds) {
  std::string out;
  for (Kind k : {Kind::global, Kind::server, Kind::domain, Kind::account}) {
    if ((kinds & static_cast<KindSet>(k)) != 0) {
      if (!out.empty()) {
        out += ", ";
      }
      out += kind_name(k);
    }
  }
  return out;
}

}  // namespace zmproxy::schema
