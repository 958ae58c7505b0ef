#include "lib/server/status.hpp"

#include "lib/core/json.hpp"

#include <fmt/format.h>

namespace zmproxy::server {

namespace {

static_assert(proxy::k_protocol_count == static_cast<std::size_t>(proxy::Protocol::certauth) + 1,
              "STATUS walks every Protocol: k_protocol_count must cover them (counters.hpp)");

// "connections":{"imap":{"accepted":1,...},...}: every counter, every protocol.
void append_counters(std::string& out, const proxy::Counters& counters) {
  out += ",\"connections\":{";
  for (std::size_t i = 0; i < proxy::k_protocol_count; ++i) {
    const auto protocol = static_cast<proxy::Protocol>(i);
    out += fmt::format("{}\"{}\":{{", i ? "," : "", proxy::protocol_name(protocol));
    const char* sep = "";
    counters.of(protocol).each([&](const char* name, const char*, std::int64_t value) {
      out += fmt::format("{}\"{}\":{}", sep, name, value);
      sep = ",";
    });
    out += "}";
  }
  out += "}";
}

}  // namespace

std::string status_json(const StatusFacts& f, const proxy::Counters& counters) {
  std::string out = "{\"running\":true";
  out += fmt::format(",\"pid\":{},\"uptime_seconds\":{},\"started\":{}", f.pid, f.now - f.started,
                     core::json_quote(core::utc_iso8601(f.started)));
  out += ",\"user\":" + core::json_quote(f.user);
  out += ",\"config_file\":" + core::json_quote(f.config_file);
  out += ",\"config_version\":" + core::json_quote(f.config_version);
  out += fmt::format(",\"generation\":{},\"reloads\":{}", f.generation, f.reloads);
  out += ",\"last_reload\":{\"result\":" + core::json_quote(f.last_reload_result) +
         ",\"message\":" + core::json_quote(f.last_reload_message) + ",\"at\":" +
         core::json_quote(f.last_reload_at ? core::utc_iso8601(f.last_reload_at) : "") + "}";
  out += ",\"listeners\":{";
  bool first = true;
  for (const auto& [protocol, address] : f.listeners) {
    out += fmt::format("{}\"{}\":{}", first ? "" : ",", protocol, core::json_quote(address));
    first = false;
  }
  out += fmt::format("}},\"memory\":{{\"heap_in_use\":{},\"heap_free\":{},\"mmapped\":{}}}",
                     f.heap_in_use, f.heap_free, f.mmapped);
  out += fmt::format(",\"throttle\":{{\"active\":{},\"unchecked\":{}}}",
                     f.throttle ? "true" : "false", f.throttle_unchecked);
  out += fmt::format(",\"gssapi\":{{\"active\":{},\"keytab\":{},\"busy\":{},\"principals\":[",
                     f.gssapi ? "true" : "false", core::json_quote(f.gssapi_keytab), f.gssapi_busy);
  for (std::size_t i = 0; i < f.gssapi_principals.size(); ++i) {
    out += (i ? "," : "") + core::json_quote(f.gssapi_principals[i]);
  }
  out += "]}";
  out += fmt::format(",\"web_upstreams\":{{\"marked_down\":{},\"down\":[", f.web_marked_down);
  for (std::size_t i = 0; i < f.web_down.size(); ++i) {
    out += fmt::format("{}{{\"address\":{},\"retry_in_seconds\":{}}}", i ? "," : "",
                       core::json_quote(f.web_down[i].first), f.web_down[i].second);
  }
  out += "]}";
  out += fmt::format(",\"ktls\":{{\"enabled\":{},\"kernel\":{},\"reason\":{}}}",
                     f.ktls ? "true" : "false", f.ktls_kernel ? "true" : "false",
                     core::json_quote(f.ktls_why));
  append_counters(out, counters);
  out +=
      fmt::format(",\"kernel_relay\":{{\"state\":{},\"reason\":{},\"sessions\":{},\"relayed\":{}}}",
                  core::json_quote(f.kernel_relay), core::json_quote(f.kernel_relay_why),
                  f.kernel_relay_sessions, f.kernel_relay_relayed);
  out += ",\"queues\":{";
  for (std::size_t i = 0; i < f.queues.size(); ++i) {
    const QueueFacts& q = f.queues[i];
    out += fmt::format("{}{}:{{\"limit\":{},\"waiting\":{},\"dropped\":{}}}", i ? "," : "",
                       core::json_quote(q.name), q.limit, q.waiting, q.dropped);
  }
  out += "}}";
  return out;
}

}  // namespace zmproxy::server
