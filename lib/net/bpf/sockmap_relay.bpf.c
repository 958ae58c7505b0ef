// The kernel relay's program (issue 18): an sk_skb stream verdict that sends
// every byte a relayed socket receives straight to its peer's transmit queue.
// Built with clang --target=bpf and embedded by `bpftool gen skeleton`
// (lib/CMakeLists.txt); loaded by lib/net/sockmap_relay.cpp while zmproxyd
// is still root. No stream parser: the verdict sees the bytes as they come.
//
// socks:  the relayed sockets, keyed by socket cookie (the verdict runs on them).
// peers:  per socket cookie, its peer's cookie and its slot in counts.
// counts: per slot, the bytes redirected from that socket to its peer
//         (mmapped by the proxy: its EOF wait and the access log read them
//         without a system call).

#include <linux/bpf.h>  // first: bpf_helpers.h needs its types

#include <bpf/bpf_helpers.h>

#define RELAY_SOCKETS 65536

struct peer {
  __u64 cookie;  // the peer's key in socks
  __u32 slot;    // this socket's counter in counts
  __u32 pad;
};

struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, RELAY_SOCKETS);
  __type(key, __u64);
  __type(value, __u32);
} socks SEC(".maps");

// The redirect targets, keyed by socket cookie, with no program: both
// sockets of a pair are put here before either is put in socks (where the
// verdict runs), so a byte never finds its peer missing (a redirect to a
// missing key drops it).
struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, RELAY_SOCKETS);
  __type(key, __u64);
  __type(value, __u32);
} targets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, RELAY_SOCKETS);
  __type(key, __u64);
  __type(value, struct peer);
} peers SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, RELAY_SOCKETS);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, __u64);
} counts SEC(".maps");

SEC("sk_skb/stream_verdict")
int relay_verdict(struct __sk_buff* skb) {
  if (skb->len == 0) {
    // A bare FIN. TCP has taken it already (the socket is half closed,
    // which wakes the proxy); redirected, the peer's send of zero bytes
    // would fail and stop its transmit for good (EPIPE).
    return SK_DROP;
  }
  __u64 cookie = bpf_get_socket_cookie(skb);
  struct peer* p = bpf_map_lookup_elem(&peers, &cookie);
  if (!p) {
    return SK_DROP;  // being taken apart: the proxy closes both sockets
  }
  __u32 slot = p->slot;
  __u64* n = bpf_map_lookup_elem(&counts, &slot);
  if (n) {
    __sync_fetch_and_add(n, skb->len);
  }
  // flags 0: to the peer's egress (its transmit queue), not its receive queue.
  return bpf_sk_redirect_hash(skb, &targets, &p->cookie, 0);
}

char LICENSE[] SEC("license") = "GPL";
