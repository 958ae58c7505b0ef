#include "lib/net/control_socket.hpp"

#include "lib/net/asio.hpp"
#include "lib/net/control_line.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>

using namespace zmproxy;
using namespace std::chrono_literals;

namespace {

// A control socket served on its own thread for the length of a test.
struct Served {
  test::TempDir dir;
  std::filesystem::path path = dir.path() / "test.sock";
  net::asio::io_context io{1};
  std::unique_ptr<net::ControlSocket> socket;
  std::thread thread;

  explicit Served(net::ControlSocket::Handler handler) {
    auto opened = net::ControlSocket::open(io, path, std::move(handler));
    REQUIRE(opened);
    socket = std::move(*opened);
    thread = std::thread([this] { io.run(); });
  }
  ~Served() {
    io.stop();
    thread.join();
    socket.reset();  // as zmproxyd does: after its io_context stopped
  }
};

std::string echo_verb(std::string_view line) {
  if (line == "PING") {
    return "OK pong";
  }
  if (line == "STATUS") {
    return "{\"running\":true}";
  }
  return "ERROR unknown command " + std::string(line);
}

}  // namespace

TEST_CASE("parse_control_reply: OK, ERROR and JSON replies", "[net][control]") {
  auto r = net::parse_control_reply("OK generation 2 version 9");
  CHECK(r.ok);
  CHECK_FALSE(r.json);
  CHECK(r.text == "generation 2 version 9");
  r = net::parse_control_reply("OK");
  CHECK(r.ok);
  CHECK(r.text.empty());
  r = net::parse_control_reply("ERROR zmproxyd is stopping");
  CHECK_FALSE(r.ok);
  CHECK(r.text == "zmproxyd is stopping");
  r = net::parse_control_reply("{\"running\":true}");
  CHECK_FALSE(r.ok);
  CHECK(r.json);
  CHECK(r.text == "{\"running\":true}");
  r = net::parse_control_reply("OKAY");  // not "OK" followed by text
  CHECK_FALSE(r.ok);
  CHECK(r.text == "OKAY");
}

TEST_CASE("control socket: a command and its reply, both kinds", "[net][control]") {
  Served s(echo_verb);
  auto r = net::control_command(s.path, "PING", 5s);
  REQUIRE(r);
  CHECK(r->ok);
  CHECK(r->text == "pong");
  r = net::control_command(s.path, "FROB", 5s);
  REQUIRE(r);
  CHECK_FALSE(r->ok);
  CHECK(r->text == "unknown command FROB");
  r = net::control_command(s.path, "STATUS", 5s);
  REQUIRE(r);
  CHECK(r->json);
}

TEST_CASE("control socket: mode 0600, and nothing listening is 'unavailable'", "[net][control]") {
  {
    Served s(echo_verb);
    struct stat st {};
    REQUIRE(::stat(s.path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);
  }
  test::TempDir dir;
  auto r = net::control_command(dir.path() / "none.sock", "PING", 1s);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::unavailable);
}

TEST_CASE("control socket: a line over 4 KiB is refused without running", "[net][control]") {
  std::atomic<int> ran{0};
  Served s([&ran](std::string_view) {
    ++ran;
    return std::string("OK ran");
  });
  auto r = net::control_command(s.path, std::string(net::k_control_line_max + 1, 'A'), 5s);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("closed the connection without a reply"));
  CHECK(ran == 0);
  // The socket still serves the next command.
  r = net::control_command(s.path, "PING", 5s);
  REQUIRE(r);
  CHECK(r->ok);
  CHECK(ran == 1);
}
