"""The flow every benchmark runner shares (``run_h1.py``, ``run_h2.py``).

A runner subclasses :class:`Bench` with its clients, scenarios, server and tables; this
module does the rest: the command line, the interpreters and venvs of the clients, one
fresh worker process per measurement interleaved in a seeded shuffled order, the cells
(medians, min - max, CPU per request) and ratios, and the generated section of
docs/performance.md with the raw results next to it.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import random
import shlex
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Generic, TypeVar

from _machine import (
    DEFAULT_ROOT,
    WORK_DIR,
    BenchError,
    Nginx,
    VenvSpec,
    base_interpreter,
    ensure_nginx,
    ensure_venv,
    loadavg,
    log,
    machine_lock,
)

Key = tuple[str, str, str]  # (client, loop, scenario)


@dataclass
class Run:
    """One worker process's result; ``extra`` holds the runner's own server counters."""

    client: str
    loop: str
    scenario: str
    rep: int
    data: dict[str, Any]
    server_cpu_s: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return str(self.data.get("status", "failed"))

    def raw(self) -> dict[str, Any]:
        head = {"client": self.client, "loop": self.loop, "scenario": self.scenario}
        return {**head, "rep": self.rep, **self.data} | {
            "server_cpu_s": self.server_cpu_s,
            **self.extra,
        }


@dataclass(kw_only=True)
class Plan:
    """What every run of one benchmark uses; runners add their scenario settings."""

    python_for: dict[str, Path]
    env_for: dict[str, dict[str, str]]
    n: dict[str, int]
    warmup: int
    client_cpu: int | None
    src_root: Path | None = None  # our hyperhttp must be imported from here
    load_before: str = field(default_factory=loadavg)
    results: list[Run] = field(default_factory=list)
    dead: dict[str, str] = field(default_factory=dict)  # client -> why it is unavailable
    # (client, loop, scenario) that hung once: not rerun (a hang costs the whole timeout)
    hung: dict[Key, str] = field(default_factory=dict)


@dataclass
class Cell:
    """The medians of one (client, loop, scenario) over its repetitions."""

    rps: float | None = None
    rps_min: float = 0.0
    rps_max: float = 0.0
    cpu_us: float | None = None
    server_us: float | None = None
    runs: int = 0
    errors: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.rps is not None and not self.errors and not self.problems


def ratio_of(a: Cell | None, b: Cell | None, attr: str) -> str:
    """``a.attr / b.attr`` as "1.23x", or "—" unless both cells are clean and non-zero."""
    if a is None or b is None or not a.clean or not b.clean:
        return "—"
    x, y = getattr(a, attr), getattr(b, attr)
    return f"{x / y:.2f}x" if x and y else "—"


class Notes:
    """The numbered problems under the tables, and the text of cells not measured."""

    def __init__(self, dead: dict[str, str]) -> None:
        self.dead = dead
        self.notes: list[str] = []

    def mark(self, scenario: str, loop: str, label: str, cell: Cell) -> str:
        if cell.clean:
            return ""
        self.notes.append(f"{scenario} {loop} {label}: " + "; ".join(cell.problems[:3]))
        return f" [{len(self.notes)}]"

    def missing(self, client: str, cell: Cell | None) -> str:
        return self.dead.get(client) or (cell.problems[0] if cell else "not run")

    def lines(self) -> list[str]:
        if not self.notes:
            return []
        numbered = [f"{i}. {note}" for i, note in enumerate(self.notes, 1)]
        return ["Problems (a cell with errors or failed runs gets no ratio):\n", *numbered, ""]

    def join(self, tables: list[str], targets: list[str]) -> str:
        """The tables, then these problems, then the targets, as one text."""
        return "\n".join([*tables, *self.lines(), *targets])


def reported(plan: Plan, name: str) -> dict[str, str]:
    """client -> the first non-empty ``name`` its workers reported (version, python...)."""
    found: dict[str, str] = {}
    for run in plan.results:
        if run.data.get(name):
            found.setdefault(run.client, str(run.data[name]))
    return found


def python_line(plan: Plan) -> str:
    """The "Python" line of a generated section: the workers' versions."""
    pythons = {str(r.data["python"]) for r in plan.results if r.data.get("python")}
    return f"- Python: {', '.join(sorted(pythons)) or platform.python_version()}"


def imported_from(data: dict[str, Any], src_root: Path | None) -> bool:
    """True unless the worker reports a module file outside ``src_root``."""
    where = str(data.get("module_file") or "")
    if not where or src_root is None:
        return True
    return Path(where).resolve().is_relative_to(src_root)


