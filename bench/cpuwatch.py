#!/usr/bin/env python3
"""Runs a command and prints, once it ends, where the machine's CPU time went meanwhile.

    python3 bench/cpuwatch.py [--name LABEL=PID ...] -- COMMAND ARGS...
    python3 bench/cpuwatch.py [--name LABEL=PID ...] --quiet CORES MAX_SECONDS

It reads /proc before and after: the whole machine's busy time (from /proc/stat, which
counts processes that came and went too), the load average, and the CPU seconds of each
process alive at both ends, grouped by command name; time in interrupts apart. A PID given by --name, and every
process under it (down to another PID given), is counted under LABEL; COMMAND and all it
waited for are counted as "load"; "others" is the rest of the machine's busy time.
The command's exit status is passed on.

With --quiet it runs nothing: it waits, at most MAX_SECONDS, until the processes that are
neither named nor under a named one have used less than CORES cores over 3 seconds (the
machine is shared), and says how long it waited.
"""
import os
import resource
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def machine():
    """Ticks of all cores since boot: in all, idle (with iowait), and in interrupts
    (irq, softirq: loopback traffic is mostly handled there, charged to no process)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]), v[3] + v[4], v[5] + v[6]


def procs():
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1 : s.rindex(")")]
        fields = s[s.rindex(")") + 2 :].split()
        # fields[0] is field 3 (state): utime is field 14, stime 15.
        out[int(pid)] = (comm, int(fields[11]) + int(fields[12]), int(fields[1]))
    return out


def label(pid, ps, names):
    seen = 0
    while pid in ps and seen < 64:
        if pid in names:
            return names[pid]
        pid = ps[pid][2]
        seen += 1
    return None


def main():
    args = sys.argv[1:]
    names = {}
    while args and args[0] == "--name":
        name, pid = args[1].split("=", 1)
        names[int(pid)] = name
        args = args[2:]
    if len(args) == 3 and args[0] == "--quiet":
        quiet(names, float(args[1]), float(args[2]))
        return
    if not args or args[0] != "--":
        sys.exit("usage: cpuwatch.py [--name LABEL=PID ...] -- COMMAND ARGS... | --quiet CORES MAX_SECONDS")
    args = args[1:]
    t0, (tot0, idle0, irq0), p0 = time.time(), machine(), procs()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rc = subprocess.call(args)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t1, (tot1, idle1, irq1), p1 = time.time(), machine(), procs()
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    busy = (tot1 - tot0) - (idle1 - idle0)
    ncpu = os.cpu_count()
    wall = t1 - t0
    groups = {"load": TICK * ((c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime))}
    for pid, (comm, t, _) in p1.items():
        if pid not in p0 or p0[pid][0] != comm:
            continue
        key = label(pid, p1, names) or "other " + comm
        groups[key] = groups.get(key, 0) + (t - p0[pid][1])
    irq = irq1 - irq0
    others = busy - irq - sum(v for k, v in groups.items() if not k.startswith("other "))
    print(f"cpu: {wall:.1f} s wall on {ncpu} cores; machine busy {100 * busy / max(tot1 - tot0, 1):.0f}% "
          f"({busy / TICK:.1f} core-s, of which others {max(others, 0) / TICK:.1f}, interrupts {irq / TICK:.1f}); "
          f"load average {load}")
    shown = sorted(groups.items(), key=lambda kv: -kv[1])
    line = ", ".join(f"{k} {v / TICK:.1f}" for k, v in shown[:10] if v > 0)
    print(f"cpu core-s by process: {line}")
    sys.exit(rc)


def others_busy(names, secs):
    """The cores used over secs seconds by processes neither named nor under a named one."""
    tot0, idle0, irq0 = machine()
    p0 = procs()
    time.sleep(secs)
    tot1, idle1, irq1 = machine()
    p1 = procs()
    busy = (tot1 - tot0) - (idle1 - idle0) - (irq1 - irq0)
    mine = sum(t - p0[pid][1] for pid, (comm, t, _) in p1.items()
               if pid in p0 and p0[pid][0] == comm and label(pid, p1, names))
    return max(busy - mine, 0) / TICK / secs


def quiet(names, cores, max_wait):
    start = time.time()
    while True:
        used = others_busy(names, 3)
        waited = time.time() - start
        if used < cores or waited >= max_wait:
            state = "quiet" if used < cores else "STILL BUSY"
            print(f"waited {waited:.0f} s for the machine: {state}, others used {used:.2f} cores over the last 3 s")
            return


if __name__ == "__main__":
    main()
