#pragma once
// A client address written as Zimbra's nginx writes it into throttle:,
// whitelist: (and alias:) keys: c->addr_text, from ngx_inet_ntop. IPv4 is the
// dotted quad. IPv6 is lower-case hex without leading zeros, the first
// longest run of two or more zero groups as "::", no brackets, no zone, and
// nginx's embedded IPv4 forms: "::ffff:a.b.c.d", "::a.b.c.d" for ::/96, and
// for ::/112 the dotted form too unless byte 14 is 0 or byte 15 is 1 ("::1",
// "::101", but "::0.0.1.2" for ::102), as ngx_inet6_ntop decides. glibc's
// inet_ntop (so Asio's to_string) agrees except on that ::/112 quirk and on
// zones. A key built from this text is the key a Zimbra proxy of the fleet
// builds for the same client.
//
// Thread affinity: none (pure functions).

#include "lib/net/address_block.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::throttle {

// `address` is an address alone (bits = the full width); its prefix is ignored.
std::string nginx_address_text(const net::AddressBlock& address);

// Any text form of an address ("2001:DB8:0:0::7", "::FFFF:192.0.2.7") in
// nginx's form; nullopt when it is not an address alone.
std::optional<std::string> nginx_address_text(std::string_view address);

}  // namespace zmproxy::throttle
