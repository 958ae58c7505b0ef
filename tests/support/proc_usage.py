"""What a running process uses, read from /proc: resident memory (now, its
high-water mark, the most seen while something runs) and CPU time."""
import os
import threading

CLK_TCK = os.sysconf("SC_CLK_TCK")


def status_kib(pid, field):
    """A "<field>: <n> kB" line of /proc/<pid>/status, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(f"{field} not in /proc/{pid}/status")


def rss_kib(pid):
    return status_kib(pid, "VmRSS")


def cpu_seconds(pid):
    """utime + stime of every thread of pid, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class PeakRss:
    """The largest VmRSS of pid seen while the `with` block runs (sampled
    every `interval` seconds by a thread; the high-water mark VmHWM only
    grows, so a peak at start-up would hide the block's own). `growth_kib`
    is that peak less the RSS when the block began."""

    def __init__(self, pid, interval=0.02):
        self.pid = pid
        self.interval = interval
        self.before_kib = 0
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = None

    def _sample(self):
        while True:
            try:
                self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
            except (OSError, KeyError):
                return  # the process is gone
            if self._stop.wait(self.interval):  # a sampling period, not a synchronisation
                return

    def __enter__(self):
        self.before_kib = self.peak_kib = rss_kib(self.pid)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        try:
            self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
        except (OSError, KeyError):
            pass

    @property
    def growth_kib(self):
        return self.peak_kib - self.before_kib
