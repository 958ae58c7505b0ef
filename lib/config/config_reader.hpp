#pragma once
// Reading one value of conf/zmproxy.conf into its typed place: the pieces the
// key tables (config_keys.cpp) are made of. The first error wins and is one
// line: "<file>:<line>: <section.key>: <what is allowed>". Include only from
// lib/config/*.cpp (it brings toml++).

#include "lib/core/toml.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace zmproxy::config {

class Reader {
 public:
  explicit Reader(std::string file) : m_file(std::move(file)) {}

  // Records the first failure only; always false.
  bool fail_at(const toml::node& n, const std::string& key, const std::string& what);
  const std::string& error() const noexcept { return m_error; }

  // The value of `n` into `out`, or a failure naming `key` and the type
  // wanted; `out` keeps its value on a failure. Each returns whether it read.
  bool read(const toml::node& n, const std::string& key, bool& out);
  bool read(const toml::node& n, const std::string& key, int& out);  // 0..1000000
  bool read(const toml::node& n, const std::string& key, std::string& out);
  bool read(const toml::node& n, const std::string& key, std::vector<std::string>& out);
  bool read(const toml::node& n, const std::string& key, std::chrono::milliseconds& out);
  // A count of 0 or more (bytes, bytes a second); `what` is the failure text.
  bool read_count(const toml::node& n, const std::string& key, std::int64_t& out,
                  const char* what);

 private:
  std::string m_file;
  std::string m_error;
};

}  // namespace zmproxy::config
