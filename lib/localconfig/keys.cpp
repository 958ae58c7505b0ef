#include "lib/localconfig/keys.hpp"

#include <algorithm>

namespace zmproxy::localconfig {

namespace {

// zimbra_home's default is the runtime home; LocalConfig fills it in.
constexpr KeyInfo k_keys[] = {
    {"imap_authenticated_max_idle_time", KeyType::integer, "1800",
     "Seconds an authenticated IMAP session may stay idle; the proxy allows this plus 300"},
    {"imap_max_idle_time", KeyType::integer, "60",
     "Seconds an IMAP client may stay idle before it logs in"},
    {"krb5_keytab", KeyType::string, "${zimbra_home}/conf/krb5.keytab",
     "Kerberos keytab used for GSSAPI logins"},
    {"krb5_service_principal_from_interface_address", KeyType::boolean, "false",
     "Build the GSSAPI service principal from the address the client connected to"},
    {"ldap_ca_file", KeyType::string, "",
     "PEM file of the CAs that issue the LDAP servers' certificates (StartTLS, ldaps://); "
     "empty = the system store"},
    {"ldap_cache_reverseproxylookup_domain_maxage", KeyType::integer, "15",
     "Accepted for compatibility; zmlookupd follows the store's change feed instead of caching"},
    {"ldap_cache_reverseproxylookup_domain_maxsize", KeyType::integer, "100",
     "Entries in zmlookupd's domain-by-IP cache"},
    {"ldap_cache_reverseproxylookup_server_maxage", KeyType::integer, "15",
     "Accepted for compatibility; zmlookupd follows the store's change feed instead of caching"},
    {"ldap_cache_reverseproxylookup_server_maxsize", KeyType::integer, "100",
     "Entries in zmlookupd's server port cache"},
    {"ldap_master_url", KeyType::string, "",
     "LDAP URLs of the provider the tools write to (space separated); empty = ldap_url"},
    {"ldap_nginx_password", KeyType::string, "zmnginx",
     "Password of the proxy's admin account for GSSAPI and certificate lookups"},
    {"ldap_root_password", KeyType::string, "zimbra", "Password of the LDAP root DN"},
    {"ldap_starttls_required", KeyType::boolean, "true",
     "false: a directory on another host may be reached over ldap:// without StartTLS (labs only)"},
    {"ldap_starttls_supported", KeyType::integer, "0",
     "1: use StartTLS over ldap:// on this host too (it is always used towards other hosts)"},
    {"ldap_url", KeyType::string, "",
     "LDAP URLs of the directory (space separated); empty = the embedded store data/prov.ldif"},
    {"pop3_max_idle_time", KeyType::integer, "60",
     "Seconds a POP3 session may stay idle, before and after login"},
    {"ssl_allow_untrusted_certs", KeyType::boolean, "false",
     "true: do not verify the certificates of mailbox servers and LDAP servers (labs only)"},
    {"zimbra_additional_logging", KeyType::boolean, "false",
     "Log extra security events (failed lookups) for auditing"},
    {"zimbra_configrewrite_timeout", KeyType::integer, "120",
     "Seconds a configuration rewrite request may take"},
    {"zimbra_home", KeyType::string, "", "The runtime home of this installation"},
    {"zimbra_http_originating_ip_header", KeyType::string, "X-Forwarded-For",
     "HTTP header that carries the client's address to the mailbox"},
    {"zimbra_ldap_password", KeyType::string, "zimbra", "Password for zimbra_ldap_userdn"},
    {"zimbra_ldap_userdn", KeyType::string, "uid=zimbra,cn=admins,cn=zimbra",
     "DN the tools and daemons bind to LDAP as"},
    {"zimbra_log_directory", KeyType::string, "${zimbra_home}/log", "Directory of the log files"},
    {"zimbra_noop_max_timeout", KeyType::integer, "1200",
     "Seconds a NoOpRequest may wait; the proxy's read timeout for it is this plus 20"},
    {"zimbra_require_interprocess_security", KeyType::integer, "1",
     "1: talk TLS between proxy and mailbox servers"},
    {"zimbra_server_hostname", KeyType::string, "localhost",
     "Name of this server as provisioned (zimbraServiceHostname)"},
    {"zimbra_user", KeyType::string, "zmproxy",
     "Unprivileged user the daemons run as once started by root (after binding ports and "
     "reading keys)"},
    {"zimbra_waitset_max_request_timeout", KeyType::integer, "1200",
     "Seconds a WaitSetRequest may wait; the proxy's read timeout for it is this plus 20"},
    {"zimbra_zmprov_default_to_ldap", KeyType::boolean, "false",
     "Accepted for compatibility; zmprov always talks to the store directly"},
    {"zm_lookup_master_auth_username", KeyType::string, "zmnginx",
     "Admin account the proxy names in GSSAPI lookups (Auth-Admin-User; a bare name is in "
     "zimbraDefaultDomainName), with ldap_nginx_password"},
    {"zmconfigd_enable_config_restarts", KeyType::boolean, "true",
     "Let zmconfigd reload the proxy when its configuration changes"},
    {"zmconfigd_interval", KeyType::integer, "60",
     "Seconds between zmconfigd's safety re-reads of the whole configuration"},
    {"zmconfigd_listen_port", KeyType::integer, "7171",
     "Loopback port of zmconfigd's control socket"},
    {"zmconfigd_max_failed_restarts", KeyType::integer, "3",
     "Failed reloads in a row after which zmconfigd stops retrying"},
    {"zmlookupd_allowed_peers", KeyType::string, "",
     "Addresses or CIDRs allowed to ask zmlookupd for routes, comma separated; empty = anyone"},
    {"zmlookupd_bind_address", KeyType::string, "127.0.0.1",
     "Address zmlookupd listens on (its port is zimbraExtensionBindPort); 0.0.0.0 for other hosts"},
    {"zmlookupd_max_connections", KeyType::integer, "1000",
     "Connections zmlookupd serves at once; more wait in the kernel's accept queue"},
    {"zmlookupd_secret", KeyType::string, "",
     "Shared secret callers must send in X-Zmproxy-Lookup-Secret; empty = not required"},
    {"zmprov_safeguarded_attrs", KeyType::string, "zimbraServiceEnabled,zimbraServiceInstalled",
     "Multi-valued attributes that zmprov replaces only with -r"},
    {"zmproxy_bind_address", KeyType::string, "0.0.0.0",
     "Address the proxy's listeners bind to (rendered into conf/zmproxy.conf)"},
    {"zmproxy_client_cert_verify_depth", KeyType::integer, "10",
     "Longest chain of CA certificates a client certificate is verified through (1..100)"},
    {"zmproxy_control_bind_address", KeyType::string, "127.0.0.1",
     "Address the daemons' TCP control endpoints listen on (the port is the server entry's "
     "zmproxyControlPort / zmlookupdControlPort); a management network's address or loopback"},
    {"zmproxy_control_secret", KeyType::string, "",
     "Secret shared by every node of the fleet for the TCP control endpoints (at least 16 bytes; "
     "empty = no endpoint); it never crosses the wire"},
    {"zmproxy_drain_timeout", KeyType::integer, "10",
     "Seconds zmproxyctl stop waits for open sessions to finish"},
    {"zmproxy_gssapi_master_password", KeyType::string, "",
     "Password of zmproxy_gssapi_master_user"},
    {"zmproxy_gssapi_master_user", KeyType::string, "",
     "Dovecot master user the proxy logs in as for a GSSAPI user when "
     "zmproxy_gssapi_upstream_login is dovecot-master"},
    {"zmproxy_gssapi_upstream_login", KeyType::string, "zimbra",
     "How the proxy logs a GSSAPI user in at the mailbox: zimbra (X-ZIMBRA with the lookup's "
     "token) or dovecot-master"},
    {"zmproxy_http_body_min_rate", KeyType::integer, "500",
     "Bytes a second a web request body must average after zmproxy_http_body_timeout (0 = no "
     "minimum)"},
    {"zmproxy_http_body_timeout", KeyType::integer, "60",
     "Seconds a web request body may take before zmproxy_http_body_min_rate applies"},
    {"zmproxy_http_tunnel_idle_timeout", KeyType::integer, "3600",
     "Seconds a WebSocket tunnel may be idle both ways before the proxy closes it"},
    {"zmproxy_kernel_relay", KeyType::boolean, "false",
     "true: plaintext IMAP and POP3 sessions are relayed in the kernel after login (BPF sockhash; "
     "loaded at start, needs Linux 6.1.142 or later; a restart applies it)"},
    {"zmproxy_ktls", KeyType::boolean, "false",
     "Hand TLS record encryption to the kernel (kTLS) after each handshake where the kernel can "
     "(the tls module); rendered into tls.ktls"},
    {"zmproxy_login_failure_delay", KeyType::integer, "1000",
     "Milliseconds a (user, client address) pair waits before each login attempt once past "
     "zmproxy_login_failure_free failed logins; doubled per further failure"},
    {"zmproxy_login_failure_free", KeyType::integer, "3",
     "Failed logins of one user from one address that cost no wait"},
    {"zmproxy_login_failure_lock", KeyType::integer, "0",
     "Failed logins of one user from one address after which its logins are refused until the "
     "window "
     "ends; 0 = never (the wait only)"},
    {"zmproxy_login_failure_max_delay", KeyType::integer, "30000",
     "Milliseconds, the longest wait a (user, client address) pair with failed logins gets (at "
     "most 300000)"},
    {"zmproxy_login_failure_tarpit", KeyType::boolean, "true",
     "Count failed logins per (user, client address) in memcached and slow that pair down (false: "
     "off)"},
    {"zmproxy_login_failure_window", KeyType::integer, "900",
     "Seconds a (user, client address) pair's failed logins are remembered, from the first"},
    {"zmproxy_login_timeout", KeyType::integer, "120",
     "Seconds an IMAP or POP3 client has, from its connection, to log in"},
    {"zmproxy_max_connections_per_ip", KeyType::integer, "100",
     "Open connections the proxy accepts from one client address (mail and web); 0 = no cap"},
    {"zmproxy_proxy_protocol_listeners", KeyType::string, "",
     "Listeners (imap, imaps, pop3, pop3s, http, https, admin, certauth; comma or space separated) "
     "whose connections start with a PROXY protocol header from a balancer in "
     "zmproxy_trusted_proxies"},
    {"zmproxy_route_cache_size", KeyType::integer, "100000",
     "Routes zmproxyd keeps in its in-process cache (least recently used evicted first); 0 = off"},
    {"zmproxy_trusted_proxies", KeyType::string, "",
     "Balancers (addresses or CIDRs, comma or space separated) whose X-Forwarded-For the web proxy "
     "keeps, and whose PROXY protocol headers the listeners of zmproxy_proxy_protocol_listeners "
     "read"},
    {"zmproxy_upstream_ca_file", KeyType::string, "",
     "PEM file of the CAs that issue the mailbox servers' certificates (upstream TLS); "
     "empty = the system store"},
    {"zmproxy_upstream_proxy_protocol", KeyType::boolean, "false",
     "Send the IMAP and POP3 mailbox servers a PROXY protocol v2 header naming the client (for "
     "Dovecot's haproxy = yes listeners)"},
};

}  // namespace

std::span<const KeyInfo> known_keys() noexcept {
  return k_keys;
}

const KeyInfo* find_key(std::string_view name) noexcept {
  const auto it = std::lower_bound(std::begin(k_keys), std::end(k_keys), name,
                                   [](const KeyInfo& k, std::string_view n) { return k.name < n; });
  return (it != std::end(k_keys) && it->name == name) ? &*it : nullptr;
}

bool is_secret_key(std::string_view name) noexcept {
  return name.find("password") != std::string_view::npos ||
         name.find("secret") != std::string_view::npos;
}

bool is_valid_key_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 128) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

}  // namespace zmproxy::localconfig
