#pragma once
// The TCP control endpoint's words (issue 19, fleet-wide admin), shared by
// the daemons (control_endpoint.*) and the tools (control_endpoint_client.*).
// Pure, but for make_control_nonce (OpenSSL's random generator).
//
//   server:  ZMPROXY-CONTROL 1 <nonce>           32 hex digits, new per connection
//   client:  <proof> <command>                   proof = control_proof(secret, nonce, command)
//   server:  the command's reply line, then closes ("ERROR ..." when refused)
//
// The secret never crosses the wire: the proof is HMAC-SHA256 of the secret
// over the nonce and the command, so it is good for that one command on that
// one connection (a captured line replayed on another connection meets
// another nonce). Only an allowlist of commands is served over TCP.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::net {

inline constexpr std::string_view k_control_greeting = "ZMPROXY-CONTROL 1 ";
// zmproxy_control_secret: shorter secrets are refused (no listener).
inline constexpr std::size_t k_control_secret_min = 16;

// 16 random bytes as 32 lower-case hex digits; "" when OpenSSL has no randomness.
std::string make_control_nonce();

// HMAC-SHA256(secret, "zmproxy-control " + nonce + " " + command) as hex.
std::string control_proof(std::string_view secret,
                          std::string_view nonce,
                          std::string_view command);

// The client's line checked against the nonce, in constant time over the MAC.
bool control_proof_matches(std::string_view proof,
                           std::string_view secret,
                           std::string_view nonce,
                           std::string_view command);

// The nonce of a greeting line; nullopt when it is not one.
std::optional<std::string> greeting_nonce(std::string_view line);

struct ControlAnswer {
  std::string_view proof;
  std::string_view command;
};
// "<proof> <command>" split; nullopt when there is no space or no command.
std::optional<ControlAnswer> split_control_answer(std::string_view line);

// The allowlists: zmproxyd serves STATUS, FORGET ALL and FORGET <names...>
// (printable names separated by single spaces); zmlookupd FLUSH and STATS.
bool proxy_endpoint_allows(std::string_view command);
bool lookup_endpoint_allows(std::string_view command);

}  // namespace zmproxy::net
