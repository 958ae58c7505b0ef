#include "lib/route/lookup_handler.hpp"

#include "lib/core/address.hpp"
#include "lib/core/strings.hpp"
#include "lib/net/address_block.hpp"
#include "lib/provisioning/filter.hpp"
#include "lib/schema/value.hpp"

#include <cstdint>

namespace zmproxy::route {

namespace {

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

// The first value of an attribute, or "" (Entry::first without the copy).
std::string_view first_of(const Entry& e, std::string_view attr) {
  const auto* v = e.values(attr);
  return v == nullptr ? std::string_view() : std::string_view(v->front());
}

bool is_true(const Entry* e, std::string_view attr) {
  return e != nullptr && schema::is_true(first_of(*e, attr));
}

void lower_in_place(std::string& s) {
  for (char& c : s) {
    c = core::ascii_lower(c);
  }
}

// What one lookup works with. Names are looked up as they are: the index's
// tables ignore ASCII case, so nothing is lower-cased to find it.
struct Context {
  const LookupRequest& req;
  const RouteIndex& index;
  const LookupSettings& settings;
  LookupAnswer& out;

  // `out` becomes the error answer `text`; returns nullptr for the callers
  // that return "no account".
  std::nullptr_t error(std::string_view text) const {
    out.response.assign_error(text, settings.wait_seconds);
    out.resolve_host = false;
    out.ip_mode.assign("ipv4");
    return nullptr;
  }

  const Entry* find_account(std::string_view user) const {
    if (settings.mail_host_query.empty()) {
      const Entry* a = index.account_by_address(user);
      return a != nullptr ? a : index.account_by_id(user);
    }
    const auto found =
        index.search(index.accounts(), substitute(settings.mail_host_query, "USER", core::to_lower(user)));
    return found.empty() ? nullptr : found.front();
  }

