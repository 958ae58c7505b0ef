#pragma once
// ProxyConfig: everything zmproxyd needs, read from conf/zmproxy.conf (TOML;
// format in man/zmproxy.conf.5). Immutable once loaded; sessions keep the
// snapshot they were accepted with. Defaults are Zimbra's attribute
// defaults.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "lib/core/result.hpp"

namespace zmproxy::config {

using std::chrono::milliseconds;

enum class StartTls { off, on, only };

struct ServerSection {
  std::string name = "localhost";      // this proxy (zimbra_server_hostname)
  std::string bind_address = "0.0.0.0";
  int workers = 4;                     // zimbraReverseProxyWorkerProcesses
  int worker_connections = 10240;      // zimbraReverseProxyWorkerConnections
  std::string log_file;                // "" = standard error
  std::string log_level = "info";
  std::string access_log = "log/access.log";  // relative to the home
  milliseconds drain_timeout{10'000};  // how long a stop waits for open sessions
  std::string user = "zmproxy";        // run as this user when started as root (zimbra_user)
  int max_connections_per_ip = 100;    // open connections from one address; 0 = no cap
  // Listeners (imap imaps pop3 pop3s http https admin) whose connections
  // start with a PROXY protocol header from a balancer in
  // http.trusted_proxies (localconfig zmproxy_proxy_protocol_listeners).
  std::vector<std::string> proxy_protocol;
  // Plaintext mail sessions relayed in the kernel after login (issue 18;
  // localconfig zmproxy_kernel_relay): loaded at start, a reload cannot
  // turn it on (lib/net/sockmap_relay.hpp).
  bool kernel_relay = false;
  // The control endpoint over TCP (issue 19, fleet-wide admin;
  // lib/net/control_endpoint.hpp): localconfig zmproxy_control_bind_address
  // at this server's zmproxyControlPort (0 = off), with the fleet's
  // zmproxy_control_secret. Opened at start; a restart applies a change.
  std::string control_address = "127.0.0.1";
  int control_port = 0;
  std::string control_secret;
};

struct TlsSection {
  std::string certificate = "conf/zmproxy.crt";
  std::string key = "conf/zmproxy.key";
  std::vector<std::string> protocols = {"TLSv1.2", "TLSv1.3"};
  std::string ciphers;  // "" = OpenSSL's defaults
  // Per virtual host name (SNI): "hostname certificate key".
  std::vector<std::string> domain_certificates;
  // kTLS (lib/tls/ktls.hpp) on the client and mailbox sides: localconfig zmproxy_ktls.
  bool ktls = false;
};

struct RouteSection {
  std::vector<std::string> handlers = {"127.0.0.1:7072"};
  std::vector<std::string> memcached;
  bool caching = true;
  milliseconds cache_ttl{3'600'000};
  milliseconds lookup_timeout{15'000};
  milliseconds handler_retry{60'000};
  milliseconds memcached_timeout{500};
  std::string secret;
  // Issue 13 items 4 and 7: the servers a memcached route may name
  // ("host:port", confgen: every server entry's mail and web ports), and the
  // in-process route cache's LRU bound (entries; 0 = off).
  std::vector<std::string> mailbox_servers;
  int local_cache_size = 100'000;

  bool operator==(const RouteSection&) const = default;
};

struct MailSection {
  bool enabled = true;                  // the plain listener
  int port = 0;                         // 143 / 110
  bool ssl_enabled = true;              // the implicit-TLS listener
  int ssl_port = 0;                     // 993 / 995
  StartTls starttls = StartTls::only;
  std::vector<std::string> capabilities;
  bool sasl_plain = true;
  bool expose_version = false;
  milliseconds idle_timeout{60'000};          // before login
  milliseconds authenticated_idle_timeout{0};  // after login
  bool send_client_address = true;      // IMAP ID / POP3 XOIP
  milliseconds login_timeout{120'000};  // from accept to the login, in all
  bool sasl_gssapi = false;  // zimbraReverseProxy{Imap,Pop3}SaslGssapiEnabled; its settings: [kerberos]
};

struct UpstreamSection {
  bool ssl = true;                      // zimbraReverseProxySSLToUpstreamEnabled
  milliseconds connect_timeout{120'000};
  bool pass_errors = true;
  milliseconds auth_wait{10'000};       // zimbraReverseProxyAuthWaitInterval
  // Upstream certificate verification (lib/tls/upstream_verify.hpp).
  std::string ca_file;                  // zmproxy_upstream_ca_file; "" = the system store
  bool allow_untrusted_certs = false;   // ssl_allow_untrusted_certs: no verification (labs)
  // A PROXY protocol v2 header before anything else to the IMAP and POP3
  // mailboxes (Dovecot haproxy = yes): localconfig zmproxy_upstream_proxy_protocol.
  bool proxy_protocol = false;
};

struct HttpSection {
  bool enabled = false;                 // zimbraReverseProxyHttpEnabled
  std::string mode = "both";            // zimbraReverseProxyMailMode
  int port = 80;                        // zimbraMailProxyPort
  int ssl_port = 443;                   // zimbraMailSSLProxyPort
  bool strict_server_name = true;       // zimbraReverseProxyStrictServerNameEnabled
  std::vector<std::string> server_names;  // proxy name, domains' virtual host names and IPs
  std::vector<std::string> upstreams;     // mailbox web servers for IP hash: host:port
  milliseconds connect_timeout{25'000};   // zimbraReverseProxyUpstreamConnectTimeout
  milliseconds read_timeout{60'000};      // zimbraReverseProxyUpstreamReadTimeout
  milliseconds send_timeout{60'000};      // zimbraReverseProxyUpstreamSendTimeout
  milliseconds poll_timeout{3'600'000};   // zimbraReverseProxyUpstreamPollingTimeout
  milliseconds client_timeout{60'000};    // idle keep-alive client
  std::int64_t upload_max = 10'485'760;   // zimbraFileUploadMaxSize (0 = no limit)
  std::vector<std::string> response_headers;  // zimbraReverseProxyResponseHeaders ("Name: value")
  int max_header_size = 16 * 1024;
  // The public URL of redirects (Zimbra's REST URL rules): the domain's
  // zimbraPublicServiceHostname/Protocol/Port, else the global ones, else the
  // request's own scheme and Host.
  std::string public_hostname;   // global zimbraPublicServiceHostname
  std::string public_protocol;   // global zimbraPublicServiceProtocol
  int public_port = 0;           // global zimbraPublicServicePort
  // Per domain: "domain hostname [protocol [port]]".
  std::vector<std::string> domain_public_services;
  bool admin_enabled = false;             // zimbraReverseProxyAdminEnabled
  int admin_port = 9071;                  // zimbraAdminProxyPort
  std::vector<std::string> admin_upstreams;  // mailbox admin consoles (zimbraAdminPort) for requests without a token
  // Client identity and slow clients (issue 13; man/zmproxy.conf.5).
  // Peers (addresses or CIDRs) whose X-Forwarded-For/X-Real-IP/Forwarded/
  // X-Forwarded-Host are kept (zmproxy_trusted_proxies); from anyone else
  // they are replaced by ours.
  std::vector<std::string> trusted_proxies;
  // A request body must average body_min_rate bytes a second once
  // body_timeout has passed (0 = no minimum rate); else 408 and close.
  milliseconds body_timeout{60'000};            // zmproxy_http_body_timeout
  std::int64_t body_min_rate = 500;             // zmproxy_http_body_min_rate
  milliseconds tunnel_idle_timeout{3'600'000};  // zmproxy_http_tunnel_idle_timeout: both ways idle
  // Passive upstream health, per-path timeouts, error pages (issue 17;
  // man/zmproxy.conf.5, zmproxyd(8) WEB PROXY). An upstream of a group of
  // two or more that fails max_fails times (connect, TLS, reset or timeout
  // before the answer's header) is left out for fail_timeout (0 = never).
  int max_fails = 1;                      // zimbraMailProxyMaxFails
  milliseconds fail_timeout{10'000};      // zimbraMailProxyReconnectTimeout
  milliseconds noop_timeout{1'220'000};   // localconfig zimbra_noop_max_timeout + 20 s
  milliseconds waitset_timeout{1'220'000};  // localconfig zimbra_waitset_max_request_timeout + 20 s
  // The proxy's own 502/504 answers become a 302 to
  // "<url>?err=<code>&up=<upstream>" ("" = a built-in page).
  std::string error_handler_url;          // zimbraReverseProxyErrorHandlerURL
  // Client certificates (issue 17; zmproxyd(8) CLIENT CERTIFICATES): asked
  // for on the HTTPS listener and the certauth listener, verified against
  // client_cert_ca; /certauth on the certauth listener logs in by them.
  std::string client_cert_mode = "off";  // zimbraReverseProxyClientCertMode: off | on | optional
  std::string client_cert_ca;            // zimbraReverseProxyClientCertCA, written to a file
  int client_cert_depth = 10;            // localconfig zmproxy_client_cert_verify_depth
  bool certauth_enabled = true;          // zimbraMailSSLProxyClientCertPort is not 0
  int certauth_port = 3443;              // zimbraMailSSLProxyClientCertPort
  // HTTP/2 on the HTTPS and admin listeners, chosen by ALPN (issue 17;
  // man/zmproxy.conf.5); false: ALPN offers http/1.1 only.
  bool http2 = true;                     // zimbraReverseProxyHttp2Enabled
  // Per virtual host name (SNI) of a domain with its own client-certificate
  // settings: "hostname mode [ca]" (lib/config/domain_client_certs.hpp).
  std::vector<std::string> domain_client_certs;
};

// Login throttling (issue 15; man/zmproxy.conf.5 [throttle]). Zimbra's
// attributes (REFERENCE-zimbra §3 E; every limit 0 = off) and our
// failed-login counter per (user, client address) from localconfig.
// lib/proxy/throttle_gate.cpp turns it into throttle::ThrottleSettings.
struct ThrottleSection {
  int ip_limit = 0;                   // zimbraReverseProxyIPLoginLimit
  milliseconds ip_window{3'600'000};  // zimbraReverseProxyIPLoginLimitTime
  int imap_ip_limit = 0;              // zimbraReverseProxyIPLoginImapLimit
  milliseconds imap_ip_window{3'600'000};
  int pop3_ip_limit = 0;  // zimbraReverseProxyIPLoginPop3Limit
  milliseconds pop3_ip_window{3'600'000};
  int user_limit = 0;                                      // zimbraReverseProxyUserLoginLimit
  milliseconds user_window{3'600'000};                     // zimbraReverseProxyUserLoginLimitTime
  std::string ip_message = "Login rejected from this IP";  // zimbraReverseProxyIpThrottleMsg
  std::string user_message = "Login rejected for this user";  // zimbraReverseProxyUserThrottleMsg
  std::vector<std::string> whitelist;  // zimbraReverseProxyIPThrottleWhitelist: addresses, CIDRs
  // Ours (localconfig zmproxy_login_failure_*).
  bool failed_logins = true;              // count failed logins per (user, address)
  milliseconds failed_window{900'000};    // the failure counter's fixed window
  int failed_free = 3;                    // failures that cost no wait
  milliseconds failed_delay{1'000};       // the first wait, doubled per further failure
  milliseconds failed_max_delay{30'000};  // the longest wait
  int failed_lock = 0;                    // refuse from this many failures; 0 = never (wait only)

  bool operator==(const ThrottleSection&) const = default;
};

// Kerberos (SASL GSSAPI) logins at the proxy (issue 16; man/zmproxy.conf.5
// [kerberos], zmproxyd(8) GSSAPI). Used when imap.sasl_gssapi or
// pop3.sasl_gssapi is on; lib/proxy/gssapi_gate.cpp acquires the keys.
struct KerberosSection {
  std::string keytab;          // localconfig krb5_keytab (relative: to the home)
  // localconfig krb5_service_principal_from_interface_address: the host of
  // imap/<host> and pop/<host> is the reverse name of the address the client
  // reached; else server.name.
  bool principal_from_interface_address = false;
  std::string default_realm;   // zimbraReverseProxyDefaultRealm ("" = krb5.conf's)
  // The gssapi lookup's Auth-Admin-User / Auth-Admin-Pass (an admin account).
  std::string admin_user = "zmnginx";    // localconfig zm_lookup_master_auth_username
  std::string admin_password;            // localconfig ldap_nginx_password
  // The login at the mailbox for a Kerberos user: "zimbra" (AUTHENTICATE
  // X-ZIMBRA with the lookup's token) or "dovecot-master" (SASL PLAIN as a
  // Dovecot master user acting for the account).
  std::string upstream_login = "zimbra";  // localconfig zmproxy_gssapi_upstream_login
  std::string master_user;                // localconfig zmproxy_gssapi_master_user
  std::string master_password;            // localconfig zmproxy_gssapi_master_password

  bool operator==(const KerberosSection&) const = default;
};

struct ProxyConfig {
  std::filesystem::path home;
  std::filesystem::path file;
  std::string version;  // content hash of the file
  ServerSection server;
  TlsSection tls;
  RouteSection route;
  bool mail_enabled = true;  // zimbraReverseProxyMailEnabled
  MailSection imap;
  MailSection pop3;
  UpstreamSection upstream;
  HttpSection http;
  ThrottleSection throttle;
  KerberosSection kerberos;

  // A path from the config, resolved against the home.
  std::filesystem::path path(const std::string& p) const;
};

ProxyConfig default_config();

// Whether the certauth listener (http.certauth_port) is wanted: the web
// proxy serves HTTPS, client certificates are on or optional, and
// http.certauth_enabled.
bool certauth_listener(const HttpSection& h) noexcept;

// Parse and validate; unknown keys are errors naming their full path, and
// every error is one line naming the file, the key and what is allowed.
Result<std::shared_ptr<const ProxyConfig>> load_config(const std::filesystem::path& file,
                                                       const std::filesystem::path& home);
Result<std::shared_ptr<const ProxyConfig>> parse_config(std::string_view text,
                                                        const std::filesystem::path& file,
                                                        const std::filesystem::path& home);

}  // namespace zmproxy::config
