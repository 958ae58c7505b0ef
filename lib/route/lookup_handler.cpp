#include "lib/route/lookup_handler.hpp"

#include "lib/core/address.hpp"
#include "lib/core/duration.hpp"
#include "lib/core/strings.hpp"
#include "lib/net/address_block.hpp"
#include "lib/provisioning/filter.hpp"
#include "lib/schema/value.hpp"

#include <charconv>
#include <cstdint>
#include <optional>

namespace zmproxy::route {

namespace {

constexpr std::string_view k_default_mail_host_query =
    "(|(zimbraMailDeliveryAddress=${USER})(zimbraMailAlias=${USER})(zimbraId=${USER}))";
constexpr std::string_view k_default_port_query =
    "(&(zimbraServiceHostname=${MAILHOST})(objectClass=zimbraServer))";
constexpr std::string_view k_default_domain_query =
    "(&(zimbraVirtualIPAddress=${IPADDR})(objectClass=zimbraDomain))";

std::string substitute(std::string_view tmpl, std::string_view var, std::string_view value) {
  std::string out(tmpl);
  const std::string key = "${" + std::string(var) + "}";
  const std::string escaped = provisioning::escape_filter_value(value);
  for (std::size_t pos = out.find(key); pos != std::string::npos;
       pos = out.find(key, pos + escaped.size())) {
    out.replace(pos, key.size(), escaped);
  }
  return out;
}

struct Context {
  const LookupRequest& req;
  const RouteIndex& index;
  int wait;

  LookupAnswer error(std::string text) const {
    return LookupAnswer{LookupResponse::error(std::move(text), wait)};
  }

  const Entry* find_account(const std::string& user) const {
    const std::string q = index.global_value("zimbraReverseProxyMailHostQuery");
    if (q.empty() || q == k_default_mail_host_query) {
      const Entry* a = index.account_by_address(user);
      return a != nullptr ? a : index.account_by_id(user);
    }
    const auto found = index.search(index.accounts(), substitute(q, "USER", user));
    return found.empty() ? nullptr : found.front();
  }

  const Entry* find_server(const std::string& mail_host) const {
    const std::string q = index.global_value("zimbraReverseProxyPortQuery");
    if (q.empty() || q == k_default_port_query) {
      return index.server_by_service_hostname(mail_host);
    }
    const auto found = index.search(index.servers(), substitute(q, "MAILHOST", mail_host));
    return found.empty() ? nullptr : found.front();
  }

