"""Which names each executed cell read and wrote: the kernel side of rebuilding variables.

Two sources, combined per cell:

* static analysis of the cell's code: names loaded before the cell binds them (reads),
  names it binds (writes), and names it may change in place (touches: ``x.append(...)``,
  ``x[i] = ...``, ``next(x)``), which identity alone cannot see;
* an identity diff of the namespace after the cell: names bound to a new object, or gone.

Recorded from IPython's ``post_run_cell`` event, whose cost is one pass over the namespace
(``dict(zip(ns, map(id, ns.values())))`` and a set difference: well under a millisecond for
10,000 names; ``benchmarks/bench_history.py`` measures it).
"""

from __future__ import annotations

import ast
import builtins
import re
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

BUILTIN_NAMES = frozenset(dir(builtins)) | {"get_ipython", "In", "Out", "exit", "quit"}
IPYTHON_OUTPUT_NAME = re.compile(r"^_+$|^_i{0,3}\d*$|^_oh$|^_ih$|^_dh$")


@dataclass
class CellRecord:
    execution_count: int
    source: str
    reads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    touches: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kind: str = "code"  # code, magic (IPython magics), shell (! escapes), unparsed
    error: bool | None = None  # None: not observed (the cell ran before recording began)
    observed: bool = False  # the identity diff was taken after the cell
    seconds: float | None = None  # how long it ran, when observed

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CellRecord:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


SHELL_LINE = re.compile(r"^(!|[\w\s,]+=\s*!|%(pip|conda|sx|system)\b|%%(bash|sh|script)\b)")
MAGIC_LINE = re.compile(r"^(%|[\w\s,]+=\s*%)")


