#include "lib/proxy/connection_slot.hpp"
#include "lib/proxy/peer_connections.hpp"

#include <catch2/catch.hpp>

using zmproxy::proxy::ConnectionSlot;
using zmproxy::proxy::PeerConnections;

namespace {
PeerConnections::Key v4(unsigned char a, unsigned char b, unsigned char c, unsigned char d) {
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}
}  // namespace

TEST_CASE("each address holds at most the cap, and others are not affected", "[proxy][limits]") {
  PeerConnections peers;
  const auto flood = v4(127, 0, 0, 1);
  for (int i = 0; i < 3; ++i) {
    CHECK(peers.try_add(flood, 3));
  }
  CHECK_FALSE(peers.try_add(flood, 3));
  CHECK(peers.try_add(v4(127, 0, 0, 5), 3));
  CHECK(peers.count(flood) == 3);
  peers.remove(flood);
  CHECK(peers.try_add(flood, 3));
  CHECK_FALSE(peers.try_add(v4(10, 0, 0, 1), 0));
  CHECK(peers.count(v4(10, 0, 0, 1)) == 0);  // a refused address leaves no entry
}

TEST_CASE("a connection slot gives its address's place back once, when its last owner ends",
          "[proxy][limits]") {
  PeerConnections peers;
  std::atomic<std::int64_t> worker{1};
  std::atomic<std::int64_t> protocol{1};
  const auto peer = v4(192, 0, 2, 1);
  REQUIRE(peers.try_add(peer, 1));
  {
    ConnectionSlot slot(&worker, &protocol);
    slot.hold_peer(&peers, peer);
    ConnectionSlot moved(std::move(slot));
    CHECK(peers.count(peer) == 1);
  }
  CHECK(peers.count(peer) == 0);
  CHECK(worker == 0);
  CHECK(protocol == 0);
}

TEST_CASE("an IPv6 client is counted by its /64, an IPv4 one by its address", "[proxy][limits]") {
  using Key = zmproxy::proxy::PeerConnections::Key;
  const Key a = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0xaa, 0xbb, 0, 0, 0, 0, 0, 1};
  const Key b = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 2};
  const Key other = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 2, 0xaa, 0xbb, 0, 0, 0, 0, 0, 1};
  using P = zmproxy::proxy::PeerConnections;
  CHECK(P::client_key(a) == P::client_key(b));
  CHECK(P::client_key(a) != P::client_key(other));
  const Key v4a = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
  const Key v4b = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 2};
  CHECK(P::client_key(v4a) == v4a);
  CHECK(P::client_key(v4a) != P::client_key(v4b));
  P peers;
  REQUIRE(peers.try_add(P::client_key(a), 1));
  CHECK_FALSE(peers.try_add(P::client_key(b), 1));
  CHECK(peers.try_add(P::client_key(other), 1));
}