  const Entry* domain_for_proxy_ip(const std::string& ip) const {
    const std::string q = index.global_value("zimbraReverseProxyDomainNameQuery");
    if (q.empty() || q == k_default_domain_query) {
      return index.domain_by_virtual_ip(ip);
    }
    const auto found = index.search(index.domains(), substitute(q, "IPADDR", ip));
    return found.empty() ? nullptr : found.front();
  }
};

std::string strip_port(std::string_view host) { return std::string(core::host_part(host)); }

// The port attribute named by the indirection for this protocol and type.
std::string port_attribute(const LookupRequest& req, const RouteIndex& index) {
  const std::string& p = req.protocol;
  if (p == "pop3") return index.global_value("zimbraReverseProxyPop3PortAttribute");
  if (p == "pop3ssl") return index.global_value("zimbraReverseProxyPop3SSLPortAttribute");
  if (p == "imap") return index.global_value("zimbraReverseProxyImapPortAttribute");
  if (p == "imapssl") return index.global_value("zimbraReverseProxyImapSSLPortAttribute");
  if (p == "http") return index.global_value("zimbraReverseProxyHttpPortAttribute");
  if (req.admin) return index.global_value("zimbraReverseProxyAdminPortAttribute");
  return index.global_value("zimbraReverseProxyHttpSSLPortAttribute");
}

int to_port(std::string_view v) {
  int n = 0;
  v = core::trim(v);
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  return (ec == std::errc() && p == v.data() + v.size() && n > 0 && n <= 65535) ? n : 0;
}

// External route attributes for a mail protocol: zimbraExternalImapHostname...
std::pair<std::string, int> external_route(const std::string& protocol, const Entry* account,
                                           const Entry* domain) {
  std::string stem;
  if (protocol == "imap") stem = "zimbraExternalImap";
  if (protocol == "imapssl") stem = "zimbraExternalImapSSL";
  if (protocol == "pop3") stem = "zimbraExternalPop3";
  if (protocol == "pop3ssl") stem = "zimbraExternalPop3SSL";
  for (const Entry* e : {account, domain}) {
    if (e == nullptr) {
      continue;
    }
    const std::string host = e->first(stem + "Hostname");
    const int port = to_port(e->first(stem + "Port"));
    if (!host.empty() && port != 0) {
      return {host, port};
    }
  }
  return {"", 0};
}

bool is_true(const Entry* e, std::string_view attr) {
  return e != nullptr && schema::is_true(e->first(attr));
}

const Entry& or_none(const Entry* e) {
  static const Entry k_no_entry;
  return e != nullptr ? *e : k_no_entry;
}

// An OK answer routing to host:port as `user`.
LookupAnswer route_to(std::string host, int port, std::string user) {
  return LookupAnswer{LookupResponse::route(std::move(host), port, std::move(user))};
}

// Requests refused before any lookup: protocols and methods this handler
// does not serve, and no user.
std::optional<LookupAnswer> refuse_request(const Context& ctx) {
  const LookupRequest& req = ctx.req;
  if (!is_known_protocol(req.protocol)) {
    return ctx.error("unsupported protocol: " + req.protocol);
  }
  if (req.method == "gssapi" || req.method == "certauth") {
    return ctx.error(req.method + " lookups are not supported by this handler");
  }
  if (req.user.empty()) {
    return ctx.error("missing header field Auth-User");
  }
  return std::nullopt;
}

// The account a lookup names, or the answer that ends it without one.
struct Found {
  const Entry* account = nullptr;
  std::optional<LookupAnswer> answer;
};

Found find_by_id(const Context& ctx) {
  const Entry* account = ctx.index.account_by_id(core::to_lower(ctx.req.user));
  if (account == nullptr) {
    return {nullptr, ctx.error("account not found:" + ctx.req.user)};
  }
  return {account, std::nullopt};
}

// A bare name gets the domain of the web request's virtual host or of the
// proxy's address, else the default domain.
std::string qualify(const Context& ctx, std::string user) {
  if (user.find('@') != std::string::npos) {
    return user;
  }
  const LookupRequest& req = ctx.req;
  const Entry* domain = nullptr;
  if (is_web_protocol(req.protocol)) {
    domain = ctx.index.domain_by_virtual_host(strip_port(req.proxy_host));
  } else if (!req.proxy_ip.empty()) {
    domain = ctx.domain_for_proxy_ip(req.proxy_ip);
  }
  const std::string domain_name = domain != nullptr
                                      ? domain->first("zimbraDomainName")
                                      : ctx.index.global().first("zimbraDefaultDomainName");
  if (!domain_name.empty()) {
    user += "@" + core::to_lower(domain_name);
  }
  return user;
}

// By name: the address or an alias, then the same local part in the domain
// an alias domain points to; an unknown user of a domain that routes them
// elsewhere (mail protocols) goes to its external server as typed.
Found find_by_name(const Context& ctx) {
  const LookupRequest& req = ctx.req;
  const std::string user = qualify(ctx, core::to_lower(req.user));
  const Entry* account = ctx.find_account(user);
  const auto at = user.find('@');
  const Entry* user_domain =
      at == std::string::npos ? nullptr : ctx.index.domain_by_name(user.substr(at + 1));
  if (account == nullptr && user_domain != nullptr &&
      user_domain->first("zimbraDomainType") == "alias") {
    if (const Entry* target =
            ctx.index.domain_by_id(user_domain->first("zimbraDomainAliasTargetId"))) {
      account = ctx.find_account(user.substr(0, at + 1) +
                                 core::to_lower(target->first("zimbraDomainName")));
    }
  }
  if (account != nullptr) {
    return {account, std::nullopt};
  }
  if (is_mail_protocol(req.protocol) &&
      is_true(user_domain, "zimbraReverseProxyUseExternalRouteIfAccountNotExist")) {
    auto [host, port] = external_route(req.protocol, nullptr, user_domain);
    if (!host.empty()) {
      return {nullptr, route_to(std::move(host), port, req.user)};
    }
  }
  return {nullptr, ctx.error("user not found:" + user)};
}

// Accounts found but not to be routed: a non-admin asking for the admin
// console, a client address the domain does not allow.
std::optional<LookupAnswer> refuse_account(const Context& ctx,
                                           const Entry& account,
                                           const std::string& name,
                                           const Entry* domain) {
  const LookupRequest& req = ctx.req;
  if (req.admin && !is_true(&account, "zimbraIsAdminAccount") &&
      !is_true(&account, "zimbraIsDelegatedAdminAccount")) {
    return ctx.error("not an admin account: " + name);
  }
  if (domain != nullptr) {
    if (const auto* allowed = domain->values("zimbraDomainAllowedIPs")) {
      if (!ip_allowed(req.client_ip, *allowed)) {
        return ctx.error("Client-IP " + req.client_ip + " is not allowed on this domain");
      }
    }
  }
  return std::nullopt;
}

// The account's or its domain's external server (mail protocols), if it
// uses one: the answer names it and the user, the login as sent when the
// domain (else the global config) says so.
bool use_external_route(const Context& ctx,
                        const Entry& account,
                        const Entry* domain,
                        LookupResponse& r) {
  const LookupRequest& req = ctx.req;
  if (!is_mail_protocol(req.protocol) ||
      !(is_true(&account, "zimbraReverseProxyUseExternalRoute") ||
        is_true(domain, "zimbraReverseProxyUseExternalRoute"))) {
    return false;
  }
  const auto [host, port] = external_route(req.protocol, &account, domain);
  if (host.empty()) {
    return false;
  }
  r.server = host;
  r.port = port;
  constexpr std::string_view k_include =
      "zimbraReverseProxyExternalRouteIncludeOriginalAuthusername";
  const std::string include = domain != nullptr && domain->has(k_include)
                                  ? domain->first(k_include)
                                  : ctx.index.global_value(k_include);
  if (schema::is_true(include)) {
    r.user = req.user;
  }
  return true;
}

// The mailbox server and port: an IMAP upstream pool's member picked by the
// account's id, else the mail host at the port the protocol's indirection
// names (the zx ports for zx).
LookupAnswer route_to_mailbox(const Context& ctx,
                              const Entry& account,
                              const std::string& name,
                              LookupAnswer answer) {
  const LookupRequest& req = ctx.req;
  const RouteIndex& index = ctx.index;
  LookupResponse& r = answer.response;
  const std::string host_attr = index.global_value("zimbraReverseProxyMailHostAttribute");
  const std::string mail_host = account.first(host_attr.empty() ? "zimbraMailHost" : host_attr);
  if (mail_host.empty()) {
    return ctx.error("mailhost not found for user " + name);
  }
  const Entry& srv = or_none(ctx.find_server(mail_host));
  if (req.protocol == "imap" || req.protocol == "imapssl") {
    const auto pool = index.server_values(srv, "zimbraReverseProxyUpstreamImapServers");
    if (!pool.empty()) {
      const std::string& pick = pool[account_id_hash(account.first("zimbraId"), pool.size())];
      const Entry& ps = or_none(index.server_by_service_hostname(pick));
      r.server = pick;
      r.port = to_port(index.server_value(ps, req.protocol == "imap" ? "zimbraRemoteImapBindPort"
                                                                      : "zimbraRemoteImapSSLBindPort"));
    }
  }
  if (r.server.empty()) {
    r.server = mail_host;
    if (req.zx) {
      r.port = req.protocol == "http" ? 8742 : 8743;
    } else {
      r.port = to_port(index.server_value(srv, port_attribute(req, index)));
    }
  }
  if (r.port == 0) {
    return ctx.error("no " + req.protocol + " port configured for server " + mail_host);
  }
  return answer;
}

}  // namespace

std::string qualify_user(const LookupRequest& req, const RouteIndex& index) {
  const Context ctx{req, index, 0};
  return qualify(ctx, core::to_lower(req.user));
}

std::size_t account_id_hash(std::string_view id, std::size_t n) {
  std::int32_t h = 0;
  for (unsigned char c : id) {
    h = static_cast<std::int32_t>(static_cast<std::uint32_t>(h) * 31U + c);
  }
  const std::uint64_t magnitude = h < 0 ? static_cast<std::uint64_t>(-static_cast<std::int64_t>(h))
                                        : static_cast<std::uint64_t>(h);
  return n == 0 ? 0 : static_cast<std::size_t>(magnitude % n);
}

bool ip_allowed(std::string_view ip, const std::vector<std::string>& allowed) {
  const auto address = net::parse_address_block(core::trim(ip));
  if (!address) {
    return false;
  }
  for (const std::string& entry : allowed) {
    const auto block = net::parse_address_block(core::trim(entry));
    if (block && net::block_contains(*block, *address)) {
      return true;
    }
  }
  return false;
}

LookupAnswer handle_lookup(const LookupRequest& req,
                           const RouteIndex& index,
                           std::string_view handler_server) {
  const auto wait_ms =
      core::parse_duration(index.global_value("zimbraReverseProxyAuthWaitInterval"));
  const Context ctx{req, index, wait_ms ? static_cast<int>(wait_ms->count() / 1000) : 10};
  if (auto refused = refuse_request(ctx)) {
    return std::move(*refused);
  }
  Found found = req.method == "zimbraid" ? find_by_id(ctx) : find_by_name(ctx);
  if (found.answer) {
    return std::move(*found.answer);
  }
  const Entry& account = *found.account;
  const std::string name = core::to_lower(account.first("zimbraMailDeliveryAddress"));
  const auto at = name.find('@');
  const Entry* domain =
      at == std::string::npos ? nullptr : index.domain_by_name(name.substr(at + 1));
  if (auto refused = refuse_account(ctx, account, name, domain)) {
    return std::move(*refused);
  }

  std::string user = name;
  const std::string name_attr = index.global_value("zimbraReverseProxyUserNameAttribute");
  if (!name_attr.empty() && !account.first(name_attr).empty()) {
    user = account.first(name_attr);
  }
  LookupAnswer answer = route_to("", 0, std::move(user));
  const std::string default_domain =
      core::to_lower(index.global().first("zimbraDefaultDomainName"));
  answer.response.cache_alias =
      !default_domain.empty() && at != std::string::npos && name.substr(at + 1) == default_domain;
  if (use_external_route(ctx, account, domain, answer.response)) {
    return answer;
  }
  answer = route_to_mailbox(ctx, account, name, std::move(answer));
  if (!answer.response.ok) {
    return answer;
  }
  const Entry& self = or_none(index.server_by_name(handler_server));
  answer.resolve_host =
      schema::is_true(index.server_value(self, "zimbraReverseProxyDnsLookupInServerEnabled"));
  answer.ip_mode = index.server_value(self, "zimbraIPMode");
  return answer;
}

}  // namespace zmproxy::route