  const Entry* find_server(std::string_view mail_host) const {
    if (settings.port_query.empty()) {
      return index.server_by_service_hostname(mail_host);
    }
    const auto found = index.search(index.servers(), substitute(settings.port_query, "MAILHOST", mail_host));
    return found.empty() ? nullptr : found.front();
  }

};

const Entry* domain_for_proxy_ip(const RouteIndex& index, std::string_view ip) {
  const std::string& query = index.settings().domain_query;
  if (query.empty()) {
    return index.domain_by_virtual_ip(ip);
  }
  const auto found = index.search(index.domains(), substitute(query, "IPADDR", ip));
  return found.empty() ? nullptr : found.front();
}

// The port the indirection names for this protocol and type.
PortKind port_kind(const LookupRequest& req) {
  const std::string& p = req.protocol;
  if (p == "pop3") return PortKind::pop3;
  if (p == "pop3ssl") return PortKind::pop3ssl;
  if (p == "imap") return PortKind::imap;
  if (p == "imapssl") return PortKind::imapssl;
  if (p == "http") return PortKind::http;
  if (req.admin) return PortKind::admin;
  return PortKind::httpssl;
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
    const std::string_view host = first_of(*e, stem + "Hostname");
    const int port = port_number(first_of(*e, stem + "Port"));
    if (!host.empty() && port != 0) {
      return {std::string(host), port};
    }
  }
  return {"", 0};
}

// `out` becomes an OK answer routing to host:port as `user`.
void route_to(LookupAnswer& out, std::string_view host, int port, std::string_view user) {
  out.response.assign_route(host, port, user);
  out.resolve_host = false;
  out.ip_mode.assign("ipv4");
}

// Requests refused before any lookup: protocols and methods this handler
// does not serve, and no user. True when `out` is the refusal.
bool refuse_request(const Context& ctx) {
  const LookupRequest& req = ctx.req;
  if (!is_known_protocol(req.protocol)) {
    ctx.error("unsupported protocol: " + req.protocol);
    return true;
  }
  if (req.method == "gssapi" || req.method == "certauth") {
    ctx.error(req.method + " lookups are not supported by this handler");
    return true;
  }
  if (req.user.empty()) {
    ctx.error("missing header field Auth-User");
    return true;
  }
  return false;
}

// The account a lookup names; nullptr when `out` is the answer that ends it
// without one.
const Entry* find_by_id(const Context& ctx) {
  const Entry* account = ctx.index.account_by_id(ctx.req.user);
  return account != nullptr ? account : ctx.error("account not found:" + ctx.req.user);
}

// `user` (lower case) qualified: a bare name gets the domain of the web
// request's virtual host or of the proxy's address, else the default domain.
void qualify(const LookupRequest& req, const RouteIndex& index, std::string& user) {
  if (user.find('@') != std::string::npos) {
    return;
  }
  const Entry* domain = nullptr;
  if (is_web_protocol(req.protocol)) {
    domain = index.domain_by_virtual_host(core::host_part(req.proxy_host));
  } else if (!req.proxy_ip.empty()) {
    domain = domain_for_proxy_ip(index, req.proxy_ip);
  }
  if (domain == nullptr) {
    if (!index.settings().default_domain.empty()) {
      user += '@';
      user += index.settings().default_domain;
    }
    return;
  }
  if (const std::string_view name = first_of(*domain, "zimbraDomainName"); !name.empty()) {
    user += '@';
    const std::size_t from = user.size();
    user += name;
    for (std::size_t i = from; i < user.size(); ++i) {
      user[i] = core::ascii_lower(user[i]);
    }
  }
}

// By name: the address or an alias, then the same local part in the domain
// an alias domain points to; an unknown user of a domain that routes them
// elsewhere (mail protocols) goes to its external server as typed.
const Entry* find_by_name(const Context& ctx) {
  const LookupRequest& req = ctx.req;
  std::string& user = ctx.out.looked_up;
  user.assign(req.user);
  lower_in_place(user);
  qualify(req, ctx.index, user);
  const Entry* account = ctx.find_account(user);
  const auto at = user.find('@');
  const Entry* user_domain =
      at == std::string::npos ? nullptr : ctx.index.domain_by_name(std::string_view(user).substr(at + 1));
  if (account == nullptr && user_domain != nullptr &&
      first_of(*user_domain, "zimbraDomainType") == "alias") {
    if (const Entry* target =
            ctx.index.domain_by_id(first_of(*user_domain, "zimbraDomainAliasTargetId"))) {
      account = ctx.find_account(user.substr(0, at + 1) +
                                 core::to_lower(first_of(*target, "zimbraDomainName")));
    }
  }
  if (account != nullptr) {
    return account;
  }
  if (is_mail_protocol(req.protocol) &&
      is_true(user_domain, "zimbraReverseProxyUseExternalRouteIfAccountNotExist")) {
    auto [host, port] = external_route(req.protocol, nullptr, user_domain);
    if (!host.empty()) {
      route_to(ctx.out, host, port, req.user);
      return nullptr;
    }
  }
  return ctx.error("user not found:" + user);
}

// Accounts found but not to be routed: a non-admin asking for the admin
// console, a client address the domain does not allow. True when `out` is
// the refusal.
bool refuse_account(const Context& ctx, const Entry& account, std::string_view name, const Entry* domain) {
  const LookupRequest& req = ctx.req;
  if (req.admin && !is_true(&account, "zimbraIsAdminAccount") &&
      !is_true(&account, "zimbraIsDelegatedAdminAccount")) {
    ctx.error("not an admin account: " + core::to_lower(name));
    return true;
  }
  if (domain != nullptr) {
    if (const auto* allowed = ctx.index.domain_settings(*domain).allowed_ips) {
      if (!ip_allowed(req.client_ip, *allowed)) {
        ctx.error("Client-IP " + req.client_ip + " is not allowed on this domain");
        return true;
      }
    }
  }
  return false;
}

// The account's or its domain's external server (mail protocols), if it
// uses one: the answer names it and the user, the login as sent when the
// domain (else the global config) says so.
bool use_external_route(const Context& ctx, const Entry& account, const Entry* domain) {
  const LookupRequest& req = ctx.req;
  if (!is_mail_protocol(req.protocol) ||
      !(ctx.index.account_settings(account).use_external_route ||
        (domain != nullptr && ctx.index.domain_settings(*domain).use_external_route))) {
    return false;
  }
  const auto [host, port] = external_route(req.protocol, &account, domain);
  if (host.empty()) {
    return false;
  }
  LookupResponse& r = ctx.out.response;
  r.server = host;
  r.port = port;
  constexpr std::string_view k_include =
      "zimbraReverseProxyExternalRouteIncludeOriginalAuthusername";
  const bool include = domain != nullptr && domain->has(k_include)
                           ? schema::is_true(first_of(*domain, k_include))
                           : ctx.settings.include_original_user;
  if (include) {
    r.user = req.user;
  }
  return true;
}

// The mailbox server and port: an IMAP upstream pool's member picked by the
// account's id, else the mail host at the port the protocol's indirection
// names (the zx ports for zx). False when `out` became an error.
bool route_to_mailbox(const Context& ctx, const Entry& account, std::string_view name) {
  const LookupRequest& req = ctx.req;
  LookupResponse& r = ctx.out.response;
  const AccountSettings& values = ctx.index.account_settings(account);
  const std::string_view mail_host = values.mail_host;
  if (mail_host.empty()) {
    ctx.error("mailhost not found for user " + core::to_lower(name));
    return false;
  }
  const ServerSettings& srv = ctx.index.server_settings(ctx.find_server(mail_host));
  const bool imap = req.protocol == "imap";
  if ((imap || req.protocol == "imapssl") && !srv.imap_pool.empty()) {
    const PoolMember& pick =
        srv.imap_pool[account_id_hash(values.id, srv.imap_pool.size())];
    r.server.assign(pick.host);
    r.port = imap ? pick.imap_port : pick.imapssl_port;
  }
  if (r.server.empty()) {
    r.server.assign(mail_host);
    if (req.zx) {
      r.port = req.protocol == "http" ? 8742 : 8743;
    } else {
      r.port = srv.port[static_cast<std::size_t>(port_kind(req))];
    }
  }
  if (r.port == 0) {
    ctx.error("no " + req.protocol + " port configured for server " + std::string(mail_host));
    return false;
  }
  return true;
}

}  // namespace

