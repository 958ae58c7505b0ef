#include "lib/config/config_keys.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <unistd.h>

using namespace zmproxy::config;

namespace {

// man/zmproxy.conf.5 of the tree this test was built from: found above the
// test binary (the build tree lives in the source tree).
std::filesystem::path man_page() {
  std::error_code ec;
  auto dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  for (; !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    if (std::filesystem::exists(dir / "man" / "zmproxy.conf.5")) {
      return dir / "man" / "zmproxy.conf.5";
    }
  }
  return {};
}

// "section.key" for every `.It Cm key Pq ...` under `.Ss [section]` (and
// both sections of "[imap] and [pop3]").
std::set<std::string> documented_keys(const std::filesystem::path& page) {
  std::ifstream in(page);
  const std::regex section_name(R"(\[([a-z0-9_]+)\])");
  const std::regex key_line(R"(^\.It Cm ([a-z0-9_]+) Pq )");
  std::vector<std::string> sections;
  std::set<std::string> keys;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(".Sh ")) {
      sections.clear();
    } else if (line.starts_with(".Ss ")) {
      sections.clear();
      for (std::sregex_iterator it(line.begin(), line.end(), section_name), end; it != end; ++it) {
        sections.push_back((*it)[1]);
      }
    } else if (std::smatch m; std::regex_search(line, m, key_line)) {
      for (const std::string& s : sections) {
        keys.insert(s + "." + m[1].str());
      }
    }
  }
  return keys;
}

}  // namespace

TEST_CASE("every key of the tables is in zmproxy.conf(5), and every key there in the tables",
          "[config][keys]") {
  const auto page = man_page();
  REQUIRE_FALSE(page.empty());
  const std::set<std::string> documented = documented_keys(page);
  const std::vector<std::string> names = config_key_names();
  const std::set<std::string> known(names.begin(), names.end());
  CHECK(known.size() == names.size());  // no key twice in a table
  REQUIRE(documented.size() > 60);      // the page was read
  for (const std::string& k : known) {
    INFO("in the key table, not in man/zmproxy.conf.5: " << k);
    CHECK(documented.count(k) == 1);
  }
  for (const std::string& k : documented) {
    INFO("in man/zmproxy.conf.5, not in the key table: " << k);
    CHECK(known.count(k) == 1);
  }
}

TEST_CASE("every key of the tables is read, and an unknown one is refused", "[config][keys]") {
  for (const std::string& name : config_key_names()) {
    const auto dot = name.find('.');
    const std::string section = name.substr(0, dot);
    const std::string key = name.substr(dot + 1);
    // A value of a type no key takes: the key is read (it fails naming its type), never unknown.
    ProxyConfig c = default_config();
    auto r = read_config_text("[" + section + "]\n" + key + " = { a = 1 }\n", "z.conf", c);
    INFO(name);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::StartsWith("z.conf:2: " + name + ": expected"));
  }
  ProxyConfig c = default_config();
  auto r = read_config_text("[imap]\nport = 1143\nportt = 1\n", "z.conf", c);
  REQUIRE_FALSE(r);
  CHECK(r.error().message ==
        "z.conf:3: imap.portt: unknown key; see zmproxy.conf(5) for the keys of [imap]");
  r = read_config_text("[imapp]\n", "z.conf", c);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "z.conf:1: imapp: unknown section; see zmproxy.conf(5) for the sections");
  r = read_config_text("imap = 1\n", "z.conf", c);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "z.conf:1: imap: expected a [section]");
}

TEST_CASE("the tables read each type into its place", "[config][keys]") {
  using namespace std::chrono_literals;
  ProxyConfig c = default_config();
  auto r = read_config_text(
      "[server]\nworkers = 2\nname = \"p1\"\ndrain_timeout = \"3s\"\n"
      "[mail]\nenabled = false\n"
      "[pop3]\nstarttls = \"off\"\ncapabilities = [\"TOP\"]\n"
      "[http]\nupload_max = 0\nmode = \"mixed\"\nupstreams = [\"[::1]:8080\"]\n",
      "z.conf", c);
  REQUIRE(r);
  CHECK(c.server.workers == 2);
  CHECK(c.server.name == "p1");
  CHECK(c.server.drain_timeout == 3s);
  CHECK_FALSE(c.mail_enabled);
  CHECK(c.pop3.starttls == StartTls::off);
  CHECK(c.imap.starttls == StartTls::only);
  CHECK(c.pop3.capabilities == std::vector<std::string>{"TOP"});
  CHECK(c.http.upload_max == 0);
  CHECK(c.http.mode == "mixed");
  CHECK(c.http.upstreams == std::vector<std::string>{"[::1]:8080"});
  r = read_config_text("[imap]\nstarttls = \"maybe\"\n", "z.conf", c);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "z.conf:2: imap.starttls: expected \"on\", \"off\" or \"only\"");
}