def cell_kind(source: str) -> str:
    """ "shell" for ``!`` escapes and shell magics, "magic" for other IPython magics."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    if any(SHELL_LINE.match(line) for line in lines):
        return "shell"
    if any(MAGIC_LINE.match(line) for line in lines):
        return "magic"
    return "code"


class _Names(ast.NodeVisitor):
    """Names a statement loads and stores, with the scopes of nested code kept apart."""

    def __init__(self) -> None:
        self.loads: list[str] = []
        self.stores: list[str] = []
        self.touches: list[str] = []
        self._local: list[set[str]] = []

    def _is_local(self, name: str) -> bool:
        return any(name in scope for scope in self._local)

    def visit_Name(self, node: ast.Name) -> None:
        if self._is_local(node.id):
            return
        if isinstance(node.ctx, ast.Load):
            self.loads.append(node.id)
        elif self._local:
            self._local[-1].add(node.id)  # an assignment inside a function is local there
        else:
            self.stores.append(node.id)
            if isinstance(node.ctx, ast.Del):
                self.touches.append(node.id)

    def _root(self, node: ast.AST) -> str | None:
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self._touch(node)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self._touch(node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        # A method call or a call with a variable argument may change that variable in place
        # (conn.execute(...), rows.append(...), next(gen)).
        if isinstance(node.func, ast.Attribute):
            self._touch(node.func.value)
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            if isinstance(argument, ast.Name):
                self._touch(argument)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        root = self._root(node.target)
        if root is not None and not self._is_local(root):
            self.loads.append(root)
        self._touch(node.target)
        self.generic_visit(node)

    def _touch(self, node: ast.AST) -> None:
        root = self._root(node)
        if root is not None and not self._is_local(root) and not self._local:
            self.touches.append(root)

    def _scoped(self, node: ast.AST, local: set[str], body: list[Any]) -> None:
        self._local.append(set(local))
        for child in body:
            self.visit(child)
        self._local.pop()

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        arguments = node.args
        local = {
            a.arg
            for a in [
                *arguments.posonlyargs,
                *arguments.args,
                *arguments.kwonlyargs,
                *([arguments.vararg] if arguments.vararg else []),
                *([arguments.kwarg] if arguments.kwarg else []),
            ]
        }
        for default in [*arguments.defaults, *(d for d in arguments.kw_defaults if d)]:
            self.visit(default)
        if isinstance(node, ast.Lambda):
            self._scoped(node, local, [node.body])
            return
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._bind(node.name)
        self._scoped(node, local, node.body)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function
    visit_Lambda = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for child in [*node.bases, *(k.value for k in node.keywords), *node.decorator_list]:
            self.visit(child)
        self._bind(node.name)
        self._scoped(node, set(), node.body)

    def _comprehension(self, node: Any) -> None:
        generators = node.generators
        self.visit(generators[0].iter)  # evaluated in the enclosing scope
        local: set[str] = set()
        for generator in generators:
            for target in ast.walk(generator.target):
                if isinstance(target, ast.Name):
                    local.add(target.id)
        rest: list[Any] = [*(g.ifs for g in generators), *(g.iter for g in generators[1:])]
        body = [elt for group in rest for elt in (group if isinstance(group, list) else [group])]
        elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        self._scoped(node, local, [*body, *elements])

    visit_ListComp = _comprehension
    visit_SetComp = _comprehension
    visit_GeneratorExp = _comprehension
    visit_DictComp = _comprehension

    def _bind(self, name: str) -> None:
        if self._local:
            self._local[-1].add(name)
        else:
            self.stores.append(name)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._bind((alias.asname or alias.name).split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self._bind(alias.asname or alias.name)

    def visit_Global(self, node: ast.Global) -> None:
        return None


def analyse(source: str, transformed: str | None = None) -> tuple[list, list, list, str]:
    """(reads, writes, touches, kind) of a cell. ``transformed``: IPython's translation of
    magics and ``!`` lines into Python, which is what actually ran."""
    kind = cell_kind(source)
    try:
        tree = ast.parse(transformed if transformed is not None else source)
    except SyntaxError:
        return [], [], [], "unparsed"
    reads: list[str] = []
    writes: list[str] = []
    touches: list[str] = []
    bound: set[str] = set()
    for statement in tree.body:
        names = _Names()
        names.visit(statement)
        for name in names.loads:
            if name not in bound and name not in reads and name not in BUILTIN_NAMES:
                reads.append(name)
        for name in names.touches:
            if name not in touches:
                touches.append(name)
            if name not in bound and name not in reads and name not in BUILTIN_NAMES:
                reads.append(name)
        for name in names.stores:
            bound.add(name)
            if name not in writes:
                writes.append(name)
    return reads, writes, [t for t in touches if t not in BUILTIN_NAMES], kind


class Identities:
    """Which names a cell bound to a new object, from one pass over the namespace.

    Names and ids are kept as two lists in namespace order. A cell usually only appends names
    (its new variables, IPython's ``_iN``), so the old names are a prefix of the new ones and
    the ids compare block by block in C; only a block that differs is walked in Python.
    About 0.3 ms for 10,000 names.
    """

    BLOCK = 512

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.keys = list(namespace)
        self.ids = list(map(id, namespace.values()))

    def diff(self, namespace: dict[str, Any]) -> tuple[list[str], list[str]]:
        """(names bound to a new object or new, names gone) since the last call."""
        keys = list(namespace)
        ids = list(map(id, namespace.values()))
        old_keys, old_ids = self.keys, self.ids
        self.keys, self.ids = keys, ids
        count = len(old_keys)
        if len(keys) >= count and keys[:count] == old_keys:
            changed = []
            block = self.BLOCK
            for start in range(0, count, block):
                end = min(start + block, count)
                if ids[start:end] != old_ids[start:end]:
                    changed.extend(keys[i] for i in range(start, end) if ids[i] != old_ids[i])
            return changed + keys[count:], []
        before = dict(zip(old_keys, old_ids, strict=True))
        after = dict(zip(keys, ids, strict=True))
        rebound = [name for name, ident in after.items() if before.get(name) != ident]
        return rebound, [name for name in before if name not in after]


def analyse_records(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The manifest's cell history from what ``HistoryRecorder.records`` collected.

    The static analysis runs here, in the snapshot writer (the forked child), not in the
    kernel after every cell: parsing a long cell costs more than a millisecond.
    """
    cells = []
    for entry in raw:
        try:
            reads, writes, touches, kind = analyse(entry["source"], entry.get("parsed"))
        except (RecursionError, ValueError, MemoryError):  # pathological code: no analysis
            reads, writes, touches, kind = [], [], [], "unparsed"
        record = CellRecord(
            execution_count=entry["execution_count"],
            source=entry["source"],
            reads=reads,
            writes=list(dict.fromkeys([*writes, *entry.get("seen", [])])),
            touches=touches,
            deleted=list(entry.get("deleted", [])),
            kind=kind,
            error=entry.get("error"),
            observed=bool(entry.get("observed")),
            seconds=entry.get("seconds"),
        )
        cells.append(record.to_json())
    return cells


class HistoryRecorder:
    """Records every cell the user runs, from IPython's pre/post_run_cell events: its
    source, whether it raised, how long it ran, and what it rebound (``Identities``)."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.cells: dict[int, dict[str, Any]] = {}
        self._identities = Identities(shell.user_ns)
        self._registered = False
        self._cell_started: float | None = None
        # what recording cost each cell, newest last: %gpuguard status and the benchmark
        self.costs: deque[float] = deque(maxlen=1000)

    def register(self) -> None:
        if not self._registered:
            self.shell.events.register("pre_run_cell", self.pre_run_cell)
            self.shell.events.register("post_run_cell", self.post_run_cell)
            self._registered = True

    def pre_run_cell(self, info: Any = None) -> None:
        self._cell_started = time.perf_counter()

    def post_run_cell(self, result: Any) -> None:
        info = getattr(result, "info", None)
        count = getattr(result, "execution_count", None)
        if info is None or not isinstance(count, int) or not getattr(info, "store_history", 1):
            return
        began = time.perf_counter()
        ran = began - self._cell_started if self._cell_started is not None else None
        self._cell_started = None
        rebound, deleted = self._identities.diff(self.shell.user_ns)
        hidden = getattr(self.shell, "user_ns_hidden", {})
        self.cells[count] = {
            "execution_count": count,
            "source": info.raw_cell or "",
            "seen": [n for n in rebound if n not in hidden and not IPYTHON_OUTPUT_NAME.match(n)],
            "deleted": [n for n in deleted if n not in hidden],
            "error": not result.success,
            "observed": True,
            "seconds": round(ran, 3) if ran is not None else None,
        }
        self.costs.append(time.perf_counter() - began)

    def records(self, history: list[str]) -> list[dict[str, Any]]:
        """What is known of every cell of ``history`` (IPython's ``In``, the code after its
        translation of magics), for ``analyse_records``. Cheap: it runs while the kernel is
        paused for a snapshot."""
        raw = getattr(getattr(self.shell, "history_manager", None), "input_hist_raw", None)
        records = []
        for count, parsed in enumerate(history):
            if count == 0 or not isinstance(parsed, str):
                continue
            observed = self.cells.get(count)
            if observed is not None:
                records.append({**observed, "parsed": parsed})
                continue
            # Ran before recording began: the raw history holds what the user typed.
            source = raw[count] if isinstance(raw, list) and count < len(raw) else parsed
            records.append({"execution_count": count, "source": source, "parsed": parsed})
        return records
