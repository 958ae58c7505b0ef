#pragma once
// What every fuzz target uses, standard library only: the input as text, a
// failure that aborts (so that libFuzzer and the GCC corpus replay report
// it) and bytes made printable for its message.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace zmproxy::testing {

// Bytes made printable: \r \n \0 \\ and \xHH for the rest outside 0x20-0x7E.
inline std::string escape(std::string_view bytes) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += k_hex[u >> 4];
      out += k_hex[u & 15];
    }
  }
  return out;
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return size == 0 ? std::string_view()
                   : std::string_view(reinterpret_cast<const char*>(data), size);
}

[[noreturn]] inline void fuzz_failure(const std::string& what) {
  std::fprintf(stderr, "fuzz check failed:\n%s\n", what.c_str());
  std::abort();
}

// Aborts with `what` and the input when `ok` is false.
inline void fuzz_expect(bool ok, std::string_view what, std::string_view input) {
  if (!ok) {
    fuzz_failure(std::string(what) + " for \"" + escape(input) + "\"");
  }
}

}  // namespace zmproxy::testing
