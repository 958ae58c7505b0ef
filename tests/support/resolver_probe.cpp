// resolver_probe: drives a RouteResolver from test scripts. Reads commands
// from stdin, one a line, and answers each with one JSON line:
//   resolve <protocol> <user> [client_ip] [proxy_ip]
//   gssapi <protocol> <principal> [authz|-] [client_ip] [proxy_ip]
//     (a GSSAPI login; the answer also has "token", the lookup's Auth-Pass)
//   invalidate <user> [proxy_ip]
//   stats
// Options: --handler host:port (repeatable), --memcached host:port
// (repeatable), --local-ttl seconds, --retry-ms n, --timeout-ms n,
// --mailbox-server host:port (repeatable), --secret s, --local-capacity n,
// --max-pending-fills n, --gssapi-admin-user name, --gssapi-admin-password pw.

#include <iostream>
#include <sstream>
#include <string>
#include <variant>

#include "lib/core/json.hpp"
#include "lib/net/asio.hpp"
#include "lib/route/route_resolver_asio.hpp"

namespace {

using namespace zmproxy;
namespace asio = net::asio;

asio::awaitable<void> run(std::shared_ptr<route::RouteResolver> resolver) {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "resolve" || cmd == "gssapi") {
      route::RouteQuery q;
      if (cmd == "gssapi") {
        in >> q.protocol >> q.gssapi_principal >> q.user;
        if (q.user == "-") {
          q.user.clear();
        }
      } else {
        in >> q.protocol >> q.user;
      }
      q.client_ip = "127.0.0.1";
      q.proxy_ip = "127.0.0.1";
      in >> q.client_ip >> q.proxy_ip;
      auto r = co_await route::resolve(resolver, q);
      resolver->wait_background();  // memcached holds the route before the test looks
      if (auto* ok = std::get_if<route::Route>(&r)) {
        const char* source = ok->source == route::Route::Source::local       ? "local"
                             : ok->source == route::Route::Source::memcached ? "memcached"
                                                                               : "handler";
        std::cout << "{\"ok\":true,\"host\":" << core::json_quote(ok->host) << ",\"port\":" << ok->port
                  << ",\"user\":" << core::json_quote(ok->user) << ",\"source\":\"" << source << "\""
                  << (ok->token.empty() ? "" : ",\"token\":" + core::json_quote(ok->token)) << "}"
                  << std::endl;
      } else {
        const auto& e = std::get<route::RouteError>(r);
        std::cout << "{\"ok\":false,\"unavailable\":" << (e.code == Errc::unavailable ? "true" : "false")
                  << ",\"message\":" << core::json_quote(e.message) << ",\"wait\":" << e.wait_seconds
                  << "}" << std::endl;
      }
    } else if (cmd == "invalidate") {
      std::string user;
      std::string proxy_ip = "127.0.0.1";
      in >> user >> proxy_ip;
      co_await route::invalidate(resolver, user, proxy_ip);
      std::cout << "{\"ok\":true}" << std::endl;
    } else if (cmd == "stats") {
      const auto s = resolver->stats();
      std::cout << "{\"local_hits\":" << s.local_hits << ",\"memcached_hits\":" << s.memcached_hits
                << ",\"handler_lookups\":" << s.handler_lookups
                << ",\"handler_failures\":" << s.handler_failures
                << ",\"memcached_errors\":" << s.memcached_errors
                << ",\"memcached_rejected\":" << s.memcached_rejected
                << ",\"fills_dropped\":" << s.fills_dropped
                << ",\"local_entries\":" << s.local_entries << "}" << std::endl;
    } else if (!cmd.empty()) {
      std::cout << "{\"error\":\"unknown command\"}" << std::endl;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  route::ResolverSettings settings;
  settings.local_ttl = std::chrono::seconds(0);
  settings.memcached.timeout = std::chrono::milliseconds(300);
  settings.connect_timeout = std::chrono::milliseconds(500);
  settings.handler_timeout = std::chrono::milliseconds(2000);
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    const std::string val = argv[i + 1];
    if (opt == "--handler") {
      settings.handlers.push_back(val);
    } else if (opt == "--memcached") {
      settings.memcached.servers.push_back(val);
    } else if (opt == "--mailbox-server") {
      settings.mailbox_servers.push_back(val);
    } else if (opt == "--secret") {
      settings.secret = val;
    } else if (opt == "--max-pending-fills") {
      settings.max_pending_fills = static_cast<std::size_t>(std::stoul(val));
    } else if (opt == "--gssapi-admin-user") {
      settings.gssapi_admin_user = val;
    } else if (opt == "--gssapi-admin-password") {
      settings.gssapi_admin_password = val;
    } else if (opt == "--local-capacity") {
      settings.local_capacity = static_cast<std::size_t>(std::stoul(val));
    } else if (opt == "--local-ttl") {
      settings.local_ttl = std::chrono::seconds(std::stoi(val));
    } else if (opt == "--retry-ms") {
      settings.retry_interval = std::chrono::milliseconds(std::stoi(val));
    } else if (opt == "--timeout-ms") {
      settings.handler_timeout = std::chrono::milliseconds(std::stoi(val));
    } else {
      std::cerr << "resolver_probe: unknown option " << opt << "\n";
      return 2;
    }
  }
  auto resolver = route::RouteResolver::create(settings);
  if (!resolver) {
    std::cerr << "resolver_probe: " << resolver.error().message << "\n";
    return 1;
  }
  asio::io_context io;
  asio::co_spawn(io, run(*resolver), [](std::exception_ptr e) {
    if (e) {
      std::rethrow_exception(e);
    }
  });
  io.run();
  return 0;
}
