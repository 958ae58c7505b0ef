#include "lib/ctl/status_text.hpp"

namespace zmproxy::ctl {

std::string json_field(std::string_view json, std::string_view key, std::size_t from) {
  const std::string needle = "\"" + std::string(key) + "\":";
  const auto at = json.find(needle, from);
  if (at == std::string_view::npos) {
    return "";
  }
  std::size_t i = at + needle.size();
  if (i < json.size() && json[i] == '"') {
    std::string out;
    for (++i; i < json.size() && json[i] != '"'; ++i) {
      if (json[i] == '\\' && i + 1 < json.size()) {
        ++i;
      }
      out += json[i];
    }
    return out;
  }
  const auto end = json.find_first_of(",}", i);
  return std::string(json.substr(i, end - i));
}

namespace {

// "  web upstreams down: a:8080 (tried again in 287 s), ...; left out N
// time(s) since start\n", or "" when none is down. The objects of "down" as
// server/status.cpp writes them: address first, retry_in_seconds last.
std::string web_upstreams_down(std::string_view j) {
  const auto w = j.find("\"web_upstreams\":{");
  if (w == std::string_view::npos) {
    return "";
  }
  const auto list = j.find("\"down\":[", w);
  if (list == std::string_view::npos) {
    return "";
  }
  std::string names;
  std::size_t at = list + 8;
  while (at < j.size() && j[at] == '{') {
    const auto retry = j.find("\"retry_in_seconds\":", at);
    const auto end = retry == std::string_view::npos ? retry : j.find('}', retry);
    if (end == std::string_view::npos) {
      break;
    }
    names += (names.empty() ? " " : ", ") + json_field(j, "address", at) + " (tried again in " +
             json_field(j, "retry_in_seconds", at) + " s)";
    at = end + 1;
    if (at < j.size() && j[at] == ',') {
      ++at;
    }
  }
  if (names.empty()) {
    return "";
  }
  const std::string times = json_field(j, "marked_down", w);
  return "  web upstreams down:" + names + "; left out " + times + (times == "1" ? " time" : " times") +
         " since start\n";
}

// Where tls.ktls is on: what the kernel took, "  kTLS (kernel
// send/receive): imaps 3/0 ...\n", or that it cannot, and why; "" when off.
std::string ktls_line(std::string_view j, std::size_t conns) {
  const auto k = j.find("\"ktls\":{");
  if (k == std::string_view::npos) {
    return "";
  }
  if (json_field(j, "enabled", k) != "true") {
    return "";
  }
  if (json_field(j, "kernel", k) != "true") {
    return "  kTLS: on, but not available: " + json_field(j, "reason", k) + "\n";
  }
  std::string out = "  kTLS (kernel send/receive):";
  for (const char* p : {"imap", "imaps", "pop3", "pop3s", "http", "https", "admin", "certauth"}) {
    const auto at = j.find("\"" + std::string(p) + "\":{", conns);
    out += std::string(" ") + p + " " + json_field(j, "ktls_send", at) + "/" +
           json_field(j, "ktls_recv", at);
  }
  return out + "\n";
}

// "  queues (waiting/limit, dropped): access_log 0/8388608 bytes 0, ...\n",
// the objects of "queues" as server/status.cpp writes them; "" when none.
std::string queues_line(std::string_view j) {
  const auto q = j.find("\"queues\":{");
  if (q == std::string_view::npos) {
    return "";
  }
  std::string out;
  std::size_t at = q + 10;
  while (at < j.size() && j[at] == '"') {
    const auto name_end = j.find('"', at + 1);
    const auto end = name_end == std::string_view::npos ? name_end : j.find('}', name_end);
    if (end == std::string_view::npos) {
      break;
    }
    const std::string name(j.substr(at + 1, name_end - at - 1));
    out += (out.empty() ? " " : ", ") + name + " " + json_field(j, "waiting", name_end) + "/" +
           json_field(j, "limit", name_end) + (name == "access_log" ? " bytes" : "") + " " +
           json_field(j, "dropped", name_end);
    at = end + 1;
    if (at < j.size() && j[at] == ',') {
      ++at;
    }
  }
  return out.empty() ? "" : "  queues (waiting/limit, dropped):" + out + "\n";
}

}  // namespace

std::string status_text(std::string_view j, std::string_view watcher) {
  std::string out = "proxy is running.\n";
  out += "  pid " + json_field(j, "pid") + ", up " + json_field(j, "uptime_seconds") + " s since " +
         json_field(j, "started") + "\n";
  out += "  configuration " + json_field(j, "config_file") + " version " +
         json_field(j, "config_version") + ", generation " + json_field(j, "generation") + "\n";
  const auto lr = j.find("\"last_reload\":");
  out += "  last reload: " + json_field(j, "result", lr) + " at " + json_field(j, "at", lr);
  if (const std::string m = json_field(j, "message", lr); !m.empty()) {
    out += ": " + m;
  }
  out += "\n  connections (active/accepted):";
  const auto conns = j.find("\"connections\":");
  for (const char* p : {"imap", "imaps", "pop3", "pop3s", "http", "https", "admin", "certauth"}) {
    const auto at = j.find("\"" + std::string(p) + "\":{", conns);
    out += std::string(" ") + p + " " + json_field(j, "active", at) + "/" + json_field(j, "accepted", at);
  }
  out += "\n  logins (accepted/refused):";
  for (const char* p : {"imap", "imaps", "pop3", "pop3s"}) {
    const auto at = j.find("\"" + std::string(p) + "\":{", conns);
    out += std::string(" ") + p + " " + json_field(j, "logins", at) + "/" +
           json_field(j, "login_failures", at);
  }
  out += "\n  throttled:";
  for (const char* p : {"imap", "imaps", "pop3", "pop3s", "http", "https"}) {
    const auto at = j.find("\"" + std::string(p) + "\":{", conns);
    out += std::string(" ") + p + " " + json_field(j, "throttled", at);
  }
  out += "\n";
  std::string refused;
  for (const char* p : {"imap", "imaps", "pop3", "pop3s", "http", "https", "admin", "certauth"}) {
    const auto at = j.find("\"" + std::string(p) + "\":{", conns);
    if (const std::string n = json_field(j, "proxy_refused", at); !n.empty() && n != "0") {
      refused += std::string(" ") + p + " " + n;
    }
  }
  if (!refused.empty()) {
    out += "  refused for their PROXY header:" + refused + "\n";
  }
  std::string busy;
  for (const char* p : {"imap", "imaps", "pop3", "pop3s", "http", "https", "admin", "certauth"}) {
    const auto at = j.find("\"" + std::string(p) + "\":{", conns);
    if (const std::string n = json_field(j, "worker_refused", at); !n.empty() && n != "0") {
      busy += std::string(" ") + p + " " + n;
    }
  }
  if (!busy.empty()) {
    out += "  refused over server.worker_connections:" + busy + "\n";
  }
  out += queues_line(j);
  out += web_upstreams_down(j);
  out += ktls_line(j, conns);
  if (const auto g = j.find("\"gssapi\":{"); g != std::string_view::npos && json_field(j, "active", g) == "true") {
    out += "  gssapi: keytab " + json_field(j, "keytab", g) + ", principals";
    const auto list = j.find("\"principals\":[", g);
    const auto end = list == std::string_view::npos ? list : j.find(']', list);
    for (auto q = j.find('"', list + 14); q != std::string_view::npos && q < end; q = j.find('"', q + 1)) {
      const auto close = j.find('"', q + 1);
      out += " " + std::string(j.substr(q + 1, close - q - 1));
      q = close;
    }
    out += "\n";
  }
  if (!watcher.empty()) {
    out += "  last configuration change: " + json_field(watcher, "result") + " by " +
           json_field(watcher, "by") + " at " + json_field(watcher, "at");
    if (const std::string m = json_field(watcher, "message"); !m.empty()) {
      out += ": " + m;
    }
    out += "\n";
  }
  return out;
}

}  // namespace zmproxy::ctl
