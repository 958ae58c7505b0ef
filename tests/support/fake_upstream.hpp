#pragma once
// A scripted peer for in-process tests of the mail sessions: an IMAP or POP3
// mailbox, or a route lookup handler. It listens on 127.0.0.1 (an ephemeral
// port), takes one connection on its own thread, sends a greeting, then
// plays a script of expected lines and replies, and records every byte it
// received until the peer closes. Every wait is bounded (a read gives up
// after `timeout`), so a test that goes wrong fails instead of hanging.

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace zmproxy::test {

// One turn: read lines until one starts with `expect` (a line that does not
// is a script failure), then send `reply`, in which "{tag}" stands for the
// first word of the line read. With `then_skip_to_blank`, the lines up to
// an empty one are read too (an HTTP request's header).
struct ScriptStep {
  std::string expect;
  std::string reply;
  bool then_skip_to_blank = false;
};

class FakeUpstream {
 public:
  FakeUpstream(std::string greeting, std::vector<ScriptStep> script,
               std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~FakeUpstream();
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  unsigned short port() const { return m_port; }

  // Waits for the conversation to end (the peer closed, a script failure, or
  // the timeout), then: everything received, and what went wrong ("" if the
  // whole script was played).
  std::string received();
  std::string failure();
  // True once the conversation has ended (without waiting).
  bool done();

  // A lookup handler's reply routing every user to 127.0.0.1:`port`.
  static std::string route_reply(unsigned short port);

 private:
  void serve();
  void finish();

  std::string m_greeting;
  std::vector<ScriptStep> m_script;
  std::chrono::milliseconds m_timeout;
  int m_listen_fd = -1;
  unsigned short m_port = 0;
  std::mutex m_mutex;
  std::string m_received;
  std::string m_failure;
  bool m_done = false;
  std::thread m_thread;
};

}  // namespace zmproxy::test
