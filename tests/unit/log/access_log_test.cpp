#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log/access_log.hpp"
#include "tests/support/temp_dir.hpp"

using zmproxy::log::AccessLog;

namespace {
std::vector<std::string> lines_of(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) {
    out.push_back(l);
  }
  return out;
}
}  // namespace

TEST_CASE("access log: a flush writes what was gathered", "[log]") {
  zmproxy::test::TempDir dir;
  const auto file = dir.path() / "log" / "access.log";
  AccessLog log(file);
  log.write_line("first");
  log.write_line("second");
  log.flush();
  CHECK(lines_of(file) == std::vector<std::string>{"first", "second"});
}

TEST_CASE("access log: a full batch is written without waiting for the flush time", "[log]") {
  zmproxy::test::TempDir dir;
  const auto file = dir.path() / "access.log";
  AccessLog log(file, std::chrono::hours(1));  // only a full batch can be written
  const std::string line(1000, 'x');
  for (int i = 0; i < 40; ++i) {  // 40,040 bytes: more than one 32 KiB batch
    log.write_line(line);
  }
  // The log's thread writes it; this bound is against hanging, not a timing.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::error_code ec;
  while (std::filesystem::file_size(file, ec) < 32 * 1024 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a condition with a deadline
  }
  CHECK(std::filesystem::file_size(file) >= 32 * 1024);
}

TEST_CASE("access log: lines from many threads all arrive, each thread's in order", "[log]") {
  zmproxy::test::TempDir dir;
  const auto file = dir.path() / "access.log";
  constexpr int threads = 4;
  constexpr int per_thread = 5000;
  {
    AccessLog log(file);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&log, t] {
        for (int i = 0; i < per_thread; ++i) {
          log.write_line("t" + std::to_string(t) + " " + std::to_string(i));
        }
      });
    }
    for (auto& th : ts) {
      th.join();
    }
  }  // the destructor writes the rest
  std::map<int, int> next;
  const auto lines = lines_of(file);
  REQUIRE(lines.size() == static_cast<std::size_t>(threads * per_thread));
  for (const std::string& l : lines) {
    std::istringstream in(l.substr(1));
    int t = 0;
    int i = 0;
    in >> t >> i;
    CHECK(i == next[t]);
    next[t] = i + 1;
  }
}

TEST_CASE("access log: a file that does not keep up loses lines, and the log says how many", "[log]") {
  zmproxy::test::TempDir dir;
  const auto fifo = dir.path() / "access.log";  // a pipe nobody reads yet: a stuck disk
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // so the log's open does not wait
  REQUIRE(reader >= 0);
  ::fcntl(reader, F_SETFL, 0);
  // 30 MB: more than the 8 MiB pending, plus a batch being written, plus the pipe, can hold.
  constexpr int total = 300000;
  const std::string line(99, 'x');
  std::string text;
  std::thread drain;
  {
    AccessLog log(fifo);
    for (int i = 0; i < total; ++i) {
      log.write_line(line);
    }
    drain = std::thread([&] {
      char buf[65536];
      for (ssize_t n; (n = ::read(reader, buf, sizeof buf)) > 0;) {
        text.append(buf, static_cast<std::size_t>(n));
      }
    });
  }  // the log writes the rest and closes: the reader sees the end
  drain.join();
  ::close(reader);
  std::istringstream in(text);
  long kept = 0;
  long dropped = 0;
  for (std::string l; std::getline(in, l);) {
    if (l == line) {
      ++kept;
    } else {
      std::istringstream note(l);
      long n = 0;
      std::string rest;
      note >> n;
      std::getline(note, rest);
      CHECK(rest == " access log lines were dropped: the log file did not keep up");
      dropped += n;
    }
  }
  CHECK(dropped > 0);
  CHECK(kept + dropped == total);
}