std::string qualify_user(const LookupRequest& req, const RouteIndex& index) {
  std::string user = core::to_lower(req.user);
  qualify(req, index, user);
  return user;
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

void handle_lookup(const LookupRequest& req,
                   const RouteIndex& index,
                   std::string_view handler_server,
                   LookupAnswer& out) {
  const Context ctx{req, index, index.settings(), out};
  if (refuse_request(ctx)) {
    return;
  }
  const Entry* account = req.method == "zimbraid" ? find_by_id(ctx) : find_by_name(ctx);
  if (account == nullptr) {
    return;  // `out` is the answer
  }
  const AccountSettings& values = index.account_settings(*account);
  const std::string_view name = values.name;
  const auto at = name.find('@');
  const Entry* domain = at == std::string_view::npos ? nullptr : index.domain_by_name(name.substr(at + 1));
  if (refuse_account(ctx, *account, name, domain)) {
    return;
  }

  const std::string_view named = values.user_name;  // zimbraReverseProxyUserNameAttribute's
  route_to(out, "", 0, named.empty() ? name : named);
  if (named.empty()) {
    lower_in_place(out.response.user);
  }
  const std::string& default_domain = ctx.settings.default_domain;
  out.response.cache_alias = !default_domain.empty() && at != std::string_view::npos &&
                             core::iequals(name.substr(at + 1), default_domain);
  if (use_external_route(ctx, *account, domain)) {
    return;
  }
  if (!route_to_mailbox(ctx, *account, name)) {
    return;
  }
  const ServerSettings& self = index.server_settings(index.server_by_name(handler_server));
  out.resolve_host = self.resolve_host;
  out.ip_mode.assign(self.ip_mode);
}

LookupAnswer handle_lookup(const LookupRequest& req,
                           const RouteIndex& index,
                           std::string_view handler_server) {
  LookupAnswer answer;
  handle_lookup(req, index, handler_server, answer);
  return answer;
}

}  // namespace zmproxy::route