def launch_worker(cmd: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run one worker process; its last JSON line, or why there is none."""
    try:
        r = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "detail": "worker process killed"}
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    try:
        data: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        data = {"status": "failed", "detail": f"rc={r.returncode}: {' | '.join(tail)}"}
    if r.returncode not in (0, 3) and data.get("status") == "ok":
        data["status"] = "failed"
    return data


def command_line(script: str, masked: Sequence[str], placeholder: str) -> str:
    """The command as typed, with the values of ``masked`` options (paths) replaced."""
    argv = []
    skip = False
    for a in sys.argv[1:]:
        if skip:
            skip = False
            argv.append(placeholder)
            continue
        if a in masked:
            skip = True
        for opt in masked:
            if a.startswith(opt + "="):
                a = f"{opt}={placeholder}"
        argv.append(a)
    return shlex.join([".venv/bin/python", f"benchmarks/{script}", *argv])


def write_doc(path: Path, section: str, *, begin: str, end: str, head: str) -> None:
    """Replace the section between ``begin`` and ``end`` in ``path`` (or append it); the
    rest of the file (hand-written notes, other scripts' sections) is kept."""
    text = path.read_text(encoding="utf-8") if path.exists() else head
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = before + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


S = TypeVar("S")  # the runner's server
P = TypeVar("P", bound=Plan)  # the runner's plan


class Bench(Generic[S, P]):
    """One benchmark runner: the class attributes and hooks are what differs."""

    doc = ""  # the runner's docstring: its first paragraph is the --help description
    script = ""  # e.g. "run_h1.py", as shown in the generated "Produced by" command
    worker: Path
    clients: list[str]
    loops: list[str]
    scenarios: list[str]
    labels: dict[str, str]
    ours: tuple[str, ...] = ("hyperhttp",)  # run from <project-root>/src
    client_venv: dict[str, str]  # every other client -> its venv in benchmarks/.venvs
    venv_specs: dict[str, VenvSpec]  # those venvs' packages
    drop_env: tuple[str, ...] = ()  # environment variables the workers must not see
    skip_hung = False  # True: a (client, loop, scenario) that timed out is not rerun
    masked: tuple[str, ...] = ("--project-root",)
    placeholder = "<checkout>"
    begin = ""
    end = ""
    doc_head = "# Performance\n"
    heading = "## Results"
    intro = ""  # text at the top of the generated section
    raw_name = "last-results.json"

    # ------------------------------------------------------------------ hooks

    def add_options(self, p: argparse.ArgumentParser) -> None:
        """The runner's own options (scenario sizes, limits)."""

    def quick(self, args: argparse.Namespace) -> None:
        """Shrink the scenario sizes for --quick."""

    def start(self, nginx: str, cpu: int | None) -> AbstractContextManager[S]:
        raise NotImplementedError

    def nginx_of(self, server: S) -> Nginx:
        raise NotImplementedError

    def banner(self, server: S) -> str:
        raise NotImplementedError

    def make_plan(self, args: argparse.Namespace, server: S, **common: Any) -> P:
        raise NotImplementedError

    def clients_for(self, scenario: str) -> list[str]:
        return self.clients

    def worker_args(self, plan: P, server: S, scenario: str) -> list[str]:
        raise NotImplementedError

    def worker_timeout(self, plan: P, scenario: str) -> float:
        raise NotImplementedError

    def probe(self, server: S) -> dict[str, int]:
        """Server counters read before and after each run; ``Run.extra`` gets the growth
        (less the probe's own one connection and one request)."""
        return {}

    def describe(self, run: Run) -> str:
        raise NotImplementedError

    def new_cell(self) -> Cell:
        return Cell()

    def fill(self, cell: Any, good: list[Run]) -> None:
        """Add the runner's own medians to ``cell`` (``good``: its runs that went well)."""

    def tables(self, plan: P, args: argparse.Namespace) -> str:
        raise NotImplementedError

    def environment(self, plan: P, args: argparse.Namespace, server: S) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------------ flow

    def parse_args(self) -> argparse.Namespace:
        p = argparse.ArgumentParser(
            description=self.doc.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
        )
        p.add_argument("--reps", type=int, help="repetitions per cell (default 3; --quick: 1)")
        p.add_argument("--clients", default=",".join(self.clients), help="comma-separated")
        p.add_argument("--loops", default=",".join(self.loops), help="comma-separated")
        p.add_argument("--scenarios", default=",".join(self.scenarios), help="comma-separated")
        p.add_argument("--quick", action="store_true", help="small N and 1 rep: a smoke run")
        p.add_argument("--no-write", action="store_true", help="do not touch docs/performance.md")
        p.add_argument(
            "--project-root",
            type=Path,
            default=DEFAULT_ROOT,
            help="checkout whose src/hyperhttp is measured (default: this one)",
        )
        p.add_argument("--doc", type=Path, help="default: <project-root>/docs/performance.md")
        p.add_argument("--seed", type=int, default=1, help="seed of the interleaving order")
        self.add_options(p)
        p.add_argument("--no-pin", action="store_true", help="do not pin nginx / client to CPUs")
        p.add_argument("--json", type=Path, help="also write raw results here")
        p.add_argument(
            "--serve", action="store_true", help="only start nginx, print its URL, wait for Ctrl-C"
        )
        args = p.parse_args()
        args.clients = [c for c in args.clients.split(",") if c]
        args.loops = [c for c in args.loops.split(",") if c]
        args.scenarios = [c.upper() for c in args.scenarios.split(",") if c]
        for name, got, allowed in (
            ("client", args.clients, self.clients),
            ("loop", args.loops, self.loops),
            ("scenario", args.scenarios, self.scenarios),
        ):
            bad = [x for x in got if x not in allowed]
            if bad:
                p.error(f"unknown {name}: {', '.join(bad)} (choose from {', '.join(allowed)})")
        if args.quick:
            self.quick(args)
        if args.reps is None:
            args.reps = 1 if args.quick else 3
        args.project_root = args.project_root.resolve()
        if not (args.project_root / "src" / "hyperhttp").is_dir():
            p.error(f"--project-root: no src/hyperhttp in {args.project_root}")
        if args.doc is None:
            args.doc = args.project_root / "docs" / "performance.md"
        return args

    def interpreters(
        self, args: argparse.Namespace
    ) -> tuple[dict[str, Path], dict[str, dict[str, str]]]:
        """Each client's Python (ours: the project's; peers: their venv) and environment."""
        base = base_interpreter()
        python_for: dict[str, Path] = {}
        env_for: dict[str, dict[str, str]] = {}
        drop = {"PYTHONPATH", "PYTHONHOME", *self.drop_env}
        clean_env = {k: v for k, v in os.environ.items() if k not in drop}
        for client in args.clients:
            if client in self.ours:
                root_venv = args.project_root / ".venv" / "bin" / "python"
                python_for[client] = root_venv if root_venv.exists() else Path(sys.executable)
                env_for[client] = dict(clean_env, PYTHONPATH=str(args.project_root / "src"))
            else:
                venv = self.client_venv[client]
                python_for[client] = ensure_venv(venv, self.venv_specs[venv], base)
                env_for[client] = dict(clean_env)
        return python_for, env_for

    def combos(self, args: argparse.Namespace, scenario: str) -> list[tuple[str, str]]:
        allowed = self.clients_for(scenario)
        return [(c, lp) for c in args.clients if c in allowed for lp in args.loops]

    def total_runs(self, args: argparse.Namespace) -> int:
        return args.reps * sum(len(self.combos(args, s)) for s in args.scenarios)

    def run_worker(self, plan: P, server: S, client: str, loop: str, scenario: str) -> Run:
        cmd = [str(plan.python_for[client]), str(self.worker), "--client", client]
        cmd += ["--loop", loop, "--scenario", scenario, *self.worker_args(plan, server, scenario)]
        if plan.client_cpu is not None:
            cmd += ["--cpu", str(plan.client_cpu)]
        nginx = self.nginx_of(server)
        cpu0 = nginx.cpu_seconds()
        before = self.probe(server)
        data = launch_worker(cmd, plan.env_for[client], self.worker_timeout(plan, scenario))
        if client in self.ours and not imported_from(data, plan.src_root):
            data["status"] = "failed"
            data["detail"] = "imported hyperhttp from outside the --project-root checkout"
        after = self.probe(server)
        run = Run(client, loop, scenario, -1, data, nginx.cpu_seconds() - cpu0)
        run.extra = {k: after[k] - before[k] - 1 for k in before}
        return run

    def execute(self, plan: P, server: S, args: argparse.Namespace) -> None:
        rng = random.Random(args.seed)
        total = self.total_runs(args)
        width = max(len(c) for c in self.clients)
        done = 0
        t_start = time.monotonic()
        for rep in range(args.reps):
            for scenario in args.scenarios:
                order = self.combos(args, scenario)
                rng.shuffle(order)
                for client, loop in order:
                    done += 1
                    if client in plan.dead or (client, loop, scenario) in plan.hung:
                        continue
                    run = self.run_worker(plan, server, client, loop, scenario)
                    self.nginx_of(server).check_alive()
                    run.rep = rep
                    plan.results.append(run)
                    if run.status == "unavailable":
                        plan.dead[client] = str(run.data.get("detail", ""))
                    elif run.status == "timeout" and self.skip_hung:
                        plan.hung[(client, loop, scenario)] = (
                            f"hung in rep {rep + 1} ({run.data.get('detail', '')}); not rerun"
                        )
                    elif run.status == "invalid":
                        log(f"!! {client} returned WRONG DATA: {run.data.get('detail')}")
                    elapsed = time.monotonic() - t_start
                    log(
                        f"[{done}/{total} {elapsed:5.0f}s] rep {rep + 1} {scenario} "
                        f"{client:<{width}} {loop:<7} {self.describe(run)}"
                    )

    def summarize(self, plan: P) -> dict[Key, Any]:
        cells: dict[Key, Any] = {}
        groups: dict[Key, list[Run]] = {}
        for run in plan.results:
            groups.setdefault((run.client, run.loop, run.scenario), []).append(run)
        for key, runs in groups.items():
            cell = self.new_cell()
            good = [r for r in runs if r.status == "ok"]
            for r in runs:
                if r.status != "ok":
                    cell.problems.append(f"{r.status}: {r.data.get('detail', '')}")
            if good:
                rps = [float(r.data["req_per_s"]) for r in good]
                cell.rps, cell.rps_min, cell.rps_max = statistics.median(rps), min(rps), max(rps)
                cell.cpu_us = statistics.median(float(r.data["cpu_us_per_req"]) for r in good)
                per_req = [
                    r.server_cpu_s / (int(r.data["n"]) + int(r.data.get("warmup_n", 0))) * 1e6
                    for r in good
                    if r.server_cpu_s > 0
                ]
                cell.server_us = statistics.median(per_req) if per_req else None
                self.fill(cell, good)
                cell.runs = len(good)
                cell.errors = sum(int(r.data.get("errors", 0)) for r in good)
                details = {str(r.data["detail"]) for r in good if r.data.get("errors")}
                cell.problems.extend(sorted(details))
            cells[key] = cell
        return cells

    def section(self, plan: P, args: argparse.Namespace, server: S) -> str:
        now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return "\n".join(
            [
                self.begin,
                "",
                *([self.intro] if self.intro else []),
                f"{self.heading} ({now})",
                "",
                "Produced by:",
                "",
                "```",
                command_line(self.script, self.masked, self.placeholder),
                "```",
                "",
                self.environment(plan, args, server),
                "",
                self.tables(plan, args),
                self.end,
            ]
        )

    def main(self) -> int:
        args = self.parse_args()
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGHUP, _on_signal)
        try:
            nginx = ensure_nginx()
            if args.serve:
                with self.start(nginx, None) as server:
                    self.nginx_of(server).check_alive()
                    print(self.banner(server), flush=True)
                    while self.nginx_of(server).proc.poll() is None:
                        time.sleep(1)
                return 0
            python_for, env_for = self.interpreters(args)
            cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
            pin = not args.no_pin and len(cpus) >= 2
            server_cpu, client_cpu = (cpus[0], cpus[1]) if pin else (None, None)
            runs = self.total_runs(args)
            log(f"{runs} runs; nginx on CPU {server_cpu}, client on CPU {client_cpu}")
            with machine_lock(), self.start(nginx, server_cpu) as server:
                if float(loadavg().split()[0].replace("?", "0")) > 0.5:
                    log(f"warning: the machine is busy (load {loadavg()}): numbers will be noisy")
                plan = self.make_plan(
                    args,
                    server,
                    python_for=python_for,
                    env_for=env_for,
                    warmup=args.warmup,
                    client_cpu=client_cpu,
                    src_root=(args.project_root / "src").resolve(),
                )
                self.execute(plan, server, args)
                section = self.section(plan, args, server)
        except BenchError as exc:
            log(f"error: {exc}")
            return 2
        except KeyboardInterrupt:
            log("interrupted: nginx stopped, nothing written")
            return 130
        return self.finish(plan, args, section)

    def finish(self, plan: P, args: argparse.Namespace, section: str) -> int:
        """Keep the raw results, print the section, write it into the doc; the exit code."""
        raw = [r.raw() for r in plan.results]
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        (WORK_DIR / self.raw_name).write_text(json.dumps(raw, indent=1))
        if args.json:
            args.json.write_text(json.dumps(raw, indent=1))
        print(section.replace(self.begin, "").replace(self.end, "").strip())
        if not any(cell.clean for cell in self.summarize(plan).values()):
            log("no client produced a clean measurement: docs not touched")
            return 1
        if args.no_write:
            log("--no-write: docs not touched")
        else:
            write_doc(args.doc, section, begin=self.begin, end=self.end, head=self.doc_head)
            log(f"wrote {args.doc}")
        invalid = [r for r in plan.results if r.status == "invalid"]
        return 3 if invalid else 0
