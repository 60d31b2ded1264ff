"""The node map: which database server (node) holds which provinces, and the broker between them.

A national deployment cuts along the province, the cut the business already has: every
line-related row carries its home province, so a node holds whole provinces and a request finds
its node from the number's home province (`xiaohu.routing`). The map is a TOML file named by
`XIAOHU_NODE_MAP`:

    broker_url = "amqp://guest:guest@127.0.0.1:5672/%2F"   # messages between nodes
    broker_namespace = "xiaohu"   # prefix of the exchange and queue names (optional)
    default = "north"          # holds what is national: settlement runs, platforms (optional)

    [nodes.north]
    database_url = "postgresql+psycopg://postgres@10.0.0.1:5432/xiaohu"
    provinces = ["11", "12", "13"]

    [nodes.south]
    database_url = "postgresql+psycopg://postgres@10.0.0.2:5432/xiaohu"
    provinces = ["*"]          # every province not named by another node

Without a map there is one node, `local`, on `XIAOHU_DATABASE_URL`, holding every province:
today's deployment, SQLite or one PostgreSQL. Pure: reading and checking, no connection.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xiaohu.regions.provinces import PROVINCES

LOCAL = "local"  # the one node of a deployment without a map
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")
EVERY = "*"  # in a node's provinces: every province no other node names


class NodeMapProblem(ValueError):
    """A node map the process cannot start with; the message names the file's mistake."""


@dataclass(frozen=True)
class Node:
    name: str
    database_url: str
    provinces: frozenset[str]
    # Where this node's generated integer ids start (`national.idblocks`): the nodes' ids never
    # collide, so a province's rows keep their ids when it moves to another node.
    block: int = 0


@dataclass(frozen=True)
class NodeMap:
    nodes: tuple[Node, ...]
    default: str
    broker_url: str | None = None
    source: Path | None = None
    # The prefix of the broker's exchange and queue names, so two deployments (or two test
    # runs) can share one broker without hearing each other.
    broker_namespace: str = "xiaohu"
    # Provinces being moved to another node (`xiaohu node move`): their requests answer 503
    # NODE_UNAVAILABLE until the move has switched the map, so nothing is written on the
    # source while its rows are copied.
    moving: frozenset[str] = frozenset()
    _by_province: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for node in self.nodes:
            for code in node.provinces:
                self._by_province[code] = node.name

    @property
    def national(self) -> bool:
        """More than one node: messages between nodes go through the broker."""
        return len(self.nodes) > 1

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node {name!r} in the node map")

    def node_of(self, province_code: str) -> Node:
        """The node holding `province_code` (a known province: every one has a node)."""
        return self.node(self._by_province[province_code])

    def default_node(self) -> Node:
        return self.node(self.default)

    def names(self) -> list[str]:
        return [n.name for n in self.nodes]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def with_province_on(self, province_code: str, target: str) -> NodeMap:
        """The same map with `province_code` held by node `target` (a province move)."""
        self.node(target)
        nodes = tuple(
            Node(
                n.name,
                n.database_url,
                (n.provinces | {province_code})
                if n.name == target
                else (n.provinces - {province_code}),
                n.block,
            )
            for n in self.nodes
        )
        return NodeMap(
            nodes,
            self.default,
            self.broker_url,
            self.source,
            self.broker_namespace,
            self.moving - {province_code},
        )

    def with_moving(self, codes: frozenset[str]) -> NodeMap:
        """The same map with `codes` marked as moving (none: the mark lifted)."""
        return NodeMap(
            self.nodes, self.default, self.broker_url, self.source, self.broker_namespace, codes
        )


def single(database_url: str) -> NodeMap:
    """Today's deployment: one node holding every province."""
    return NodeMap((Node(LOCAL, database_url, frozenset(PROVINCES)),), LOCAL)


