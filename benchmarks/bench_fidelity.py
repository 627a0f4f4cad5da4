"""What a restore brings back, variable by variable: jupyter-gpuguard next to dill.

Each notebook of ``fidelity_notebooks.py`` (a PyTorch training loop; a pandas analysis with
object columns of notebook classes; a scikit-learn pipeline with a notebook transformer;
generators, a file, a sqlite connection, bound methods and partials; enums, NamedTuples,
TypedDicts and dataclasses) runs cell by cell in a real ipykernel started through
jupyter_client. Then, in that kernel: a jupyter-gpuguard snapshot (waited for),
``dill.dump_module`` and a ``dill.dump`` of each variable into a file of its own. The kernel
is measured (below), SIGKILLed, and each method restores into a fresh kernel of its own:

  1. gpuguard restore: ``%load_ext jupyter_gpuguard``, ``restore_json(<snapshot id>)`` (what
     ``%gpuguard restore`` and the server's restore run);
  2. gpuguard restore --rebuild: the same with ``rebuild=True`` (re-runs recorded cells to
     rebuild what the snapshot could not save);
  3. ``dill.load_module`` of the whole session;
  4. dill per variable: each file ``dill.load``-ed on its own, in name order (a failure loses
     that one).

dill runs with its default settings, as a user calls it (file handles: ``HANDLE_FMODE``).
Each restore starts from the notebook's directory as it was at snapshot time, so that what
one method's restore does to the files (a replayed cell rewriting one, dill reopening a
closed ``"w"`` handle) does not reach the next.

Measured in each kernel by ``fidelity_probe.py``, sent as a silent execute and kept out of
the user's namespace:

  * every user variable's deep fingerprint (type, values, array/tensor/frame hashes, what
    each object pickles, whether an instance of a notebook class is an instance of the
    class of that name in the namespace; iterators by their next three items, files by
    position and next line, sqlite connections by their rows). A variable is **exact**
    when its fingerprint equals the original's, **different** when it is there but not
    equal (silently wrong: the worst outcome), **missing** when it is not there.
    Modules and names imported from libraries are counted apart (``imports``);
  * shared references: the pairs of paths (``optimizer.param_groups[0]['params'][0]``,
    ``model._modules['0']._parameters['weight']``) that reach one object, found by a
    bounded walk of what a pickler walks (dict, list and tuple items, ``__dict__``, object
    arrays and columns, ``__self__`` of bound methods, partials, list iterators, notebook
    classes' members), depth 8 and 2000 objects per variable. One pickle of the whole
    namespace keeps all of them. After a restore a pair is **kept** (one object again),
    **split** (both variables are there but the paths reach two objects, or one no longer
    resolves) or **lost** (a variable it starts from is missing);
  * behavioural checks of each notebook (``optimizer.step()`` moves the model,
    ``isinstance(arr[0], Point)``, ``Color.RED is Color(1)``...): passed when their result
    equals the original kernel's.

The target: every variable that a dill variant restores exactly, a plain
gpuguard restore restores exactly; and a plain restore splits no shared reference.
Violations are listed at the end.

    pip install -e ".[test]" && pip install -r benchmarks/requirements.txt
    python benchmarks/bench_fidelity.py [--quick] [--only a,d] [--verbose] [--json out.json]

Takes about two minutes on 2 cores (one kernel at a time; kernels run with
OMP_NUM_THREADS=1, so that torch gives bitwise the same results in every kernel). Without
torch the PyTorch notebook is skipped, and says so. When this file sits in a checkout of
jupyter-gpuguard, the kernels import the package from that checkout (PYTHONPATH).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import queue
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fidelity_probe
from fidelity_notebooks import Notebook, notebooks
from snapshot_harness import ANSI, CellError, Kernel, markdown_table, write_kernelspec

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROBE_SOURCE = (HERE / "fidelity_probe.py").read_text()
METHODS = {
    "plain": "gpuguard restore",
    "rebuild": "gpuguard restore --rebuild",
    "dill_module": "dill.dump_module",
    "dill_vars": "dill per variable",
}
CELL_TIMEOUT = 300.0
SHOWN = 8  # items of a list shown without --verbose
SHOWN_VIOLATIONS = 10  # per notebook, without --verbose


# ---- talking to a kernel ---------------------------------------------------------------------
def silent(kernel: Kernel, code: str, timeout: float = CELL_TIMEOUT) -> str:
    """Run ``code`` as a silent execute (no history, no output cache, no cell events, as
    the server's own requests); its stdout. Raises CellError if it raised."""
    msg_id = kernel.client.execute(code, silent=True, store_history=False, allow_stdin=False)
    out: list[str] = []
    errors: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            message = kernel.client.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            if not kernel.manager.is_alive():
                raise CellError(f"the kernel died running:\n{code[:300]}") from None
            if time.monotonic() > deadline:
                raise CellError(f"no answer in {timeout:.0f} s to:\n{code[:300]}") from None
            continue
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            (out if content["name"] == "stdout" else errors).append(content["text"])
        elif kind == "error":
            errors.append("\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            break
    while True:
        reply = kernel.client.get_shell_msg(timeout=60)
        if reply.get("parent_header", {}).get("msg_id") == msg_id:
            break
    if reply["content"]["status"] != "ok":
        raise CellError(ANSI.sub("", "".join(errors))[-2000:] or "the request failed")
    return "".join(out)


def inject_probe(kernel: Kernel) -> None:
    silent(
        kernel,
        "(lambda m: (exec(compile(__import__('json').loads("
        f"{json.dumps(PROBE_SOURCE)!r}), 'fidelity_probe.py', 'exec'), m.__dict__), "
        "__import__('sys').modules.__setitem__('_fidelity_probe', m)))"
        "(__import__('types').ModuleType('_fidelity_probe'))",
    )


def call(kernel: Kernel, out_dir: Path, function: str, *args: Any) -> Any:
    """``_fidelity_probe.<function>(*args)`` in the kernel; its JSON result, through a file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{function}-{time.monotonic_ns()}.json"
    silent(
        kernel,
        "(lambda j, p: p.write_text(j.dumps(__import__('sys').modules['_fidelity_probe']."
        f"{function}(*j.loads({json.dumps(args)!r})))))"
        f"(__import__('json'), __import__('pathlib').Path({str(path)!r}))",
    )
    result = json.loads(path.read_text())
    path.unlink()
    return result


def answer(kernel: Kernel, expression: str) -> Any:
    """The JSON value of ``expression`` (which must evaluate to a JSON string) in the kernel."""
    out = silent(kernel, f"print('FIDELITY', {expression})")
    for line in out.splitlines():
        if line.startswith("FIDELITY "):
            return json.loads(line[len("FIDELITY ") :])
    raise CellError(f"no answer from {expression}: {out[-500:]}")


SNAPSHOT = (
    "__import__('json').dumps(__import__('jupyter_gpuguard.snapshot.kernel', "
    "fromlist=['current']).current().snapshot(background=True).wait().to_json())"
)


def restore_expression(snapshot_id: str, rebuild: bool) -> str:
    return (
        "__import__('jupyter_gpuguard.snapshot.kernel', fromlist=['restore_json'])"
        f".restore_json({snapshot_id!r}, rebuild={rebuild})"
    )


def last_line(err: Exception) -> str:
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else type(err).__name__)[:300]


def dill_module(kernel: Kernel, path: Path, op: str) -> str | None:
    """``dill.dump_module``/``load_module`` in the kernel; None, or its error."""
    try:
        silent(kernel, f"__import__('dill').{op}_module({str(path)!r})")
    except CellError as err:
        return last_line(err)
    return None


# ---- the run -----------------------------------------------------------------------------
@dataclass
class Context:
    root: Path
    started: float = field(default_factory=time.monotonic)
    kernels: list[Kernel] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.specs = self.root / "kernelspecs"
        self.runtime = self.root / "runtime"
        self.logs = self.root / "logs"
        write_kernelspec(self.specs, "fidelity-python", sys.executable)

    def log(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f} s] {message}", file=sys.stderr, flush=True)

    def env(self, notebook: Notebook, store: Path) -> dict[str, str]:
        env = {
            "GPUGUARD_STORE": str(store),
            "JPY_SESSION_NAME": f"fidelity-{notebook.key}.ipynb",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONHASHSEED": "0",
        }
        if (REPO / "jupyter_gpuguard" / "__init__.py").is_file():
            paths = [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(":"))]
            env["PYTHONPATH"] = ":".join(paths)
        return env

    def start(self, cwd: Path, env: dict[str, str], name: str) -> Kernel:
        kernel = Kernel(
            "fidelity-python", self.specs, self.runtime, cwd, self.logs / f"{name}.log", env
        )
        self.kernels.append(kernel)
        return kernel

    def stop(self, kernel: Kernel) -> None:
        kernel.close()
        if kernel in self.kernels:
            self.kernels.remove(kernel)

    def stop_all(self) -> None:
        for kernel in list(self.kernels):
            self.stop(kernel)


def run_original(ctx: Context, notebook: Notebook, base: Path) -> dict[str, Any]:
    """Run the notebook, snapshot it three ways, measure it, SIGKILL it."""
    work, store, probe_out = base / "work", base / "store", base / "probe"
    kernel = ctx.start(work, ctx.env(notebook, store), f"{notebook.key}-original")
    result: dict[str, Any] = {}
    try:
        gpuguard_error = None
        try:
            silent(kernel, "%load_ext jupyter_gpuguard")
            result["package"] = answer(
                kernel, "__import__('json').dumps(__import__('jupyter_gpuguard').__file__)"
            )
        except CellError as err:
            gpuguard_error = f"%load_ext jupyter_gpuguard failed: {last_line(err)}"
        began = time.perf_counter()
        for cell in notebook.cells:
            kernel.run(cell, timeout=CELL_TIMEOUT)
        result["cells_s"] = time.perf_counter() - began
        result["snapshot"] = {"id": None, "error": gpuguard_error, "skipped": []}
        if gpuguard_error is None:
            ctx.log("  gpuguard snapshot (background, waited for)")
            try:
                job = answer(kernel, SNAPSHOT)
                result["snapshot"] = {
                    "id": (job.get("snapshot") or {}).get("id"),
                    "error": job.get("error"),
                    "pause_s": job.get("pause_seconds"),
                    "wall_s": (job["finished"] - job["started"]) if job.get("finished") else None,
                    "skipped": (job.get("snapshot") or {}).get("skipped", []),
                }
            except CellError as err:
                result["snapshot"]["error"] = f"the snapshot raised: {last_line(err)}"
        ctx.log("  dill.dump_module, dill.dump of each variable")
        result["dill_module_error"] = dill_module(kernel, base / "session.pkl", "dump")
        # every restore starts from the files as they were at snapshot time
        shutil.copytree(work, base / "work-at-snapshot", symlinks=True)
        inject_probe(kernel)
        names = call(kernel, probe_out, "user_names")
        result["names"] = names
        every = names["variables"] + names["imports"]
        result["dill_dump_errors"] = call(
            kernel, probe_out, "dill_dump_each", every, str(base / "dill-vars")
        )
        ctx.log("  shared references, fingerprints, checks")
        result["relations"] = call(kernel, probe_out, "relations", names["variables"])
        result["fingerprints"] = call(kernel, probe_out, "fingerprints", every)
        result["checks"] = call(kernel, probe_out, "run_checks", notebook.checks)
        os.kill(kernel.pid, signal.SIGKILL)
    finally:
        ctx.stop(kernel)
    return result


def restore(
    ctx: Context, notebook: Notebook, base: Path, method: str, original: dict[str, Any]
) -> dict[str, Any]:
    """Restore with ``method`` into a fresh kernel and measure it there, in the notebook's
    directory as it was at snapshot time (what an earlier restore did to it is undone)."""
    work, store, probe_out = base / "work", base / "store", base / "probe"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(base / "work-at-snapshot", work, symlinks=True)
    kernel = ctx.start(work, ctx.env(notebook, store), f"{notebook.key}-{method}")
    out: dict[str, Any] = {"error": None, "reasons": {}, "notes": {}}
    try:
        began = time.perf_counter()
        if method in ("plain", "rebuild"):
            snapshot = original["snapshot"]
            if not snapshot["id"]:
                out["error"] = f"the snapshot failed: {snapshot['error']}"
            else:
                silent(kernel, "%load_ext jupyter_gpuguard")
                report = answer(
                    kernel, restore_expression(snapshot["id"], rebuild=method == "rebuild")
                )
                out["report"] = report
                if report.get("error"):
                    out["error"] = report["error"]
                for skipped in report.get("skipped", []):
                    out["reasons"][skipped["name"]] = f"not saved: {skipped['reason']}"
                for failed in report.get("failed", []):
                    out["reasons"][failed["name"]] = f"failed: {failed['error']}"
                for name in report.get("rebuilt", []):
                    out["notes"][name] = "rebuilt by re-running cells"
        elif method == "dill_module":
            error = original["dill_module_error"]
            if error:
                out["error"] = f"dump_module failed: {error}"
            else:
                error = dill_module(kernel, base / "session.pkl", "load")
                if error:
                    out["error"] = f"load_module failed: {error}"
        else:
            inject_probe(kernel)
            errors = call(kernel, probe_out, "dill_load_each", str(base / "dill-vars"))
            for name, error in original["dill_dump_errors"].items():
                out["reasons"][name] = f"dump failed: {error}"
            for name, error in errors.items():
                out["reasons"][name] = f"load failed: {error}"
        out["restore_s"] = time.perf_counter() - began
        inject_probe(kernel)
        names = original["names"]
        out["relations"] = call(
            kernel, probe_out, "check_relations", original["relations"]["pairs"]
        )
        out["fingerprints"] = call(
            kernel, probe_out, "fingerprints", names["variables"] + names["imports"]
        )
        out["checks"] = call(kernel, probe_out, "run_checks", notebook.checks)
    except CellError as err:
        out["error"] = f"the restore kernel failed: {str(err).strip()[-300:]}"
        out.setdefault("relations", None)
    finally:
        ctx.stop(kernel)
    return out


# ---- comparing -------------------------------------------------------------------------------
def compare(notebook: Notebook, original: dict[str, Any], got: dict[str, Any]) -> dict[str, Any]:
    """Per variable: exact, different or missing (with why); shared references; checks."""
    expected = original["fingerprints"]
    found = got.get("fingerprints") or {}
    variables: dict[str, dict[str, str]] = {}
    for name in original["names"]["variables"]:
        if name not in found:
            reason = got["reasons"].get(name) or got.get("error") or "not in the namespace"
            variables[name] = {"status": "missing", "reason": reason}
            continue
        difference = fidelity_probe.first_difference(expected[name], found[name], name)
        note = got["notes"].get(name)
        if difference is None:
            variables[name] = {"status": "exact", "reason": note or ""}
        else:
            reason = difference + (f" ({note})" if note else "")
            variables[name] = {"status": "different", "reason": reason}
    imports = original["names"]["imports"]
    imports_ok = [n for n in imports if n in found and found[n] == expected[n]]
    pairs = original["relations"]["pairs"]
    statuses = got.get("relations") or ["lost"] * len(pairs)
    split = [
        {"a": fidelity_probe.format_path(a), "b": fidelity_probe.format_path(b), "why": s[7:]}
        for (a, b), s in zip(pairs, statuses, strict=True)
        if s.startswith("split")
    ]
    checks_expected = original["checks"]
    checks_got = got.get("checks") or {}
    failed_checks = {
        label: {"expected": value, "got": checks_got.get(label, "not run")}
        for label, value in checks_expected.items()
        if checks_got.get(label, "not run") != value
    }
    counts = {s: sum(v["status"] == s for v in variables.values()) for s in STATUSES}
    return {
        "error": got.get("error"),
        "restore_s": got.get("restore_s"),
        "variables": variables,
        "counts": counts,
        "total": len(variables),
        "imports": [len(imports_ok), len(imports)],
        "relations": {
            "total": len(pairs),
            "kept": statuses.count("kept"),
            "lost": statuses.count("lost"),
            "split": len(split),
        },
        "split": split,
        "checks": [len(checks_expected) - len(failed_checks), len(checks_expected)],
        "failed_checks": failed_checks,
    }


STATUSES = ("exact", "different", "missing")


def violations(key: str, results: dict[str, dict[str, Any]]) -> list[str]:
    """Where a plain gpuguard restore misses the target, for one notebook."""
    out = []
    plain = results["plain"]
    for name, row in plain["variables"].items():
        if row["status"] == "exact":
            continue
        exact_by = [
            METHODS[m]
            for m in ("dill_module", "dill_vars")
            if results[m]["variables"][name]["status"] == "exact"
        ]
        if exact_by:
            out.append(
                f"{key}: `{name}` is {row['status']} after a plain restore ({row['reason']}), "
                f"but {' and '.join(exact_by)} restores it exactly"
            )
    for pair in plain["split"]:
        out.append(
            f"{key}: `{pair['a']} is {pair['b']}` is split by a plain restore ({pair['why']})"
        )
    return out


# ---- the report ------------------------------------------------------------------------------
def cell(n: int, total: int) -> str:
    return f"{n}/{total}"


def notebook_table(results: dict[str, dict[str, Any]]) -> str:
    rows = []
    for method, label in METHODS.items():
        r = results[method]
        rel = r["relations"]
        rows.append(
            [
                label,
                cell(r["counts"]["exact"], r["total"]),
                f"**{r['counts']['different']}**" if r["counts"]["different"] else "0",
                str(r["counts"]["missing"]),
                cell(rel["kept"], rel["total"])
                + (f" (**{rel['split']} split**)" if rel["split"] else ""),
                cell(*r["checks"]),
                cell(*r["imports"]),
            ]
        )
    header = [
        "method",
        "variables exact",
        "different (silently wrong)",
        "missing",
        "shared refs kept",
        "checks passed",
        "imports",
    ]
    return markdown_table(header, rows)


def summary_table(all_results: dict[str, dict[str, dict[str, Any]]]) -> str:
    rows = []
    for method, label in METHODS.items():
        totals = {s: 0 for s in STATUSES}
        variables = kept = refs = split = passed = checks = 0
        for results in all_results.values():
            r = results[method]
            for s in STATUSES:
                totals[s] += r["counts"][s]
            variables += r["total"]
            kept += r["relations"]["kept"]
            refs += r["relations"]["total"]
            split += r["relations"]["split"]
            passed += r["checks"][0]
            checks += r["checks"][1]
        rows.append(
            [
                label,
                cell(totals["exact"], variables),
                f"**{totals['different']}**" if totals["different"] else "0",
                str(totals["missing"]),
                cell(kept, refs),
                f"**{split}**" if split else "0",
                cell(passed, checks),
            ]
        )
    header = [
        "method",
        "variables exact",
        "different (silently wrong)",
        "missing",
        "shared refs kept",
        "split",
        "checks passed",
    ]
    return markdown_table(header, rows)


def _name_error(result: Any) -> bool:
    return isinstance(result, dict) and str(result.get("error", "")).startswith("NameError")


def not_exact_lines(results: dict[str, dict[str, Any]], verbose: bool) -> list[str]:
    lines = []
    for method, label in METHODS.items():
        r = results[method]
        if r["error"]:
            lines.append(f"- {label}: {r['error']}")
        different = [n for n, v in r["variables"].items() if v["status"] == "different"]
        if different:
            shown = [f"`{n}` ({r['variables'][n]['reason'][:200]})" for n in different]
            lines.append(f"- {label}, **different (silently wrong)**: " + "; ".join(shown))
        by_reason: dict[str, list[str]] = {}
        for name, v in r["variables"].items():
            if v["status"] == "missing":
                by_reason.setdefault(v["reason"][:200], []).append(f"`{name}`")
        for reason, names in by_reason.items():
            if len(by_reason) == 1 and r["error"] and reason.startswith(r["error"][:200]):
                lines.append(f"- {label}, missing: all {len(names)} variables")
            else:
                lines.append(f"- {label}, missing: {', '.join(names)} ({reason})")
        failed = list(r["failed_checks"].items())
        unrunnable = [k for k, v in failed if _name_error(v["got"])]
        failed = [(k, v) for k, v in failed if verbose or k not in unrunnable]
        if failed:
            limit = len(failed) if verbose else SHOWN
            text = "; ".join(
                f"{k} (expected {json.dumps(v['expected'])[:60]}, got {json.dumps(v['got'])[:80]})"
                for k, v in failed[:limit]
            )
            more = f"; and {len(failed) - limit} more" if len(failed) > limit else ""
            lines.append(f"- {label}, checks failed: {text}{more}")
        if unrunnable and not verbose:
            lines.append(
                f"- {label}: {len(unrunnable)} checks could not run (a variable they use is "
                "missing)"
            )
        if r["split"]:
            limit = len(r["split"]) if verbose else 3
            text = "; ".join(f"`{p['a']}` / `{p['b']}`" for p in r["split"][:limit])
            more = f" and {len(r['split']) - limit} more" if len(r["split"]) > limit else ""
            lines.append(f"- {label}, shared references split: {text}{more}")
    return lines


def detail_table(results: dict[str, dict[str, Any]], original: dict[str, Any]) -> str:
    rows = []
    for name in original["names"]["variables"]:
        fingerprint = original["fingerprints"].get(name)
        if isinstance(fingerprint, dict):
            kind = str(fingerprint.get("t", ""))
        elif isinstance(fingerprint, list) and len(fingerprint) > 1:
            kind = str(fingerprint[1])
        else:
            kind = "str" if isinstance(fingerprint, str) else type(fingerprint).__name__
        row = [f"`{name}`", kind.removeprefix("builtins.")]
        for method in METHODS:
            v = results[method]["variables"][name]
            text = v["status"] if not v["reason"] else f"{v['status']}: {v['reason'][:120]}"
            row.append(text.replace("|", "\\|"))
        rows.append(row)
    return markdown_table(["variable", "type", *METHODS.values()], rows)


def header(args: argparse.Namespace, package: str | None) -> str:
    from importlib.metadata import PackageNotFoundError, version

    versions = []
    for name in (
        "jupyter_gpuguard",
        "dill",
        "numpy",
        "pandas",
        "scikit-learn",
        "torch",
        "ipykernel",
    ):
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name} not installed")
    mode = "quick" if args.quick else "full"
    return (
        f"# jupyter-gpuguard restore fidelity ({mode})\n\n"
        f"Python {sys.version.split()[0]}; {', '.join(versions)}; "
        f"the kernels import jupyter_gpuguard from {package or '?'}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller data in every notebook")
    parser.add_argument("--only", default="a,b,c,d,e", help="notebooks to run, e.g. a,d")
    parser.add_argument("--verbose", action="store_true", help="per-variable detail")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--dir", type=Path, default=None, help="where to work (default: /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)

    only = {k.strip() for k in args.only.split(",") if k.strip()}
    chosen = [nb for nb in notebooks(args.quick) if nb.key in only]
    if not chosen or only - {nb.key for nb in chosen}:
        parser.error("--only takes a comma-separated subset of a,b,c,d,e")
    skipped: dict[str, str] = {}
    for nb in chosen:
        missing = [m for m in nb.requires if importlib.util.find_spec(m) is None]
        if missing:
            skipped[nb.key] = (
                f"{', '.join(missing)} is not installed: skipping notebook {nb.key}) "
                f"({nb.title}; see benchmarks/requirements.txt)"
            )
    for line in skipped.values():
        print(line, file=sys.stderr, flush=True)
    chosen = [nb for nb in chosen if nb.key not in skipped]

    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="gpuguard-fidelity-", dir=args.dir))
    ctx = Context(root)
    began = time.monotonic()
    originals: dict[str, dict[str, Any]] = {}
    compared: dict[str, dict[str, dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    try:
        for nb in chosen:
            ctx.log(f"{nb.key}) {nb.title}: running {len(nb.cells)} cells")
            nb_began = time.monotonic()
            base = root / nb.key
            try:
                originals[nb.key] = original = run_original(ctx, nb, base)
                results = {}
                for method, label in METHODS.items():
                    ctx.log(f"  {label} into a fresh kernel")
                    results[method] = compare(
                        nb, original, restore(ctx, nb, base, method, original)
                    )
                compared[nb.key] = results
            except Exception as err:
                ctx.log(f"  failed:\n{traceback.format_exc()}")
                errors[nb.key] = (
                    str(err).strip().splitlines()[-1][:300] if str(err) else type(err).__name__
                )
            finally:
                ctx.stop_all()
            originals.get(nb.key, {})["wall_s"] = time.monotonic() - nb_began
    finally:
        ctx.stop_all()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            ctx.log(f"kept {root}")
    elapsed = time.monotonic() - began

    package = next((o.get("package") for o in originals.values() if o.get("package")), None)
    out = [header(args, package)]
    for line in skipped.values():
        out.append(f"- {line}")
    all_violations: list[str] = []
    shown_violations: list[str] = []
    by_title = {nb.key: nb for nb in chosen}
    for key, results in compared.items():
        nb, original = by_title[key], originals[key]
        names = original["names"]
        truncated = original["relations"]["truncated"]
        out.append(
            f"\n## {key}) {nb.title}\n\n{len(names['variables'])} variables, "
            f"{len(names['imports'])} imports, {len(original['relations']['pairs'])} shared "
            f"references, {len(nb.checks)} checks; notebook ran in {original['cells_s']:.1f} s, "
            f"{original['wall_s']:.0f} s in all"
            + (f"; walk truncated at {', '.join(truncated)}" if truncated else "")
            + "\n"
        )
        out.append(notebook_table(results))
        lines = not_exact_lines(results, args.verbose)
        if lines:
            out.append("\n" + "\n".join(lines))
        if args.verbose:
            out.append("\n" + detail_table(results, original))
        found = violations(key, results)
        all_violations += found
        shown_violations += found if args.verbose else found[:SHOWN_VIOLATIONS]
        if len(found) > SHOWN_VIOLATIONS and not args.verbose:
            shown_violations.append(
                f"{key}: and {len(found) - SHOWN_VIOLATIONS} more (--verbose shows them all)"
            )
    for key, error in errors.items():
        out.append(f"\n## {key}) {by_title[key].title}\n\nthe benchmark failed: {error}")
    if compared:
        out.append("\n## Summary\n")
        out.append(summary_table(compared))
    out.append("\n## Target: a plain restore at least as exact as dill, no split references\n")
    if errors:
        out.append(f"not checked for {', '.join(errors)}: the benchmark failed there")
    if all_violations:
        out.append(f"**{len(all_violations)} violations**:\n")
        out += [f"- {v}" for v in shown_violations]
    elif compared:
        out.append("met: no violations")
    else:
        out.append("nothing to check: no notebook ran")
    out.append(f"\nRun time: {elapsed:.0f} s")
    text = "\n".join(out)
    print(text, flush=True)
    if args.json:
        report = {
            "quick": args.quick,
            "elapsed_s": elapsed,
            "package": package,
            "skipped": skipped,
            "errors": errors,
            "notebooks": {
                key: {
                    "title": by_title[key].title,
                    "original": {k: v for k, v in originals[key].items() if k != "fingerprints"},
                    "methods": compared[key],
                }
                for key in compared
            },
            "violations": all_violations,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
