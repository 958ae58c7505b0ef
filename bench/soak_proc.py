"""bench/soak's view of a process and the limits it raises: resident memory,
open descriptors and what they are, RLIMIT_NOFILE and inotify instances."""
import collections
import os
import resource
import sys


def rss_kib(pid):
    """VmRSS of pid in KiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def fd_count(pid):
    """Open descriptors of pid (0 when it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def _tcp_sockets(pid):
    """{inode: (local "addr:port", remote "addr:port", listening)} of the
    IPv4 TCP sockets in pid's network namespace."""
    out = {}
    try:
        with open(f"/proc/{pid}/net/tcp") as f:
            next(f)
            for line in f:
                p = line.split()
                out[p[9]] = (_addr(p[1]), _addr(p[2]), p[3] == "0A")
    except (OSError, IndexError, StopIteration, ValueError):
        pass
    return out


def _addr(hex_addr):
    ip, port = hex_addr.split(":")
    quad = ".".join(str(int(ip[i:i + 2], 16)) for i in (6, 4, 2, 0))  # little-endian on x86
    return f"{quad}:{int(port, 16)}"


def fd_kinds(pid, client_port, remotes=None):
    """pid's descriptors counted by kind: "clients" (accepted on client_port),
    "tcp listen", the connections to a remote "addr:port" named in `remotes`
    ({address: kind}) by that kind, "tcp to <remote>" for others, "unix or
    other socket", "pipe", "anon <kind>", "file"."""
    remotes = remotes or {}
    tcp = _tcp_sockets(pid)
    kinds = collections.Counter()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return {}
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            sock = tcp.get(target[8:-1])
            if sock is None:
                kinds["unix or other socket"] += 1
            elif sock[2]:
                kinds["tcp listen"] += 1
            elif sock[0].endswith(f":{client_port}"):
                kinds["clients"] += 1
            else:
                kinds[remotes.get(sock[1], f"tcp to {sock[1]}")] += 1
        elif target.startswith("pipe:"):
            kinds["pipe"] += 1
        elif target.startswith("anon_inode:"):
            kinds[f"anon {target[11:].strip('[]')}"] += 1
        else:
            kinds["file"] += 1
    return dict(sorted(kinds.items()))


def raise_nofile(limit):
    """RLIMIT_NOFILE soft = hard = limit for this process and the servers it
    starts, as LimitNOFILE= in a service unit (needs root to raise the hard
    limit; otherwise the soft one is raised to the hard one). Returns (soft, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, max(limit, hard)))
    except (ValueError, OSError):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
    got = resource.getrlimit(resource.RLIMIT_NOFILE)
    if got[0] < limit:
        print(f"note: the open-file limit is {got[0]}, below {limit}; run as root or raise "
              "ulimit -Hn", file=sys.stderr)
    return got


def raise_inotify(instances):
    """Dovecot's IDLE (before hibernation) uses one inotify instance per
    session, counted per user: fs.inotify.max_user_instances at least
    `instances`."""
    path = "/proc/sys/fs/inotify/max_user_instances"
    try:
        with open(path) as f:
            if int(f.read()) >= instances:
                return
        with open(path, "w") as f:
            f.write(f"{instances}\n")
    except (OSError, ValueError) as e:
        print(f"note: could not raise {path}: {e}", file=sys.stderr)
