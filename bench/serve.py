"""Serving benchmark: trio-dns against a single-threaded Unbound, side by side.

Run by hand, as root (NSD binds port 53 on 127.53.40.x), with dnsperf, unbound and
nsd installed from Debian:

    .venv/bin/python bench/serve.py [--duration 10] [--cold 5000] [--repeat 3]
                                    [--memory 100000]
                                    [--only trio-dns|unbound|floor] [--workers]

It starts a small real hierarchy (root -> lab. -> leaf.lab., NSD, port 53), then
for each resolver, pinned to CPU 1 with dnsperf on CPU 0:
- cache hits: a warm-up, then dnsperf repeating a few cached names for --duration s;
- cold recursion: every query a new name under a wildcard in leaf.lab., so every
  one is a cache miss that goes root -> lab -> leaf (after the first, the
  delegations are cached, as they are for a real resolver's traffic); --repeat
  runs of --cold queries each, of which the median (by queries/s) is shown.
It prints queries/s, mean and p99 latency, server CPU per query and RSS, and
the ratio trio-dns / Unbound for each. Nothing leaves the loopback interface.

Memory: a fresh trio-dns and a fresh Unbound, each with room in its cache for
everything, are sent --memory new names (one A RRset each, under the same
wildcard); the growth of RSS divided by the names answered is the memory one
cached RRset costs, with everything that comes with it (the cache entry, the
message or encoded-reply cache's share, allocator slack). --memory 0 skips it.

A third column, "floor", is bench/trio_floor.py run through the cold test: a
Trio relay with trio-dns's shape (a task, a cancel scope and a fresh socket per
query) that does no DNS work at all. Its ratio to Unbound is the most any
resolver built this way could reach on this machine. Beside it, on the same CPU,
runs bench/cold_path.py's baseline: the parsing and encoding a cold query needs
(the client's query, the upstream query, the reply, the answer), with trio-dns's
own wire code and no sockets. Its cost over the floor's is printed last: no
resolver on this wire code can cost less than 1 + that times the floor.

`--workers` compares trio-dns with itself instead: one process (pinned to CPU 1,
dnsperf on CPU 0, as above) against `--workers 2` on this 2-core machine, where
the two workers and dnsperf all share both CPUs (taskset -c 0,1 for each), since
a second worker has no core of its own to take. CPU per query is then the whole
process tree's (supervisor and workers), and the ratio column is 2 workers / 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.servers import ServerPool  # noqa: E402

ROOT_ADDR, TLD_ADDR, LEAF_ADDR = "127.53.40.1", "127.53.40.2", "127.53.40.3"
RESOLVER_ADDRS = {
    "unbound": "127.53.40.100",
    "trio-dns": "127.53.40.101",
    "floor": "127.53.40.102",
    "trio-dns-2w": "127.53.40.103",
    "trio-dns-mem": "127.53.40.104",
    "unbound-mem": "127.53.40.105",
}
RESOLVER_PORT = 5300
HITS = ["www.leaf.lab", "mail.leaf.lab", "leaf.lab", "ns.leaf.lab"]

ROOT_ZONE = f"""$TTL 86400
. SOA ns.root. hostmaster.root. 1 1800 900 604800 86400
. NS ns.root.
ns.root. A {ROOT_ADDR}
lab. NS ns.lab.
ns.lab. A {TLD_ADDR}
"""
TLD_ZONE = f"""$TTL 86400
lab. SOA ns.lab. hostmaster.lab. 1 1800 900 604800 86400
lab. NS ns.lab.
ns.lab. A {TLD_ADDR}
leaf.lab. NS ns.leaf.lab.
ns.leaf.lab. A {LEAF_ADDR}
"""
LEAF_ZONE = f"""$TTL 3600
leaf.lab. SOA ns.leaf.lab. hostmaster.leaf.lab. 1 1800 900 604800 300
leaf.lab. NS ns.leaf.lab.
leaf.lab. A 192.0.2.1
ns.leaf.lab. A {LEAF_ADDR}
www.leaf.lab. A 192.0.2.80
mail.leaf.lab. A 192.0.2.25
*.cold.leaf.lab. A 192.0.2.99
"""


def unbound_command(directory: Path, hints: Path, name: str = "unbound") -> list[str]:
    config = directory / f"{name}.conf"
    config.write_text(
        f"""server:
    interface: {RESOLVER_ADDRS[name]}@{RESOLVER_PORT}
    port: {RESOLVER_PORT}
    num-threads: 1
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{directory}"
    pidfile: "{directory}/{name}.pid"
    logfile: ""
    use-syslog: no
    verbosity: 0
    root-hints: "{hints}"
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    qname-minimisation: yes
    do-ip6: no
    msg-cache-size: 256m
    rrset-cache-size: 256m
