"""Hosts for the multi-host drill (manage.py cluster_drill), made of Linux namespaces on this machine (root only).

Each host is a network namespace `sonic-drill-<pid>-<name>` with one interface, eth0, holding one address on a
private /24 and no other route (no default route: nothing can leave), plus a mount and a UTS namespace of its own
(kept by bind mounts under /run/sonic-drill-<pid>/) in which its hostname is its name, /tmp, /var/tmp and /dev/shm are
fresh tmpfs (its own empty disk), /etc/hosts names the drill's hosts and the rest of the file system is read-only,
so a host writes nowhere but its own disk. The hosts' veth peers are the ports of a bridge that lives in a namespace
of its own (`-net`) with no address and no forwarding: the host's own namespace gets no interface and no address, so
nothing in it can reach a drill host, nor a drill host anything outside the bridge. Processes run on a host through
`nsenter`; a host is torn down by cutting its cable (deleting its bridge port), killing every process in its network
namespace and deleting the namespaces, which takes its disk with them.

Run by hand: `python -m portal.cluster_hosts fetch URL PATH` (an HTTP client with no Django, what the drill's client
host runs) and `python -m portal.cluster_hosts bucket ENDPOINT NAME` (makes a bucket on the data host's S3 server).
"""

import base64
import contextlib
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PREFIX = "sonic-drill-"
RUN_ROOT = Path("/run")
BRIDGE = "br0"
KEPT = "KEPT"  # in a drill's folder of logs that it kept on purpose (it failed): not a leftover to remove
# Private /24s the drill may pick, the first that nothing on this machine uses (addresses and routes).
CANDIDATE_SUBNETS = [ipaddress.ip_network(f"10.213.{n}.0/24") for n in range(256)]


