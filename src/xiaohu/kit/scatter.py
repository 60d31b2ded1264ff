"""Run one read on several nodes at once and say which nodes did not answer.

A national deployment keeps whole provinces on each node, so a question about every province
(the lines of one ID, the dues of a month, the trial balance) is asked of every node and the
answers merged. The reads run in parallel threads, each in a transaction of its own on its
node, and each node has `timeout` seconds: a node that fails or is late is named in
`Gathered.missing` instead of holding the caller up. A late thread is left to finish on its
own (a thread cannot be stopped; the node's connect timeout ends it).

Generic on purpose (node names and a function): it lives with the kit so any area can gather,
and the caller decides whether a missing node is an error (an incomplete answer that looks
complete is a wrong one) or a partial answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from xiaohu.kit.db import transaction
from xiaohu.kit.errors import DomainError

log = logging.getLogger(__name__)
T = TypeVar("T")
TIMEOUT_SECONDS = 10.0  # per node; a node's engine gives up connecting after 3
RETRY_AFTER_SECONDS = 5  # what a 503 for a node that did not answer suggests


@dataclass
class Gathered(Generic[T]):
    """The answers by node name, in the order the names were given, and the nodes without."""

    answers: dict[str, T] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing


def gather(
    names: Iterable[str],
    read: Callable[[str], T],
    *,
    timeout: float = TIMEOUT_SECONDS,
    here: str | None = None,
    read_here: Callable[[], T] | None = None,
) -> Gathered[T]:
    """`read(name)` on every node in parallel threads. `here` (the caller's own node) is read
    with `read_here` in the calling thread instead, when given: the caller's session is not
    thread-safe, and it may see the caller's own uncommitted writes."""
    order = list(names)
    out: Gathered[T] = Gathered()
    found: dict[str, T] = {}
    remote = [n for n in order if not (n == here and read_here is not None)]
    pool = ThreadPoolExecutor(max_workers=max(1, len(remote)), thread_name_prefix="scatter")
    try:
        futures: dict[str, Future[T]] = {n: pool.submit(read, n) for n in remote}
        if read_here is not None and here in order:
            found[here] = read_here()  # an error here is the caller's own: it propagates
        deadline = time.monotonic() + timeout
        for name, future in futures.items():
            try:
                found[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                log.warning("node %s did not answer in %.1fs", name, timeout)
                out.missing.append(name)
            except Exception as exc:
                log.warning("node %s did not answer: %s", name, str(exc).splitlines()[0:1])
                out.missing.append(name)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    out.answers = {n: found[n] for n in order if n in found}
    return out


class _Node(Protocol):
    @property
    def provinces(self) -> frozenset[str]: ...


class _Map(Protocol):
    def names(self) -> list[str]: ...

    def node(self, name: str) -> _Node: ...


class NodeHolder(Protocol):
    """What gathering needs of the runtime (`xiaohu.runtime.Runtime`; the kit imports none of
    it): the node map, its own node, and a session factory per node."""

    @property
    def nodes(self) -> _Map: ...

    node: str

    def sessions_of(self, node: str) -> sessionmaker[Session]: ...


def gather_nodes(
    runtime: NodeHolder,
    read: Callable[[Session], T],
    *,
    session: Session | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> Gathered[T]:
    """`read(session)` on every node of the map, each in a read-only transaction of its own;
    on the runtime's own node in `session` instead, when given (the request's)."""
    reads = dict.fromkeys(runtime.nodes.names(), read)
    return gather_reads(runtime, reads, session=session, timeout=timeout)


def gather_reads(
    runtime: NodeHolder,
    reads: Mapping[str, Callable[[Session], T]],
    *,
    session: Session | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> Gathered[T]:
    """Each node's own read (`reads[name](session)`: a node's share of a batch), as
    `gather_nodes` runs them."""

    def on(name: str) -> T:
        with transaction(runtime.sessions_of(name), readonly=True) as s:
            return reads[name](s)

    here = runtime.node
    mine = None
    if session is not None and here in reads:
        mine = lambda: reads[here](session)  # noqa: E731
    return gather(reads, on, timeout=timeout, here=here, read_here=mine)


def every_node(
    runtime: NodeHolder,
    read: Callable[[Session], T],
    *,
    session: Session | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> dict[str, T]:
    """`gather_nodes`, complete or refused: an answer missing a node's provinces would look
    whole and be wrong, so a node that did not answer is `503 NODE_UNAVAILABLE` naming it."""
    return complete(runtime, gather_nodes(runtime, read, session=session, timeout=timeout))


def complete(runtime: NodeHolder, found: Gathered[T]) -> dict[str, T]:
    """The answers when every node gave one, else NODE_UNAVAILABLE naming those that did not."""
    if found.missing:
        raise unavailable(runtime, found.missing)
    return found.answers


def unavailable(runtime: NodeHolder, missing: Iterable[str]) -> DomainError:
    """NODE_UNAVAILABLE (503, Retry-After) naming the nodes that did not answer and the
    provinces they hold: the answer would have been incomplete without them."""
    names = sorted(missing)
    provinces = sorted({p for n in names for p in runtime.nodes.node(n).provinces})
    return DomainError(
        "NODE_UNAVAILABLE",
        f"node(s) {', '.join(names)} did not answer: the answer would be incomplete "
        f"(provinces {', '.join(provinces)})",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        nodes_unavailable=names,
        provinces_unavailable=provinces,
    )
