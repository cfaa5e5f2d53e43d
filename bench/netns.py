"""Hosts on one machine: Linux network namespaces joined to one bridge by veth pairs (root only).

Each host is a namespace with its own loopback and one interface (``eth0``) on a bridge in the
root namespace; the bridge holds the ``.1`` address of the subnet, so the bench itself reaches
every host. A command runs in a host with its own host name too (a UTS namespace of its own),
so two Celery workers named ``training@%h`` differ as they would on two machines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass


class NamespacesUnavailable(RuntimeError):
    """`ip netns add` (or a link) failed here, e.g. in a container without CAP_NET_ADMIN / CAP_SYS_ADMIN."""


def ip(*args: str) -> str:
    """Run `ip ARGS`; return its output, or raise NamespacesUnavailable with ip's own error text."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise NamespacesUnavailable(f"`ip {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class Host:
    """One namespace: its name, its host name, its address on the bridge, and its veth end in the root namespace."""

    namespace: str
    hostname: str
    address: str
    link: str

    def argv(self, command: list[str]) -> list[str]:
        """Return the argv that runs `command` in this host, under its host name."""
        return ["ip", "netns", "exec", self.namespace, "unshare", "--uts", "--",
                "sh", "-c", 'hostname "$0" && exec "$@"', self.hostname, *command]

    def pids(self) -> list[int]:
        """Return every process living in this host's network namespace."""
        try:
            return [int(p) for p in ip("netns", "pids", self.namespace).split()]
        except NamespacesUnavailable:
            return []

    def kill_all(self, sig: int = signal.SIGKILL) -> list[int]:
        """Send `sig` to every process of the host (what a host that dies does to them); return their pids."""
        pids = self.pids()
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return pids

    def cut(self) -> None:
        """Take the host off the network (its veth end down): peers see silence, not a closed connection."""
        ip("link", "set", self.link, "down")

    def reconnect(self) -> None:
        """Put the host back on the network (its veth end up)."""
        ip("link", "set", self.link, "up")


def _free_subnet(first: int = 231) -> str:
    """Return a 10.N.M prefix no interface of the root namespace uses."""
    used = ip("-o", "-4", "addr")
    for third in range(0, 256):
        prefix = f"10.{first}.{third}"
        if f" {prefix}." not in used:
            return prefix
    raise NamespacesUnavailable(f"no free 10.{first}.x.0/24 subnet")


class Network:
    """A bridge and the hosts attached to it; `close()` removes all of it and ends every process in it."""

    def __init__(self, tag: str) -> None:
        self.tag = tag  # short: interface names hold at most 15 characters
        self.bridge = f"{tag}br"
        self.hosts: list[Host] = []
        self.prefix = _free_subnet()
        self.gateway = f"{self.prefix}.1"
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def add(self, name: str, last_octet: int) -> Host:
        """Make namespace `name` with address prefix.`last_octet`, plugged into the bridge."""
        host = Host(f"{self.tag}-{name}", name, f"{self.prefix}.{last_octet}", f"{self.tag}v{last_octet}")
        ip("netns", "add", host.namespace)
        self.hosts.append(host)  # before the links: close() removes a half-made host too
        ip("link", "add", host.link, "type", "veth", "peer", "name", f"{host.link}p")
        ip("link", "set", f"{host.link}p", "netns", host.namespace)
        ip("link", "set", host.link, "master", self.bridge)
        ip("link", "set", host.link, "up")
        inside = ["netns", "exec", host.namespace, "ip"]
        ip(*inside, "link", "set", f"{host.link}p", "name", "eth0")
        ip(*inside, "addr", "add", f"{host.address}/24", "dev", "eth0")
        ip(*inside, "link", "set", "eth0", "up")
        ip(*inside, "link", "set", "lo", "up")
        return host

    def close(self) -> None:
        """End every process of every host (TERM, then KILL), then remove the namespaces, links and bridge."""
        for host in self.hosts:
            host.kill_all(signal.SIGTERM)
        deadline = time.monotonic() + 15
        while any(h.pids() for h in self.hosts) and time.monotonic() < deadline:
            time.sleep(0.2)
        for host in self.hosts:
            host.kill_all(signal.SIGKILL)
        time.sleep(0.2)
        for host in self.hosts:
            for args in (("link", "del", host.link), ("netns", "del", host.namespace)):
                try:
                    ip(*args)
                except NamespacesUnavailable:
                    pass  # already gone (the veth goes with its namespace)
        try:
            ip("link", "del", self.bridge)
        except NamespacesUnavailable:
            pass