remote-control:
    control-enable: no
"""
    )
    return ["unbound", "-d", "-c", str(config)]


def trio_dns_command(
    directory: Path, hints: Path, workers: int = 1, name: str | None = None
) -> list[str]:
    if name is None:
        name = "trio-dns" if workers == 1 else f"trio-dns-{workers}w"
    # Room for every name the memory test sends, as Unbound's 256m has.
    config = directory / f"{name}.toml"
    config.write_text("cache_size = 1000000\ncache_bytes = 1073741824\n")
    return [
        str(REPO / ".venv/bin/trio-dns"),
        "serve",
        "--listen",
        f"{RESOLVER_ADDRS[name]}:{RESOLVER_PORT}",
        "--root-hints",
        str(hints),
        "--no-ipv6",
        "--no-control",
        "--workers",
        str(workers),
        "--config",
        str(config),
    ]


def floor_command(directory: Path, hints: Path) -> list[str]:
    return [
        sys.executable,
        str(REPO / "bench/trio_floor.py"),
        RESOLVER_ADDRS["floor"],
        str(RESOLVER_PORT),
        LEAF_ADDR,
    ]


@contextlib.contextmanager
def pinned(argv: list[str], cpus: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(["taskset", "-c", cpus, *argv], stdout=out, stderr=out)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_answering(host: str, name: str = "www.leaf.lab") -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["dig", f"@{host}", "-p", str(RESOLVER_PORT), name, "+tries=1", "+time=1", "+short"],
            capture_output=True,
            text=True,
        )
        # dig prints its errors to stdout too: only an address means an answer.
        if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", out.stdout.strip().split("\n")[-1]):
            return
        time.sleep(0.2)
    raise SystemExit(f"resolver on {host} never answered")


def _tree(pid: int) -> list[int]:
    """`pid` and its children (taskset execs the server, so they are its own; the
    workers of --workers are the supervisor's children)."""
    pids = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def cpu_seconds(pid: int) -> float:
    """CPU time of `pid` and its children, user and system."""
    total = 0
    for each in _tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    total = 0.0
    for each in _tree(pid):
        try:
            lines = Path(f"/proc/{each}/status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def dnsperf(
    host: str, datafile: Path, args: list[str], verbose: bool, cpus: str = "0"
) -> dict[str, float]:
    argv = [
        "taskset",
        "-c",
        cpus,
        "dnsperf",
        "-s",
        host,
        "-p",
        str(RESOLVER_PORT),
        "-d",
        str(datafile),
    ]
    argv += args + (["-v"] if verbose else [])
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = {}
    qps = re.search(r"Queries per second:\s+([\d.]+)", out)
    sent = re.search(r"Queries sent:\s+(\d+)", out)
    done = re.search(r"Queries completed:\s+(\d+)", out)
    avg = re.search(r"Average Latency \(s\):\s+([\d.]+)", out)
    result["qps"] = float(qps.group(1)) if qps else 0.0
    result["sent"] = float(sent.group(1)) if sent else 0.0
    result["completed"] = float(done.group(1)) if done else 0.0
    result["mean_ms"] = float(avg.group(1)) * 1000 if avg else 0.0
    if verbose:
        latencies = [
            float(m.group(1)) for m in re.finditer(r"^> \S+ .* ([\d.]+)$", out, re.MULTILINE)
        ]
        if len(latencies) >= 100:
            result["p99_ms"] = statistics.quantiles(latencies, n=100)[98] * 1000
    return result


def measure(
    name: str,
    argv: list[str],
    work: Path,
    duration: float,
    cold: int,
    repeat: int,
    server_cpus: str = "1",
    client_cpus: str = "0",
) -> dict[str, float]:
    host = RESOLVER_ADDRS[name]
    log = work / f"{name}.log"
    with pinned(argv, server_cpus, log) as process:
        try:
            wait_answering(host)
        except SystemExit:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        hit: dict[str, float] = {}
        if name != "floor":  # a relay has no cache: only the cold test means anything
            hits = work / "hits.txt"
            hits.write_text("".join(f"{n} A\n" for n in HITS))
            for n in HITS:
                wait_answering(host, n)
            cpu0 = cpu_seconds(process.pid)
            hit = dnsperf(
                host,
                hits,
                ["-l", str(duration), "-c", "8", "-q", "200"],
                verbose=False,
                cpus=client_cpus,
            )
            hit["cpu_us"] = (cpu_seconds(process.pid) - cpu0) / max(hit["completed"], 1) * 1e6
            hit["rss"] = rss_mib(process.pid)
        runs = []
        for run in range(repeat):
            # New names every run, so every query stays a cache miss.
            coldfile = work / f"cold-{name}-{run}.txt"
            coldfile.write_text(
                "".join(f"q{i}.r{run}.{name}.cold.leaf.lab A\n" for i in range(cold))
            )
            cpu0 = cpu_seconds(process.pid)
            miss = dnsperf(
                host, coldfile, ["-n", "1", "-c", "8", "-q", "50"], verbose=True, cpus=client_cpus
            )
            miss["cpu_us"] = (cpu_seconds(process.pid) - cpu0) / max(miss["completed"], 1) * 1e6
            miss["rss"] = rss_mib(process.pid)
            runs.append(miss)
        # The median run by queries/s: this machine's speed drifts by tens of
        # percent over minutes, and one run can land on a slow stretch.
        miss = sorted(runs, key=lambda r: r["qps"])[len(runs) // 2]
    return {**{f"hit_{k}": v for k, v in hit.items()}, **{f"cold_{k}": v for k, v in miss.items()}}


def measure_memory(name: str, argv: list[str], work: Path, count: int) -> dict[str, float]:
    """RSS growth per cached RRset: `count` new names, one A RRset each."""
    host = RESOLVER_ADDRS[name]
    log = work / f"{name}.log"
    with pinned(argv, "1", log) as process:
        wait_answering(host)
        # The minimised probes on the way (a no-data each) are cached once, here.
        wait_answering(host, f"warm.{name}.cold.leaf.lab")
        before = rss_mib(process.pid)
        names = work / f"memory-{name}.txt"
        names.write_text("".join(f"m{i}.{name}.cold.leaf.lab A\n" for i in range(count)))
        sent = dnsperf(host, names, ["-n", "1", "-c", "8", "-q", "50"], verbose=False)
        after = rss_mib(process.pid)
    answered = max(sent["completed"], 1)
    return {
        "mem_names": answered,
        "mem_rss_before": before,
        "mem_rss_after": after,
        "mem_bytes_per_rrset": (after - before) * 1024 * 1024 / answered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--cold", type=int, default=5000, help="cold queries per resolver")
    parser.add_argument("--repeat", type=int, default=3, help="cold runs; the median is shown")
    parser.add_argument(
        "--memory", type=int, default=100_000, help="names for the memory test (0: none)"
    )
    parser.add_argument("--only", choices=["trio-dns", "unbound", "floor"])
    parser.add_argument(
        "--workers",
        action="store_true",
        help="trio-dns with 1 worker against 2 (no Unbound, no floor)",
    )
    args = parser.parse_args()
    for tool in ("dnsperf", "unbound", "nsd", "dig", "taskset"):
        if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin:/sbin") is None:
            raise SystemExit(f"{tool} is needed: apt-get install dnsperf unbound nsd dnsutils")
    with tempfile.TemporaryDirectory() as tmp, ServerPool(Path(tmp)) as pool:
        work = Path(tmp)
        pool.start_many(
            [
                ("nsd", ROOT_ADDR, {".": ROOT_ZONE}),
                ("nsd", TLD_ADDR, {"lab.": TLD_ZONE}),
                ("nsd", LEAF_ADDR, {"leaf.lab.": LEAF_ZONE}),
            ],
            port=53,
        )
        hints = work / "root.hints"
        hints.write_text(f". 3600000 NS ns.root.\nns.root. 3600000 A {ROOT_ADDR}\n")
        results = {}
        commands = {
            "unbound": unbound_command,
            "trio-dns": trio_dns_command,
            "floor": floor_command,
        }
        if args.workers:
            # Everything shares both cores: there is no third to give dnsperf.
            results["trio-dns"] = measure(
                "trio-dns",
                trio_dns_command(work, hints),
                work,
                args.duration,
                args.cold,
                args.repeat,
                server_cpus="0,1",
                client_cpus="0,1",
            )
            results["trio-dns-2w"] = measure(
                "trio-dns-2w",
                trio_dns_command(work, hints, workers=2),
                work,
                args.duration,
                args.cold,
                args.repeat,
                server_cpus="0,1",
                client_cpus="0,1",
            )
            commands = {}
        for name, command in commands.items():
            if args.only and name != args.only:
                continue
            results[name] = measure(
                name, command(work, hints), work, args.duration, args.cold, args.repeat
            )
        if "floor" in results:
            # The DNS work no resolver can skip, with trio-dns's own code, on the
            # floor's CPU and in the same run: how much of the target it takes.
            baseline = [str(Path(__file__).with_name("cold_path.py")), "--wire-only"]
            out = subprocess.run(
                ["taskset", "-c", "1", sys.executable, *baseline, "--queries", "20000"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            results["floor"]["wire_us"] = float(out.split()[-1])
        if args.memory and not args.workers:
            for name, command in (("unbound", unbound_command), ("trio-dns", trio_dns_command)):
                if name in results:
                    argv = command(work, hints, name=f"{name}-mem")
                    results[name].update(measure_memory(f"{name}-mem", argv, work, args.memory))
    keys = [
        ("hit_qps", "cache hits: queries/s"),
        ("hit_mean_ms", "cache hits: mean latency (ms)"),
        ("hit_cpu_us", "cache hits: server CPU per query (us)"),
        ("hit_rss", "cache hits: RSS (MiB)"),
        ("cold_qps", "cold recursion: queries/s"),
        ("cold_mean_ms", "cold recursion: mean latency (ms)"),
        ("cold_p99_ms", "cold recursion: p99 latency (ms)"),
        ("cold_cpu_us", "cold recursion: server CPU per query (us)"),
        ("cold_completed", "cold recursion: queries answered"),
        ("cold_rss", "cold recursion: RSS (MiB)"),
        ("mem_names", "memory: names cached (one A RRset each)"),
        ("mem_rss_before", "memory: RSS before (MiB)"),
        ("mem_rss_after", "memory: RSS after (MiB)"),
        ("mem_bytes_per_rrset", "memory: RSS growth per RRset (bytes)"),
    ]
    # Other work on the machine skews every number, the comparisons most of all.
    print("load average at the end: " + " ".join(f"{load:.1f}" for load in os.getloadavg()))
    names = list(results)
    base_name = "trio-dns" if args.workers else "unbound"
    ratios = [n for n in ("trio-dns", "floor", "trio-dns-2w") if n in results and n != base_name]
    ratios = [n for n in ratios if base_name in results]
    print(
        f"{'':42}"
        + "".join(f"{n:>15}" for n in names)
        + "".join(f"{n + ('/1w' if args.workers else '/ub'):>15}" for n in ratios)
    )
    for key, label in keys:
        if not any(key in results[n] for n in names):
            continue  # a test this run did not do
        row = [results[n].get(key, float("nan")) for n in names]
        line = f"{label:42}" + "".join(f"{v:15.1f}" for v in row)
        base = results.get(base_name, {}).get(key)
        for n in ratios:
            value = results[n].get(key)
            line += f"{value / base:15.2f}" if base and value is not None else f"{'':15}"
        print(line)
    trio_dns, floor = results.get("trio-dns", {}), results.get("floor", {})
    if "cold_cpu_us" in trio_dns and "cold_cpu_us" in floor:
        # The cold-path target: each at most 3x what the do-nothing relay costs.
        print()
        for key, label in (("cold_cpu_us", "CPU per query"), ("cold_p99_ms", "p99 latency")):
            if key in trio_dns and key in floor:
                ratio = trio_dns[key] / floor[key]
                print(
                    f"cold recursion, {'trio-dns / floor:':25}{label:15}{ratio:8.2f}  (target <= 3)"
                )
    if "cold_cpu_us" in floor and "wire_us" in floor:
        # Parsing and encoding alone, before any decision: 1 + this is the least
        # trio-dns / floor could be with this wire code.
        share = floor["wire_us"] / floor["cold_cpu_us"]
        print(
            f"cold recursion, {'wire work alone / floor:':25}{'CPU per query':15}{share:8.2f}"
            f"  (so trio-dns / floor >= {1 + share:.2f})"
        )


if __name__ == "__main__":
    main()
