#include "lib/schema/registry.hpp"

#include "lib/core/strings.hpp"
#include "lib/schema/value.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

using namespace zmproxy::schema;

namespace {
std::string first_default(std::string_view name) {
  const Attribute* a = find(name);
  REQUIRE(a != nullptr);
  return a->defaults.empty() ? std::string("<none>") : std::string(a->defaults.front());
}
}  // namespace

TEST_CASE("registry defaults match REFERENCE-zimbra.md section 3", "[schema]") {
  // name, global default, as the reference's tables A-I give them.
  const std::pair<const char*, const char*> expected[] = {
      {"zimbraImapProxyBindPort", "143"},
      {"zimbraImapSSLProxyBindPort", "993"},
      {"zimbraPop3ProxyBindPort", "110"},
      {"zimbraPop3SSLProxyBindPort", "995"},
      {"zimbraImapBindPort", "7143"},
      {"zimbraImapSSLBindPort", "7993"},
      {"zimbraPop3BindPort", "7110"},
      {"zimbraPop3SSLBindPort", "7995"},
      {"zimbraMailProxyPort", "0"},
      {"zimbraMailSSLProxyPort", "0"},
      {"zimbraAdminProxyPort", "9071"},
      {"zimbraExtensionBindPort", "7072"},
      {"zimbraMemcachedBindPort", "11211"},
      {"zimbraReverseProxySSLToUpstreamEnabled", "TRUE"},
      {"zimbraReverseProxyLookupTarget", "FALSE"},
      {"zimbraReverseProxyMailHostAttribute", "zimbraMailHost"},
      {"zimbraReverseProxyImapPortAttribute", "zimbraImapBindPort"},
      {"zimbraReverseProxyHttpSSLPortAttribute", "zimbraMailSSLPort"},
      {"zimbraReverseProxyDnsLookupInServerEnabled", "TRUE"},
      {"zimbraImapLoadBalancingAlgorithm", "AccountIdHash"},
      {"zimbraReverseProxyImapStartTlsMode", "only"},
      {"zimbraReverseProxyPop3StartTlsMode", "only"},
      {"zimbraReverseProxySendImapId", "TRUE"},
      {"zimbraReverseProxyPassErrors", "TRUE"},
      {"zimbraReverseProxyAuthWaitInterval", "10s"},
      {"zimbraReverseProxyConnectTimeout", "120000ms"},
      {"zimbraReverseProxyRouteLookupTimeout", "15s"},
      {"zimbraReverseProxyRouteLookupTimeoutCache", "60s"},
      {"zimbraReverseProxyWorkerProcesses", "4"},
      {"zimbraReverseProxyWorkerConnections", "10240"},
      {"zimbraReverseProxyLogLevel", "info"},
      {"zimbraReverseProxyIPLoginLimitTime", "3600"},
      {"zimbraReverseProxyIpThrottleMsg", "Login rejected from this IP"},
      {"zimbraReverseProxyUserThrottleMsg", "Login rejected for this user"},
      {"zimbraReverseProxyIPThrottleWhitelistTime", "300s"},
      {"zimbraReverseProxyCacheEntryTTL", "1h"},
      {"zimbraReverseProxyCacheFetchTimeout", "3s"},
      {"zimbraReverseProxyCacheReconnectInterval", "1m"},
      {"zimbraReverseProxySSLECDHCurve", "prime256v1"},
      {"zimbraReverseProxySNIEnabled", "FALSE"},
      {"zimbraReverseProxyClientCertMode", "off"},
      {"zimbraReverseProxyHttpEnabled", "TRUE"},
      {"zimbraReverseProxyAdminEnabled", "FALSE"},
      {"zimbraReverseProxyUpstreamConnectTimeout", "25"},
      {"zimbraReverseProxyUpstreamPollingTimeout", "1h"},
      {"zimbraReverseProxyStrictServerNameEnabled", "TRUE"},
      {"zimbraReverseProxyUpstreamFairShmSize", "32"},
      {"zimbraFileUploadMaxSize", "10485760"},
      {"zimbraMailURL", "/"},
      {"zimbraIPMode", "ipv4"},
      {"zimbraMailReferMode", "reverse-proxied"},
  };
  for (const auto& [name, value] : expected) {
    INFO(name);
    CHECK(first_default(name) == value);
  }
}