def load(path: Path) -> NodeMap:
    """Read and check a node map file; NodeMapProblem names what is wrong."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NodeMapProblem(f"node map {path}: cannot be read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise NodeMapProblem(f"node map {path}: not TOML ({exc})") from exc
    try:
        return parse(raw, source=path)
    except NodeMapProblem as exc:
        raise NodeMapProblem(f"node map {path}: {exc}") from None


def parse(raw: Mapping[str, Any], *, source: Path | None = None) -> NodeMap:
    nodes_raw = raw.get("nodes")
    if not isinstance(nodes_raw, dict) or not nodes_raw:
        raise NodeMapProblem("[nodes.NAME] tables are missing: name at least one node")
    unknown = sorted(set(raw) - {"nodes", "default", "broker_url", "broker_namespace", "moving"})
    if unknown:
        raise NodeMapProblem(
            f"unknown key {unknown[0]!r} (nodes, default, broker_url, broker_namespace, moving)"
        )
    moving = raw.get("moving", [])
    if not isinstance(moving, list):
        raise NodeMapProblem("moving: a list of province codes (the provinces being moved)")
    for code in moving:
        if code not in PROVINCES:
            raise NodeMapProblem(f"moving: unknown province {code!r}")
    named: dict[str, str] = {}
    catch_all: str | None = None
    rows: list[tuple[str, str, set[str]]] = []
    for name, table in nodes_raw.items():
        if not _NAME.match(name):
            raise NodeMapProblem(f"node name {name!r}: lower-case letters, digits, - and _")
        if not isinstance(table, dict):
            raise NodeMapProblem(f"nodes.{name}: must be a table")
        extra = sorted(set(table) - {"database_url", "provinces"})
        if extra:
            raise NodeMapProblem(f"nodes.{name}: unknown key {extra[0]!r}")
        url = table.get("database_url")
        if not isinstance(url, str) or "://" not in url:
            raise NodeMapProblem(f"nodes.{name}.database_url: a database URL is required")
        if not url.startswith(("postgresql", "sqlite")):
            # The engines the service runs on (SQLite nodes only to try a map on one machine:
            # the id blocks, the move and the broker's locks are PostgreSQL's).
            raise NodeMapProblem(
                f"nodes.{name}.database_url: postgresql+psycopg://… (or sqlite:/// to try a "
                "map on one machine)"
            )
        provinces = table.get("provinces")
        if not isinstance(provinces, list) or not all(isinstance(p, str) for p in provinces):
            raise NodeMapProblem(f"nodes.{name}.provinces: a list of province codes")
        held: set[str] = set()
        for code in provinces:
            if code == EVERY:
                if catch_all is not None:
                    raise NodeMapProblem(f"nodes.{name}: '*' is already on node {catch_all}")
                catch_all = name
            elif code not in PROVINCES:
                raise NodeMapProblem(f"nodes.{name}.provinces: unknown province {code!r}")
            elif code in named:
                if named[code] == name:
                    raise NodeMapProblem(f"nodes.{name}.provinces: {code} is listed twice")
                raise NodeMapProblem(f"province {code} is on two nodes: {named[code]}, {name}")
            else:
                named[code] = name
                held.add(code)
        rows.append((name, url, held))
    rest = set(PROVINCES) - set(named)
    if catch_all is None and rest:
        raise NodeMapProblem(
            f"provinces {', '.join(sorted(rest))} are on no node (list them, or '*' on one)"
        )
    nodes = tuple(
        Node(name, url, frozenset(held | (rest if name == catch_all else set())), block)
        for block, (name, url, held) in enumerate(rows)
    )
    default = raw.get("default", nodes[0].name)
    if not isinstance(default, str) or default not in {n.name for n in nodes}:
        raise NodeMapProblem(f"default: {default!r} is not a node of the map")
    broker = raw.get("broker_url")
    if broker is not None and (not isinstance(broker, str) or "://" not in broker):
        raise NodeMapProblem("broker_url: a URL like amqp://user:password@host:5672/%2F")
    if len(nodes) > 1 and broker is None:
        raise NodeMapProblem("broker_url is required when the map has more than one node")
    namespace = raw.get("broker_namespace", "xiaohu")
    if not isinstance(namespace, str) or not _NAME.match(namespace):
        raise NodeMapProblem("broker_namespace: lower-case letters, digits, - and _")
    return NodeMap(nodes, default, broker, source, namespace, frozenset(moving))


def dump(node_map: NodeMap) -> str:
    """The map as TOML (a province move writes the switched map with it)."""
    lines = []
    if node_map.broker_url is not None:
        lines.append(f"broker_url = {_quote(node_map.broker_url)}")
    lines.append(f"default = {_quote(node_map.default)}")
    lines.append(f"broker_namespace = {_quote(node_map.broker_namespace)}")
    if node_map.moving:
        lines.append(f"moving = [{', '.join(_quote(p) for p in sorted(node_map.moving))}]")
    for node in node_map.nodes:
        provinces = ", ".join(_quote(p) for p in sorted(node.provinces))
        lines += [
            "",
            f"[nodes.{node.name}]",
            f"database_url = {_quote(node.database_url)}",
            f"provinces = [{provinces}]",
        ]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