def available() -> str:
    """Why the drill cannot run here, or "" when it can."""
    if os.geteuid() != 0:
        return "the drill makes network, mount and UTS namespaces, which needs root"
    for tool in ("ip", "nsenter", "unshare", "mount", "umount", "findmnt"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = f"{PREFIX}{os.getpid()}-probe"  # a leftover of it is reaped like any other
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` fails here: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    tried = _run(
        [
            "unshare",
            "--mount",
            "--uts",
            "--propagation",
            "private",
            "sh",
            "-ec",
            "mount -t tmpfs probe /tmp && hostname probe",
        ],
        check=False,
    )
    if tried.returncode != 0:
        return f"mount and UTS namespaces with a tmpfs cannot be made here: {tried.stderr.strip()}"
    return ""


def program_paths_under(directory: str) -> list[str]:
    """The project and the Python running it, where they lie under `directory` (outermost folders only)."""
    root = Path(directory).resolve()
    candidates = {Path(__file__).resolve().parents[1], Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    inside = sorted(path for path in candidates if path.is_relative_to(root) and path != root)
    return [str(path) for path in inside if not any(path != other and path.is_relative_to(other) for other in inside)]


def _run(command: list[str], check: bool = True, **options) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **options)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def _ip(*arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["ip", *arguments], check=check)


def _ip_json(*arguments: str) -> list:
    return json.loads(_ip("-j", *arguments).stdout or "[]")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pick_subnet() -> ipaddress.IPv4Network:
    """The first candidate /24 that overlaps no address or route of this machine's own namespace."""
    used = []
    for interface in _ip_json("-4", "addr"):
        for address in interface.get("addr_info", []):
            used.append(ipaddress.ip_network(f"{address['local']}/{address['prefixlen']}", strict=False))
    for route in _ip_json("-4", "route", "show", "table", "all"):
        destination = route.get("dst", "")
        if destination and destination != "default":
            with contextlib.suppress(ValueError):
                used.append(ipaddress.ip_network(destination, strict=False))
    for subnet in CANDIDATE_SUBNETS:
        if not any(subnet.overlaps(network) for network in used):
            return subnet
    raise RuntimeError("every candidate subnet 10.213.0-255.0/24 is in use on this machine")


def namespace_pids(netns: str) -> list[int]:
    done = _ip("netns", "pids", netns, check=False)
    return [int(pid) for pid in done.stdout.split()] if done.returncode == 0 else []


def kill_namespace(netns: str, grace: float = 0.0) -> int:
    """Every process in the network namespace (SIGTERM, then SIGKILL after `grace` seconds); how many there were."""
    pids = namespace_pids(netns)
    if grace:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while namespace_pids(netns) and time.monotonic() < deadline:
            time.sleep(0.1)
    for _ in range(50):
        left = namespace_pids(netns)
        if not left:
            break
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    return len(pids)


def _unmount_tree(folder: Path) -> None:
    """Unmount the namespace files bound under `folder`, then `folder` itself (bound onto itself), and remove it."""
    if not folder.exists():
        return
    for entry in folder.iterdir():
        _run(["umount", "-l", str(entry)], check=False)
    _run(["umount", "-l", str(folder)], check=False)
    shutil.rmtree(folder, ignore_errors=True)


def reap_leftovers() -> list[str]:
    """What earlier drills that died without cleaning up left behind (namespaces, their processes, bind mounts, temp
    folders), removed; a drill still running (its process alive) is left alone. What was removed."""
    removed = []
    for entry in _ip_json("netns", "list"):
        name = entry.get("name", "")
        match = re.match(rf"^{PREFIX}(\d+)-", name)
        if match and not _pid_alive(int(match.group(1))):
            kill_namespace(name)
            _ip("netns", "del", name, check=False)
            removed.append(f"namespace {name}")
    for folder in RUN_ROOT.glob(f"{PREFIX}*"):
        match = re.match(rf"^{PREFIX}(\d+)$", folder.name)
        if match and not _pid_alive(int(match.group(1))):
            _unmount_tree(folder)
            removed.append(str(folder))
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        match = re.match(rf"^{PREFIX}(\d+)-", folder.name)
        # A drill that failed keeps its logs (and says where); one that was killed leaves them to be removed here.
        if match and not _pid_alive(int(match.group(1))) and folder.is_dir() and not (folder / KEPT).exists():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(str(folder))
    return removed


class Host:
    """One machine of the drill: its namespaces, its address, the processes started on it."""

    def __init__(self, cluster: "Cluster", name: str, address: ipaddress.IPv4Address):
        self.cluster, self.name, self.address = cluster, name, address
        self.netns = f"{cluster.prefix}-{name}"
        self.port = f"p-{name}"[:15]  # its cable's end on the bridge
        self.mount_ns = cluster.run_dir / f"{name}.mnt"
        self.uts_ns = cluster.run_dir / f"{name}.uts"
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.up = False
        self.counters: dict = {}  # bytes and packets through its cable, read before it goes

    # --- making and unmaking ---------------------------------------------------------------------------------

    def create(self, disk_mb: int) -> None:
        _ip("netns", "add", self.netns)
        self.up = True
        self._sysctl(
            "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", "net.ipv4.ip_forward=0"
        )
        cluster = self.cluster
        _ip(
            "-n",
            cluster.bridge_ns,
            "link",
            "add",
            self.port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            self.netns,
        )
        _ip("-n", cluster.bridge_ns, "link", "set", self.port, "master", BRIDGE, "up")
        _ip("-n", self.netns, "addr", "add", f"{self.address}/{cluster.subnet.prefixlen}", "dev", "eth0")
        _ip("-n", self.netns, "link", "set", "eth0", "up")
        _ip("-n", self.netns, "link", "set", "lo", "up")
        for path in (self.mount_ns, self.uts_ns):
            path.touch()
        # The disk: tmpfs on /tmp, /var/tmp and /dev/shm; the rest of the file system read-only (per mount, here only).
        # The programs it runs stay visible where they are, read-only, should they live under /tmp (a CI clone).
        kept = program_paths_under("/tmp")
        holders = [cluster.run_dir / f"{self.name}.keep{index}" for index in range(len(kept))]
        for holder in holders:
            holder.mkdir(exist_ok=True)
        setup = "; ".join(
            [
                f"hostname {self.name}",
                *(f"mount --bind {path} {holder}" for path, holder in zip(kept, holders, strict=True)),
                f"mount -t tmpfs -o size={disk_mb}m,mode=1777 {self.netns}-disk /tmp",
                *(
                    f"mkdir -p {path} && mount --bind {holder} {path}"
                    f" && mount -o remount,bind,ro {path} && umount {holder}"
                    for path, holder in zip(kept, holders, strict=True)
                ),
                f"mount -t tmpfs -o size=64m,mode=1777 {self.netns}-vartmp /var/tmp",
                f"mount -t tmpfs -o size=256m,mode=1777 {self.netns}-shm /dev/shm",
                f"mount --bind {cluster.hosts_file} /etc/hosts",
                f"mount --bind {cluster.resolv_file} /etc/resolv.conf",
                # Its copies of the namespace files bound on this machine (`ip netns`'s, earlier hosts'): they would
                # keep those namespaces alive after they are deleted.
                "findmnt -rno TARGET | grep -E '^/run/(netns|sonic-drill-)' | sort -r | xargs -r -n1 umount -l || true",
                "mount -o remount,bind,ro /",
                "mkdir -p /tmp/home",
            ]
        )
        _run(
            [
                "unshare",
                f"--mount={self.mount_ns}",
                f"--uts={self.uts_ns}",
                "--propagation",
                "private",
                "sh",
                "-ec",
                setup,
            ]
        )

    def _sysctl(self, *settings: str) -> None:
        _run(["ip", "netns", "exec", self.netns, "sysctl", "-q", "-w", *settings])

    def cut(self) -> None:
        """Pull its cable: its bridge port (and with it its eth0) is deleted; nothing it sends arrives anywhere."""
        self.read_counters()
        _ip("-n", self.cluster.bridge_ns, "link", "del", self.port, check=False)

    def destroy(self, grace: float = 5.0) -> int:
        """Kill every process on it and delete its namespaces (its disk goes with them); processes it had."""
        if not self.up:
            return 0
        killed = kill_namespace(self.netns, grace=grace)
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        for path in (self.mount_ns, self.uts_ns):
            _run(["umount", "-l", str(path)], check=False)
            path.unlink(missing_ok=True)
        _ip("netns", "del", self.netns, check=False)
        self.up = False
        return killed

    # --- running things on it ---------------------------------------------------------------------------------

    def command(self, argv: list[str], user: str | None = None) -> list[str]:
        prefix = [
            "nsenter",
            f"--net=/run/netns/{self.netns}",
            f"--mount={self.mount_ns}",
            f"--uts={self.uts_ns}",
            f"--wd={self.cluster.base_dir}",
        ]
        if user:
            import pwd

            entry = pwd.getpwnam(user)
            prefix += [f"--setuid={entry.pw_uid}", f"--setgid={entry.pw_gid}"]
        return [*prefix, "--", *argv]

    def start(self, label: str, argv: list[str], env: dict, user: str | None = None) -> subprocess.Popen:
        """A long-running process on this host; its output goes to a log of the drill's (the host's console)."""
        log = self.cluster.workdir / f"{self.name}-{label}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(
                self.command(argv, user),
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.processes[label], self.logs[label] = process, log
        return process

    def run(
        self,
        label: str,
        argv: list[str],
        env: dict,
        user: str | None = None,
        timeout: float = 300,
        stdin: bytes | None = None,
    ) -> subprocess.CompletedProcess:
        """A command on this host, waited for; its output is returned and kept in the drill's log too."""
        log = self.cluster.workdir / f"{self.name}-{label}.log"
        started = time.monotonic()
        done = subprocess.run(
            self.command(argv, user),
            env=env,
            capture_output=True,
            timeout=timeout,
            input=stdin if stdin is not None else b"",
        )
        with log.open("ab") as output:
            output.write(done.stdout + done.stderr)
        self.cluster.ran.append((self.name, label, time.monotonic() - started, done.returncode))
        return done

    def stream(self, label: str, argv: list[str], env: dict) -> subprocess.Popen:
        """A command on this host whose output the drill reads as it comes (its stderr goes to the log)."""
        log = self.cluster.workdir / f"{self.name}-{label}.log"
        with log.open("ab") as errors:
            return subprocess.Popen(
                self.command(argv), env=env, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, text=True
            )

    def write(self, path: str, content: bytes, user: str | None = None) -> None:
        """A file on this host's own disk."""
        done = subprocess.run(self.command(["sh", "-c", 'cat > "$0"', path], user), input=content, capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"could not write {path} on {self.name}: {done.stderr.decode(errors='replace')}")

    def files(self, folder: str) -> dict[str, bytes]:
        """The files in a folder of this host's disk (for its mail), read through its mount namespace."""
        script = (
            "import base64, json, pathlib, sys; folder = pathlib.Path(sys.argv[1]); print(json.dumps("
            "{p.name: base64.b64encode(p.read_bytes()).decode() for p in sorted(folder.glob('*')) "
            "if p.is_file()} if folder.is_dir() else {}))"
        )
        done = _run(["nsenter", f"--mount={self.mount_ns}", "--", sys.executable, "-c", script, folder])
        return {name: base64.b64decode(data) for name, data in json.loads(done.stdout).items()}

    def disk_used(self) -> int:
        """Bytes used on its own disk (/tmp)."""
        done = _run(["nsenter", f"--mount={self.mount_ns}", "--", "df", "-B1", "--output=used", "/tmp"], check=False)
        numbers = re.findall(r"\d+", done.stdout)
        return int(numbers[-1]) if numbers else 0

    def copy_out(self, path: str, target: Path) -> None:
        done = subprocess.run(["nsenter", f"--mount={self.mount_ns}", "--", "cat", path], capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"could not read {path} on {self.name}")
        target.write_bytes(done.stdout)

    def pids(self) -> list[int]:
        return namespace_pids(self.netns) if self.up else []

    def process_names(self) -> list[str]:
        """Its processes now, by program name, with how many of each."""
        names: dict[str, int] = {}
        for pid in self.pids():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            words = [word.decode(errors="replace") for word in argv if word]
            name = _program(words)
            names[name] = names.get(name, 0) + 1
        return [f"{name} x{count}" if count > 1 else name for name, count in names.items()]

    def read_counters(self) -> dict:
        """Bytes and packets through its cable, as the bridge port saw them (rx: sent by the host)."""
        for link in _ip_json("-s", "-n", self.cluster.bridge_ns, "link", "show", "dev", self.port) if self.up else []:
            stats = link.get("stats64") or link.get("stats") or {}
            self.counters = {
                "sent_bytes": stats.get("rx", {}).get("bytes", 0),
                "received_bytes": stats.get("tx", {}).get("bytes", 0),
            }
        return self.counters


def _program(words: list[str]) -> str:
    """A readable name for a process from its argv: the manage.py command, gunicorn, postgres, ..."""
    if not words:
        return "?"
    if "manage.py" in words[:3]:
        rest = words[words.index("manage.py") + 1 :]
        return f"manage.py {rest[0]}" if rest else "manage.py"
    base = Path(words[0]).name
    if base.startswith("python") and len(words) > 1:
        if words[1] == "-m" and len(words) > 2:
            return words[2]
        base = Path(words[1]).name
    if base == "postgres" or words[0].startswith("postgres:"):
        return "postgres"
    return base.split()[0].split(":")[0]  # valkey-server retitles itself "valkey-server ADDRESS:PORT"


class Cluster:
    """The drill's hosts on their bridge. `up()` builds them; `down()` (safe to call twice) removes everything."""

    def __init__(self, names: list[str], workdir: Path, base_dir: Path, disk_mb: int = 1024):
        self.pid = os.getpid()
        self.prefix = f"{PREFIX}{self.pid}"
        self.bridge_ns = f"{self.prefix}-net"
        self.run_dir = RUN_ROOT / self.prefix
        self.workdir, self.base_dir, self.disk_mb = workdir, base_dir, disk_mb
        self.names = names
        self.hosts: dict[str, Host] = {}
        self.subnet: ipaddress.IPv4Network | None = None
        self.bridge_up = False
        self.ran: list[tuple[str, str, float, int]] = []  # (host, label, seconds, exit status) of each run()

    @property
    def hosts_file(self) -> Path:
        return self.run_dir / "hosts"

    @property
    def resolv_file(self) -> Path:
        return self.run_dir / "resolv.conf"

    def up(self) -> None:
        self.subnet = pick_subnet()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # Namespace files may only be bound on a mount that does not propagate (as /run/netns is for `ip netns`).
        _run(["mount", "--bind", str(self.run_dir), str(self.run_dir)])
        _run(["mount", "--make-private", str(self.run_dir)])
        addresses = list(self.subnet.hosts())[1:]  # .1 stays unused: there is no gateway
        for name, address in zip(self.names, addresses, strict=False):
            self.hosts[name] = Host(self, name, address)
        self.hosts_file.write_text(
            "127.0.0.1 localhost\n" + "".join(f"{host.address} {host.name}\n" for host in self.hosts.values())
        )
        # No name server: a name that is not a drill host resolves nowhere (the host's own loopback, which refuses).
        self.resolv_file.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        _ip("netns", "add", self.bridge_ns)
        self.bridge_up = True
        _run(
            [
                "ip",
                "netns",
                "exec",
                self.bridge_ns,
                "sysctl",
                "-q",
                "-w",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
                "net.ipv4.ip_forward=0",
            ]
        )
        _ip("-n", self.bridge_ns, "link", "add", BRIDGE, "type", "bridge")
        _ip("-n", self.bridge_ns, "link", "set", BRIDGE, "up")
        for host in self.hosts.values():
            host.create(self.disk_mb)

    def down(self) -> None:
        for host in reversed(list(self.hosts.values())):  # the data host last: the others' last words reach it
            try:
                host.read_counters()
            except Exception:  # noqa: BLE001 - counters are for the report; cleaning up goes on regardless
                pass
            host.destroy(grace=3.0)
        if self.bridge_up:
            kill_namespace(self.bridge_ns)
            _ip("netns", "del", self.bridge_ns, check=False)
            self.bridge_up = False
        _unmount_tree(self.run_dir)

    def containment(self) -> list[tuple[str, bool]]:
        """Checks that traffic cannot leave the drill's namespaces: (what, held)."""
        subnet = str(self.subnet)
        routes_ok, addresses_ok, forwarding_ok = True, True, True
        for host in self.hosts.values():
            if not host.up:
                continue
            routes = _ip_json("-n", host.netns, "-4", "route", "show", "table", "all")
            for route in routes:
                if route.get("dst") == "default" or (
                    route.get("type") not in ("local", "broadcast") and route.get("dst") != subnet
                ):
                    routes_ok = False
            if _ip_json("-n", host.netns, "-6", "route"):
                routes_ok = False
            names = {link["ifname"] for link in _ip_json("-n", host.netns, "link")}
            addresses = [
                (link["ifname"], info["local"])
                for link in _ip_json("-n", host.netns, "addr")
                for info in link.get("addr_info", [])
            ]
            if names != {"lo", "eth0"} or sorted(addresses) != sorted(
                [("eth0", str(host.address)), ("lo", "127.0.0.1")]
            ):
                addresses_ok = False
            forwarding = _run(["ip", "netns", "exec", host.netns, "sysctl", "-n", "net.ipv4.ip_forward"])
            forwarding_ok &= forwarding.stdout.strip() == "0"
        bridge_links = _ip_json("-n", self.bridge_ns, "link")
        ports = {link["ifname"] for link in bridge_links if link.get("master") == BRIDGE}
        bridge_addresses = [
            info
            for link in _ip_json("-n", self.bridge_ns, "addr")
            for info in link["addr_info"]
            if link["ifname"] != "lo"
        ]
        bridge_ok = (
            ports == {host.port for host in self.hosts.values() if host.up}
            and not bridge_addresses
            and not _ip_json("-n", self.bridge_ns, "-4", "route")
        )
        own_links = {link["ifname"] for link in _ip_json("link")}
        outside_ok = not any(name.startswith("p-") or name == BRIDGE for name in own_links) and not any(
            ipaddress.ip_address(info["local"]) in self.subnet
            for link in _ip_json("-4", "addr")
            for info in link.get("addr_info", [])
        )
        return [
            (f"no drill host has a default route or any route beyond {subnet} (IPv6 off)", routes_ok),
            (f"each drill host has only lo and eth0, with its one address on {subnet}", addresses_ok),
            ("no drill host forwards packets", forwarding_ok),
            (
                "the bridge (namespace of its own) has no address and no route; its ports are the drill hosts'",
                bridge_ok,
            ),
            ("this machine's own namespace has no drill interface and no address on the drill's subnet", outside_ok),
        ]


# --- run on the drill's hosts, without Django ---------------------------------------------------------------------


def fetch(url: str, target: str, headers: dict[str, str]) -> dict:
    """GET `url` without following redirects, then follow one redirect (as a browser would, to storage) and save the
    body; what happened, and what the file is (MP4 container, duration) when it is a video."""
    import urllib.error
    import urllib.request

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirects)
    request = urllib.request.Request(url, headers=headers)
    outcome: dict = {"url": url}
    try:
        response = opener.open(request, timeout=30)
    except urllib.error.HTTPError as answer:
        response = answer
    outcome["status"] = response.status
    location = response.headers.get("Location")
    outcome["location"] = location
    if location and response.status in (301, 302, 303, 307, 308):
        response = opener.open(urllib.request.Request(location), timeout=60)
        outcome["followed_status"] = response.status
    body = response.read()
    outcome["content_type"] = response.headers.get("Content-Type", "")
    Path(target).write_bytes(body)
    outcome.update({"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(), "ftyp": ""})
    if body[4:8] == b"ftyp":
        outcome["ftyp"] = body[8:12].decode("ascii", "replace")
        import av

        with av.open(target) as container:
            outcome["container"] = container.format.name
            outcome["duration"] = container.duration / 1_000_000 if container.duration else 0.0
            outcome["streams"] = [stream.type for stream in container.streams]
            video = container.streams.video[0] if container.streams.video else None
            outcome["frames"] = sum(1 for _ in container.decode(video=0)) if video is not None else 0
    return outcome


def make_bucket(endpoint: str, name: str) -> None:
    import boto3

    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="drill", aws_secret_access_key="drill"
    ).create_bucket(Bucket=name)


def _main(argv: list[str]) -> int:
    if argv[:1] == ["fetch"] and len(argv) >= 3:
        headers = dict(header.split(":", 1) for header in argv[3:])
        print("DRILL-RESULT " + json.dumps(fetch(argv[1], argv[2], {k.strip(): v.strip() for k, v in headers.items()})))
        return 0
    if argv[:1] == ["bucket"] and len(argv) == 3:
        make_bucket(argv[1], argv[2])
        return 0
    print(__doc__.split("\n\n")[-1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