TEST_CASE("registry knows the shape of key attributes", "[schema]") {
  const Attribute* caps = find("zimbraReverseProxyImapEnabledCapability");
  REQUIRE(caps != nullptr);
  CHECK(caps->multi);
  CHECK(caps->defaults.size() == 28);
  CHECK(caps->defaults.front() == "IMAP4rev1");
  CHECK(std::find(caps->defaults.begin(), caps->defaults.end(), "LITERAL+") !=
        caps->defaults.end());

  const Attribute* pop = find("zimbraReverseProxyPop3EnabledCapability");
  REQUIRE(pop != nullptr);
  CHECK(std::vector<std::string_view>(pop->defaults.begin(), pop->defaults.end()) ==
        std::vector<std::string_view>{"TOP", "USER", "UIDL", "EXPIRE 31 USER", "XOIP"});

  const Attribute* port = find("zimbraImapProxyBindPort");
  REQUIRE(port != nullptr);
  CHECK(port->type == Type::port);
  CHECK(port->allowed_on(Kind::global));
  CHECK(port->allowed_on(Kind::server));
  CHECK_FALSE(port->allowed_on(Kind::domain));
  CHECK(port->inherits(Kind::server));
  CHECK(port->change == Change::rebind);

  const Attribute* workers = find("zimbraReverseProxyWorkerProcesses");
  REQUIRE(workers != nullptr);
  CHECK(workers->type == Type::integer);
  CHECK(workers->min == 1);
  CHECK(workers->max == 16);
  CHECK(workers->change == Change::restart);

  const Attribute* vhost = find("zimbraVirtualHostname");
  REQUIRE(vhost != nullptr);
  CHECK(vhost->multi);
  CHECK(vhost->allowed_on(Kind::domain));
  CHECK_FALSE(vhost->allowed_on(Kind::global));

  const Attribute* mode = find("zimbraReverseProxyMailMode");
  REQUIRE(mode != nullptr);
  CHECK(mode->type == Type::enumeration);
  CHECK(mode->values.size() == 5);

  CHECK(find("userPassword")->secret);
  CHECK(find("zimbraSSLPrivateKey")->secret);
  CHECK(find("zimbraMailHost")->allowed_on(Kind::account));
  CHECK(find("zimbraDefaultDomainName")->allowed_on(Kind::global));
}

TEST_CASE("lookup is case-insensitive and keeps the canonical spelling", "[schema]") {
  const Attribute* a = find("zimbraVirtualHostName");  // Zimbra's docs capitalise the N
  REQUIRE(a != nullptr);
  CHECK(a->name == "zimbraVirtualHostname");
  CHECK(find("ZIMBRAIMAPPROXYBINDPORT")->name == "zimbraImapProxyBindPort");
  CHECK(find("zimbraNoSuchThing") == nullptr);
  CHECK(find("") == nullptr);
}

TEST_CASE("names that do not exist in Zimbra are refused with a hint", "[schema]") {
  CHECK(find("zimbraReverseProxyUpstreamLoginTimeout") == nullptr);
  CHECK(suggest("zimbraReverseProxyIPThrottleMsgs") == "zimbraReverseProxyIpThrottleMsg");
  CHECK(suggest("zimbraImapProxyBindPrt") == "zimbraImapProxyBindPort");
  CHECK(suggest("completelyDifferent").empty());
}

TEST_CASE("registry table is sorted, unique and self-consistent", "[schema]") {
  const auto attrs = all();
  CHECK(attrs.size() >= 130);
  std::set<std::string> seen;
  for (const Attribute& a : attrs) {
    INFO(a.name);
    CHECK(seen.insert(zmproxy::core::to_lower(a.name)).second);
    CHECK(find(a.name) == &a);
    CHECK(a.kinds != 0);
    CHECK((a.inherit & ~a.kinds) == 0);
    CHECK(!a.description.empty());
    if (!a.multi) {
      CHECK(a.defaults.size() <= 1);
    }
    if (a.type == Type::enumeration) {
      CHECK(!a.values.empty());
    }
    for (std::string_view d : a.defaults) {
      // Every default passes its own attribute's validation unchanged.
      auto v = normalize_value(a, d);
      REQUIRE(v);
      CHECK(*v == d);
    }
  }
}

TEST_CASE("kind names parse", "[schema]") {
  CHECK(parse_kind("globalConfig") == Kind::global);
  CHECK(parse_kind("server") == Kind::server);
  CHECK(parse_kind("Domain") == Kind::domain);
  CHECK_FALSE(parse_kind("cos"));
  CHECK(kinds_text(static_cast<KindSet>(Kind::global) | static_cast<KindSet>(Kind::server)) ==
        "globalConfig, server");
}
