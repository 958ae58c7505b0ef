"""The whole server core's busy time, from /proc/stat, for bench/compare.

Per-process CPU (utime+stime) misses what the kernel does on a process's
behalf outside it: kworkers, ksoftirqd, softirq work run on return from an
interrupt, a relay handed to the kernel (BPF sockhash, splice). The busy time
of the core the servers are pinned to sees all of it, along with the proxy,
the backends and the lookup service, and also whatever else the machine
runs there (on a shared machine, other people's builds): read it together
with the load average.

Busy = user + nice + system + irq + softirq + steal; idle and iowait are
not busy, guest and guest_nice are already inside user and nice.
"""
import os

CLK_TCK = os.sysconf("SC_CLK_TCK")
# /proc/stat's columns after the name, in order (proc(5)).
COLUMNS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")
BUSY = ("user", "nice", "system", "irq", "softirq", "steal")


def parse_cpu_line(text, cpu):
    """{column: ticks} of the `cpu<N>` line of /proc/stat's text; KeyError
    when the CPU has no line (offline or absent). Columns a kernel does not
    have (old kernels end after steal) read 0."""
    name = f"cpu{cpu}"
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == name:
            values = [int(x) for x in fields[1:]]
            values += [0] * (len(COLUMNS) - len(values))
            return dict(zip(COLUMNS, values))
    raise KeyError(f"/proc/stat has no {name} line")


def busy_ms(columns):
    return sum(columns[c] for c in BUSY) * 1000.0 / CLK_TCK


def core_busy_ms(cpu, path="/proc/stat"):
    """Busy milliseconds of `cpu` since boot."""
    with open(path) as f:
        return busy_ms(parse_cpu_line(f.read(), cpu))


def load_average():
    """The 1, 5 and 15 minute load averages, as a string."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


PF_KTHREAD = 0x00200000


def others_pinned_to(cpu, mine=()):
    """{pid: command} of the user-space processes, other than the pids in
    `mine`, that may run on `cpu` only: on a shared machine, someone else's
    benchmark, all of whose time the whole-core figure counts. Kernel threads
    are left out (their time belongs to the figure)."""
    found = {}
    mine = set(mine)
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in mine:
            continue
        pid = int(name)
        try:
            if os.sched_getaffinity(pid) != {cpu}:
                continue
            with open(f"/proc/{pid}/stat") as f:
                flags = int(f.read().rsplit(")", 1)[1].split()[6])
            if flags & PF_KTHREAD:
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError, IndexError):
            continue
        if cmd:
            found[pid] = cmd
    return found
