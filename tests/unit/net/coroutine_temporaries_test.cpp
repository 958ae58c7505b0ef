// The compiler's side of the co_await rule in
// lib/proxy/mail/session_driver.hpp: a class value for a coroutine is named
// before co_await, never built inside the co_await expression.
//
// Debian 12's GCC 12.2 destroys a class temporary made inside `co_await f(...)`
// twice when it is an aggregate built in braces (`f(Login{...})`, `f({...})`)
// or a lambda with captures converted to a std::function parameter, at -O0
// and -O2 alike. With a std::string member that is the double free that
// crashed zmproxyd after every login. This is GCC PR 100611
// (https://gcc.gnu.org/bugzilla/show_bug.cgi?id=100611: temporaries whose
// compiler-generated constructors bind references to prvalues in a co_await
// expression). `co_await (c ? a() : b())` on Asio awaitables reads and writes
// freed frame memory on the same compiler; it cannot be run here.
//
// The first tests run the named forms the code uses and must pass on every
// compiler. The last two run the miscompiled forms with a counting type that
// owns no memory (an extra destructor is a count, not a crash): on GCC < 13
// they are expected to fail ([!shouldfail]: if they start passing, the
// compiler was fixed and the rule can be revisited); elsewhere they must pass,
// so a compiler or flags change that brings the bug back is caught.

#include "lib/net/asio.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <utility>

using namespace zmproxy;
namespace asio = net::asio;

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#define ZMPROXY_GCC_PR100611 "[!shouldfail]"
#else
#define ZMPROXY_GCC_PR100611 ""
#endif

namespace {

// Counts constructions and destructions; owns nothing, so a double
// destruction is observable instead of fatal.
struct Tally {
  int constructed = 0;
  int destroyed = 0;
};
Tally tally;

struct Probe {
  int value = 0;
  explicit Probe(int v) : value(v) { ++tally.constructed; }
  Probe(const Probe& o) : value(o.value) { ++tally.constructed; }
  Probe(Probe&& o) noexcept : value(o.value) { ++tally.constructed; }
  Probe& operator=(const Probe&) = default;
  Probe& operator=(Probe&&) = default;
  ~Probe() {
    ++tally.destroyed;
    value = -1;
  }
};

// An aggregate like a login request.
struct Request {
  Probe user;
  int n = 0;
};

using Call = std::function<int()>;

// A real suspension: the coroutine resumes from the io_context.
asio::awaitable<void> yield() {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(std::chrono::milliseconds(0));
  co_await t.async_wait(asio::use_awaitable);
}

asio::awaitable<int> take(Request r) {
  co_await yield();
  co_return r.user.value * 10 + r.n;
}

asio::awaitable<int> call(Call f) {
  co_await yield();
  co_return f();
}

asio::awaitable<int> one() { co_return 1; }
asio::awaitable<int> two() { co_return 2; }

// Runs `body` on an io_context and returns what it produced.
template <class Body>
int run(Body body) {
  tally = {};
  asio::io_context io;
  int result = 0;
  asio::co_spawn(io, body(), [&](std::exception_ptr e, int r) {
    REQUIRE(!e);
    result = r;
  });
  io.run();
  return result;
}

}  // namespace

TEST_CASE("a request named before co_await arrives intact and is destroyed once", "[net][coroutine]") {
  const int r = run([]() -> asio::awaitable<int> {
    Request request{Probe(7), 3};
    co_return co_await take(std::move(request));
  });
  CHECK(r == 73);
  CHECK(tally.constructed == tally.destroyed);
}

TEST_CASE("a std::function named before co_await keeps its captures", "[net][coroutine]") {
  const int r = run([]() -> asio::awaitable<int> {
    Probe captured(5);
    Call f = [captured] { return captured.value; };
    co_return co_await call(std::move(f));
  });
  CHECK(r == 5);
  CHECK(tally.constructed == tally.destroyed);
}

TEST_CASE("an awaitable chosen by ?: and named before co_await runs the chosen one", "[net][coroutine]") {
  bool first = true;
  for (int i = 0; i < 2; ++i) {
    const int r = run([first]() -> asio::awaitable<int> {
      asio::awaitable<int> chosen = first ? one() : two();
      co_return co_await std::move(chosen);
    });
    CHECK(r == (first ? 1 : 2));
    first = false;
  }
}

TEST_CASE("a braced request built inside co_await is destroyed once (GCC PR 100611)",
          "[net][coroutine]" ZMPROXY_GCC_PR100611) {
  const int r = run([]() -> asio::awaitable<int> { co_return co_await take(Request{Probe(7), 3}); });
  CHECK(r == 73);
  CHECK(tally.constructed == tally.destroyed);
}

TEST_CASE("a capturing lambda converted inside co_await is destroyed once (GCC PR 100611)",
          "[net][coroutine]" ZMPROXY_GCC_PR100611) {
  const int r = run([]() -> asio::awaitable<int> {
    const Probe captured(5);
    co_return co_await call([captured] { return captured.value; });
  });
  CHECK(r == 5);
  CHECK(tally.constructed == tally.destroyed);
}
