"""``python -m app``: set up, run, deploy, schedule and inspect the pipeline, on the simulator or Snowflake."""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from app import control
from app.colour import write_states
from app.container import Container, build_container, build_guest_container
from app.local_scheduler import StopRequest
from app.monitor import FollowStopped, follow_run
from app.render import (
    decoded,
    gate_decision,
    graph_dot,
    graph_mermaid,
    graph_text,
    models_dict,
    models_table,
    readiness_text,
    run_detail,
    run_to_dict,
    runs_json,
    runs_table,
    task_log,
)
from app.report import report_file
from app.settings import Settings, load_settings, parse_assignments, with_pipeline_overrides
from domain import model_admin
from domain import pipeline as p
from domain.config import RunConfig
from domain.errors import (
    AlreadyExists,
    BackendUnavailable,
    Conflict,
    DomainError,
    HomeInUse,
    InvalidConfig,
    InvalidData,
    JobTimeout,
    NotFound,
    Unsupported,
)
from domain.graph import GraphRun, GraphRunState, GraphSpec, TaskRun
from domain.readiness import ready
from domain.refs import JobRef
from domain.schedule import Schedule, parse_schedule

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_BACKEND, EXIT_TIMEOUT = 0, 1, 2, 3, 124
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
REPORT_RUNS = 10  # runs a report shows unless `report --runs` says otherwise

log = logging.getLogger("app")


def _schedule(text: str) -> Schedule:
    try:
        return parse_schedule(text)
    except InvalidConfig as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from exc
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number of seconds greater than 0")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a whole number >= 1")
    return int(text)


def _since(text: str) -> datetime:
    """An ISO date or time (UTC unless it says otherwise), or an age such as 30m, 12h, 7d."""
    units = {"m": 60, "h": 3600, "d": 86400}
    if text[:-1].isdigit() and text[-1:] in units:
        return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give an ISO date or time (2026-11-02, 2026-11-02T06:00) or an age (30m, 12h, 7d)"
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("taskgraph-ml-pipeline")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def _command(
    sub: Any, common: argparse.ArgumentParser, name: str, summary: str, *examples: str
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` has a description (``summary``, also its line in the command list) and an
    epilog of examples, kept as written (RawDescriptionHelpFormatter) so each example stays on its own line."""
    return sub.add_parser(  # type: ignore[no-any-return]
        name,
        parents=[common],
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog="Example"
        + ("s" if len(examples) > 1 else "")
        + ":\n"
        + "\n".join(f"  python -m app {e}" for e in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


# shtab's shells (shtab.SUPPORTED_SHELLS also lists fish and powershell, which this project does not test).
_SHELLS = ("bash", "zsh", "tcsh")
# The console script pyproject.toml installs: shells complete a command name, and `python -m app` is not one.
COMPLETED_PROG = "taskgraph-ml"


def build_parser(prog: str = "python -m app") -> argparse.ArgumentParser:
    # Global options are accepted before or after the command. The parsers share these actions, so their
    # default is SUPPRESS (absent), never a value that a later parser would write over an earlier one.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    g = common.add_argument_group("backend")
    g.add_argument(
        "--backend",
        choices=["simulator", "snowflake"],
        help="where to run (env APP_BACKEND; default simulator)",
    )
    g.add_argument(
        "-c",
        "--connection",
        metavar="NAME",
        help="connections.toml entry; without --backend it means the snowflake backend (as in `snow`)",
    )
    g.add_argument(
        "--home", metavar="PATH", help="simulator home folder (env APP_HOME; default a per-user data folder)"
    )
    g.add_argument("--config-file", metavar="PATH", help="TOML settings file (env APP_CONFIG)")
    g.add_argument("-v", "--verbose", action="store_true", help="log what happens underneath")

    parser = argparse.ArgumentParser(
        prog=prog,
        description="An ML pipeline on Snowflake Task Graphs — Feature Store → XGBoost ML Job → quality gate → "
        "promote or alert → cleanup — that runs on a local simulator or a real account.",
        parents=[common],
        epilog="Exit codes: 0 success, 1 the run did not succeed, 2 invalid input or configuration, "
        "3 backend unavailable or object not found, 124 timeout, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = _command(
        sub,
        common,
        "setup",
        "create the account objects and load the source data",
        "setup --rows 20000 --seed 7",
        "setup --data loans.csv -f",
    )
    s.add_argument("--rows", type=_count, default=369_245, help="rows to generate (default 369245)")
    s.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    s.add_argument(
        "--signal",
        type=float,
        default=1.0,
        help="how strongly the label depends on the features, "
        "0..1 (default 1; low values make the quality gate alert)",
    )
    s.add_argument(
        "--data", metavar="PATH", help="load this CSV or Parquet file (the guide's columns) instead"
    )
    s.add_argument("-f", "--force", action="store_true", help="rebuild the source table (a new data version)")

    r = _command(
        sub,
        common,
        "run",
        "run the pipeline once in this process (the guide's pipeline_local.py)",
        "run --no-register --config metric_threshold=0.8",
    )
    r.add_argument("--no-register", action="store_true", help="train and evaluate, but do not log the model")
    r.add_argument("-s", "--source-table", help="source table (default MORTGAGE_LENDING_DEMO_DATA)")
    r.add_argument("-d", "--dataset-name", help="dataset name (default mortgage_dataset)")
    r.add_argument("-m", "--model-name", help="model name (default mortgage_model)")
    r.add_argument("-f", "--force-refresh", action="store_true", help="rebuild this data version's datasets")
    r.add_argument(
        "--config", action="append", default=[], metavar="KEY=VALUE", help="pipeline setting override"
    )

    d = _command(
        sub,
        common,
        "deploy",
        "deploy the task graph (or-replace); optionally run it",
        "deploy --run",
        "deploy --schedule '0 6 * * * UTC' -c my_account",
    )
    d.add_argument(
        "--schedule",
        type=_schedule,
        help="1d, 12h, 30m, a number of days, or 'CRON TZ' "
        "such as '0 6 * * * UTC'; without it the graph runs only when executed",
    )
    d.add_argument("--run", action="store_true", help="execute the graph now and follow it live")
    d.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="graph config value, e.g. metric_threshold=0.8 (repeatable)",
    )
    d.add_argument(
        "--timeout", type=_positive, default=3600.0, help="seconds to follow the run (default 3600)"
    )
    d.add_argument("--report", type=Path, metavar="PATH", help="write the HTML run report here after the run")

    ru = _command(
        sub,
        common,
        "runs",
        "graph runs with per-task state, duration, value, error",
        "runs --limit 3",
        "runs --format json",
    )
    ru.add_argument("--limit", type=_count, default=10)
    ru.add_argument("--format", choices=["table", "json"], default="table")
    ru.add_argument(
        "--state",
        action="append",
        choices=[str(s) for s in GraphRunState],
        help="only runs in this state (repeatable)",
    )
    ru.add_argument(
        "--since", type=_since, help="only runs started since: an ISO date/time or an age (30m, 12h, 7d)"
    )
    ru_sub = ru.add_subparsers(dest="runs_command", metavar="show")
    rs = _command(
        ru_sub,
        common,
        "show",
        "one graph run: each task's state, attempt, duration, return value, error and traceback",
        "runs show 1796173200000",
        "runs show 1796173200000 --format json",
    )
    rs.add_argument("run_id", metavar="RUN_ID", help="the graph run's id (as `runs` lists it)")
    rs.add_argument("--format", choices=["text", "json"], default="text")

    lg = _command(
        sub,
        common,
        "logs",
        "what a task logged and printed, its error and traceback; or its ML Job's log",
        "logs train_model",
        "logs train_model --run 1796173200000 --instance 1",
    )
    lg.add_argument("task", metavar="TASK", help="task name, e.g. train_model")
    lg.add_argument("--run", metavar="RUN_ID", dest="run_id", help="graph run id (default the latest run)")
    lg.add_argument(
        "--instance",
        type=int,
        metavar="N",
        help="the log of instance N (0 is the head) of the ML Job the task ran",
    )

    m = _command(sub, common, "models", "model versions, default, aliases, metrics", "models --format json")
    m.add_argument("--format", choices=["table", "json"], default="table")
    m.add_argument("-m", "--model-name", help="model name (default from settings)")
    change = m.add_mutually_exclusive_group()
    change.add_argument("--drop", metavar="VERSION", help="drop a version (the default only with --force)")
    change.add_argument("--set-default", metavar="VERSION", help="make a version the default (CHAMPION)")
    m.add_argument("--force", action="store_true", help="with --drop: also the default or an aliased version")

    gr = _command(
        sub, common, "graph", "the task graph, with the last run's states", "graph --format mermaid"
    )
    gr.add_argument("--format", choices=["text", "mermaid", "dot"], default="text")

    sc = _command(
        sub,
        common,
        "scheduler",
        "run scheduled graphs until SIGINT/SIGTERM (simulator)",
        "scheduler --poll 10",
    )
    sc.add_argument("--poll", type=_positive, default=5.0, help="seconds between checks (default 5)")
    sc.add_argument(
        "--report", type=Path, metavar="PATH", help="refresh the HTML run report here after each run"
    )

    rp = _command(
        sub,
        common,
        "report",
        "write one self-contained HTML page: a grid of tasks x the last runs, each run's graph, task "
        "values, errors and job logs, the gate's evidence and the models",
        "report --out run-report.html",
        "report --runs 30",
    )
    rp.add_argument("--out", type=Path, default=Path("run-report.html"), metavar="PATH")
    rp.add_argument(
        "--runs",
        type=_count,
        default=REPORT_RUNS,
        help=f"how many of the last runs to show (default {REPORT_RUNS})",
    )

    pl = _command(
        sub,
        common,
        "plan",
        "print what a deploy to Snowflake would create; with --backend snowflake -c NAME, also the "
        "difference from what is deployed",
        "plan --schedule 1d",
        "plan -c my_account",
    )
    pl.add_argument("--schedule", type=_schedule, help="as for deploy")
    pl.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="as for deploy")

    dr = _command(
        sub,
        common,
        "doctor",
        "check that a deploy would work (objects, role, pool, packages…) and print the fix for each gap",
        "doctor",
        "doctor -c my_account",
    )
    dr.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="as for deploy")

    rt = _command(
        sub,
        common,
        "retry",
        "re-run the last run's failed and cancelled tasks and what follows them (EXECUTE TASK … RETRY LAST)",
        "retry",
        "retry --timeout 1800",
    )
    ex = _command(
        sub,
        common,
        "execute",
        "run the deployed graph once, optionally with config values for this run only "
        "(EXECUTE TASK … USING CONFIG; nothing is redeployed)",
        "execute --config n_estimators=200",
    )
    ex.add_argument(
        "--config",
        dest="run_config",  # not a settings override: it goes to this one run only
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config value for this run, e.g. metric_threshold=0.8 (repeatable)",
    )
    for command in (rt, ex):
        command.add_argument(
            "--timeout", type=_positive, default=3600.0, help="seconds to follow the run (default 3600)"
        )

    for name, text in (
        ("suspend", "stop the schedule"),
        ("resume", "restart the schedule"),
        ("drop", "remove the graph and its finalizer"),
        ("cancel", "cancel the graph's running executions"),
    ):
        _command(sub, common, name, text, name, f"{name} -c my_account")
    co = _command(
        sub,
        common,
        "completion",
        "print a shell completion script (static: pressing Tab never starts Python)",
        "completion bash > ~/.local/share/bash-completion/completions/taskgraph-ml",
        "completion zsh > ~/.zfunc/_taskgraph-ml",
    )
    co.add_argument("shell", choices=_SHELLS)
    return parser


def completion_script(shell: str) -> str:
    """The static completion script for ``shell``, generated by shtab from the parser itself, so it follows every
    command and option; imported here only, as no other command needs it."""
    import shtab

    return str(shtab.complete(build_parser(COMPLETED_PROG), shell=shell)).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(words)
    if args.command == "completion":  # needs no settings, backend or first line: stdout is the script only
        out.write(completion_script(args.shell))
        return EXIT_OK
    for option, default in (
        ("backend", None),
        ("connection", None),
        ("home", None),
        ("config_file", None),
        ("verbose", False),
    ):
        if not hasattr(args, option):
            setattr(args, option, default)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=err,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.captureWarnings(True)  # library warnings (e.g. 'already exists. Skip registration') are logs
    logging.getLogger("py.warnings").setLevel(logging.INFO if args.verbose else logging.ERROR)
    if args.connection is not None and args.backend is None:
        args.backend = "snowflake"  # `-c NAME` names a Snowflake connection, as in `snow`
    try:
        settings = load_settings(
            config_file=args.config_file, backend=args.backend, home=args.home, connection=args.connection
        )
        overrides = _overrides(args)
        if overrides:
            settings = with_pipeline_overrides(settings, overrides)
    except DomainError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_BAD_INPUT
    container = build_container(settings)
    try:
        # On stderr, so stdout stays exactly what the command prints (JSON, mermaid, a table to pipe).
        err.write(f"[{container.context()}]\n")
        return _outcome(lambda: _held(args, words, settings, container, out, err), err)
    finally:
        container.shutdown_resources()


def _outcome(command: Callable[[], int], err: TextIO) -> int:
    """Run a command; a domain error is one line on ``err`` and its exit code."""
    try:
        return command()
    except (InvalidConfig, InvalidData, AlreadyExists, Conflict) as exc:
        err.write(f"error: {exc}\n")
        return EXIT_BAD_INPUT
    except (NotFound, BackendUnavailable, Unsupported) as exc:
        err.write(f"error: {exc}\n")
        return EXIT_BACKEND
    except JobTimeout as exc:
        err.write(f"timeout: {exc}\n")
        return EXIT_TIMEOUT
    except DomainError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_RUN_FAILED
    except KeyboardInterrupt:  # Ctrl-C outside a followed run (deploy --run handles its own): no traceback
        err.write("Interrupted.\n")
        return EXIT_INTERRUPTED


# Commands that open no home: plan describes a deploy; doctor opens one only if it exists, and reports a home
# in use as a check of its own.
_NO_HOME = frozenset({"plan", "doctor"})


def _held(
    args: argparse.Namespace, argv: list[str], settings: Settings, c: Container, out: TextIO, err: TextIO
) -> int:
    """Run the command. On the simulator this process holds the home meanwhile and answers other processes'
    commands on it (``app.control``); when another process holds it, that one runs the command instead."""
    if settings.backend != "simulator" or args.command in _NO_HOME:
        return COMMANDS[args.command](args, settings, c, out)
    try:
        account = c.account()
    except HomeInUse as exc:
        holder = control.read_holder(exc.home)
        if holder is None:  # held by a process that serves no endpoint (or is just closing): say so
            raise
        code, stdout, stderr = control.forward(exc.home, holder, args.command, argv, settings, cwd=Path.cwd())
        err.write(f"[answered by pid {holder.pid}, which holds the home: {holder.command}]\n")
        out.write(stdout)
        err.write(stderr)
        return code
    c.dag_operation()  # built before serving, as forwarded commands share it (build_guest_container)
    command = "python -m app " + shlex.join(argv)
    with control.serving(account.home, command, _guest_commands(c, command)):
        return COMMANDS[args.command](args, settings, c, out)


def _guest_commands(host: Container, holding: str) -> control.Handler:
    """How this process runs a command another process forwarded: parsed as that process parsed it, with its
    settings and its working folder, on adapters sharing this process's account and engine."""

    def run(argv: list[str], settings: Settings, cwd: Path) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        args = build_parser().parse_args(argv)  # the caller parsed the same argv already
        if args.command not in control.FORWARDED:
            refusal = control.Holder(os.getpid(), 0, "", holding).refusal(host.account().home)
            return EXIT_BACKEND, "", f"error: {refusal}\n"
        for key, value in vars(args).items():  # paths (report --out) are the caller's, not this process's
            if isinstance(value, Path):
                setattr(args, key, cwd / value)
        guest = build_guest_container(settings, host)
        try:
            code = _outcome(lambda: COMMANDS[args.command](args, settings, guest, out), err)
        finally:
            guest.shutdown_resources()
        return code, out.getvalue(), err.getvalue()

    return run


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    overrides: dict[str, object] = dict(parse_assignments(getattr(args, "config", []) or []))
    for flag, key in (
        ("source_table", "source_table"),
        ("dataset_name", "dataset_name"),
        ("model_name", "model_name"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[key] = value
    return overrides


def cmd_setup(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    for line in c.setup(rows=args.rows, seed=args.seed, signal=args.signal, data=args.data, force=args.force):
        out.write(line + "\n")
    return EXIT_OK


def _ensure_setup(c: Container, out: TextIO) -> None:
    home = c.new_home()
    if home is not None:
        out.write(f"New simulator home {home}: running setup first.\n")
        for line in c.setup():
            out.write(line + "\n")


def cmd_run(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    _ensure_setup(c, out)
    now = datetime.now(UTC)
    run = RunConfig.from_graph(settings.pipeline.to_mapping(), now)
    out.write(f"Running {settings.pipeline.model_name} pipeline {run.model_version} in this process…\n")
    result = p.run_pipeline(c.ports(), run, no_register=args.no_register, force_refresh=args.force_refresh)
    for stage in p.STAGES:
        out.write(f"  {stage:<22} {result.states[stage]}\n")
    if result.decision is not None:
        out.write(f"Branch chosen: {result.decision.successor}; {result.decision.explained()}\n")
    if args.no_register:
        out.write("--no-register: the model was not logged.\n")
    if result.promoted is not None:
        out.write(f"Promoted {result.promoted.model_name} version {result.promoted.version} to default.\n")
    if result.error:
        out.write(f"FAILED: {result.error}\n")
        return EXIT_RUN_FAILED
    return EXIT_OK


def _graph(settings: Settings, schedule: Schedule | None = None) -> GraphSpec:
    g = settings.graph
    return p.pipeline_graph(
        settings.pipeline,
        name=g.name,
        schedule=schedule,
        warehouse=settings.names.warehouse,
        task_auto_retry_attempts=g.task_auto_retry_attempts,
        task_timeout_ms=g.task_timeout_seconds * 1000,
        overlap_policy=g.overlap_policy,
        deployment=settings.names.deployment(),
    )


def cmd_deploy(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    _ensure_setup(c, out)
    graph = _graph(settings, args.schedule)
    scheduler = c.scheduler()
    p.deploy_graph(c.jobs(), scheduler, graph, settings.pipeline)
    when = (
        f"on schedule {graph.schedule.text()}" if graph.schedule else "unscheduled (runs only when executed)"
    )
    out.write(f"Deployed task graph {graph.name} ({len(graph.tasks) + 1} tasks) {when}.\n")
    if not args.run:
        return EXIT_OK
    run_id = scheduler.run(graph.name)
    out.write(f"Graph run {run_id} started (Ctrl-C asks whether to cancel it).\n")
    try:
        return _follow(c, graph.name, run_id, args.timeout, out)
    finally:
        if args.report is not None:
            _write_report(args.report, REPORT_RUNS, graph, settings, c, out)


def _attached(c: Container, settings: Settings) -> str:
    """The deployed graph's name, made runnable from this process where its task bodies must live here."""
    graph = _graph(settings)
    attach = c.attach_graph()
    if attach is not None:
        attach(graph)
    return graph.name


def cmd_retry(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    name = _attached(c, settings)
    run_id = c.scheduler().run(name, retry_last=True)
    out.write(f"Graph run {run_id} retried: its failed and cancelled tasks run again.\n")
    return _follow(c, name, run_id, args.timeout, out)


def cmd_execute(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    given = parse_assignments(args.run_config)
    # Checked and typed as a deploy's --config is, so a bad key or value fails here, not inside the run.
    typed = with_pipeline_overrides(settings, given).pipeline.to_mapping()
    override = {key: typed[key] for key in given}
    name = _attached(c, settings)
    run_id = c.scheduler().run(name, config=override or None)
    using = f" using config {json.dumps(override, sort_keys=True)}" if override else ""
    out.write(f"Graph run {run_id} started{using}.\n")
    return _follow(c, name, run_id, args.timeout, out)


# How long a cancelled run may take to end: its finalizer (cleanup, the failure notice) still runs.
_CANCEL_GRACE_SECONDS = 300.0


def _follow(c: Container, graph_name: str, run_id: str, timeout: float, out: TextIO) -> int:
    """Follow a run to its end. Ctrl-C (or SIGTERM) asks whether to cancel it or leave it running (cancel when
    there is no terminal to ask); ``timeout`` cancels it. A cancelled run is followed until its finalizer ends,
    so cleanup and the failure notice happen before this process exits. The signal handler only sets a flag."""
    scheduler = c.scheduler()
    stop = StopRequest(lambda received: out.write(f"\nReceived {received.name}.\n"))

    def follow(limit: float | None) -> GraphRun:
        return follow_run(
            scheduler,
            graph_name,
            run_id,
            timeout=limit,
            out=out,
            live=c.live_task_states(),
            stopped=stop.is_set,
        )

    def cancel(why: str) -> GraphRun:
        stop.clear()
        scheduler.cancel(graph_name)
        out.write(f"Cancelling graph run {run_id} ({why}); waiting for its finalizer…\n")
        return follow(_CANCEL_GRACE_SECONDS)

    with stop.installed():
        try:
            try:
                return _report_run(follow(timeout), out)
            except JobTimeout as exc:
                run = cancel(f"{exc}")
                _report_run(run, out)
                out.write(f"Timed out after {timeout:g} s: graph run {run_id} ended {run.state}.\n")
                return EXIT_TIMEOUT
            except FollowStopped:
                if _confirm_cancel(run_id):
                    run = cancel("interrupted")
                    _report_run(run, out)
                    out.write(f"Interrupted: graph run {run_id} ended {run.state}.\n")
                    return EXIT_INTERRUPTED
                stop.clear()
                if not c.run_lives_in_process():
                    out.write(f"Left graph run {run_id} running; watch it with: python -m app runs\n")
                    return EXIT_INTERRUPTED
                out.write(
                    "The simulator runs it in this process: following it to its end (Ctrl-C cancels).\n"
                )
                try:
                    return _report_run(follow(None), out)
                except FollowStopped:
                    run = cancel("interrupted again")
                    _report_run(run, out)
                    out.write(f"Interrupted: graph run {run_id} ended {run.state}.\n")
                    return EXIT_INTERRUPTED
        except FollowStopped:  # interrupted while a cancelled run's finalizer runs
            out.write(
                f"Stopped waiting: graph run {run_id} was cancelled; its finalizer may still be running.\n"
            )
            return EXIT_INTERRUPTED


def _confirm_cancel(run_id: str) -> bool:
    """Ask on the terminal whether to cancel the run; without a terminal (CI, a pipe), cancel."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return True
    previous = signal.signal(
        signal.SIGINT, signal.default_int_handler
    )  # a second Ctrl-C at the prompt cancels
    try:
        answer = input(f"Cancel graph run {run_id} (its finalizer still runs) or leave it running? [C/l] ")
    except (EOFError, KeyboardInterrupt):
        return True
    finally:
        signal.signal(signal.SIGINT, previous)
    return not answer.strip().lower().startswith("l")


def _report_run(run: Any, out: TextIO) -> int:
    by_name = {t.short_name.lower(): t for t in run.tasks}
    branch = by_name.get(p.CHECK_MODEL_QUALITY)
    promoted = by_name.get(p.PROMOTE_MODEL)
    out.write(f"Graph run {run.run_id} {run.state}.\n")
    decision = gate_decision(run)
    if branch is not None and branch.return_value:
        why = f"; {decision.explained()}" if decision is not None else ""
        out.write(f"Branch chosen: {branch.return_value}{why}\n")
    value = decoded(promoted.return_value) if promoted is not None else None
    if isinstance(value, dict):
        out.write(f"Model version: {value['model_name']} {value['model_version']} (graph run {run.run_id})\n")
    if run.first_error_task_name:
        out.write(f"First error in {run.first_error_task_name}: {run.first_error_message}\n")
    return EXIT_OK if run.state is GraphRunState.SUCCEEDED else EXIT_RUN_FAILED


_SCAN = 1000  # runs read to filter by state or time (COMPLETE_TASK_GRAPHS' RESULT_LIMIT is 1000 too)


def cmd_runs(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    if args.runs_command == "show":
        return _show_run(args, settings, c, out)
    filtered = bool(args.state or args.since)
    runs = c.scheduler().runs(settings.graph.name, limit=_SCAN if filtered else args.limit)
    if args.state:
        runs = [r for r in runs if str(r.state) in args.state]
    if args.since:
        runs = [r for r in runs if (r.query_start_time or r.scheduled_time) >= args.since]
    runs = runs[: args.limit]
    if args.format == "json":
        out.write(runs_json(runs) + "\n")
    else:
        write_states(out, runs_table(runs))
    return EXIT_OK


def _find_run(c: Container, graph: str, run_id: str | None) -> GraphRun:
    if run_id is not None:
        found: GraphRun = c.scheduler().run_detail(graph, run_id)
        return found
    runs: list[GraphRun] = c.scheduler().runs(graph, limit=1)
    if not runs:
        raise NotFound(f"task graph {graph} has no runs yet; start one with: python -m app deploy --run")
    return runs[0]


def _show_run(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    run = _find_run(c, settings.graph.name, args.run_id)
    text = json.dumps(run_to_dict(run, details=True), indent=2) if args.format == "json" else run_detail(run)
    out.write(text + "\n")
    return EXIT_OK


def cmd_logs(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    run = _find_run(c, settings.graph.name, args.run_id)
    task = _task_of(run, args.task)
    value = decoded(task.return_value)
    job_id = value.get("job_id") if isinstance(value, dict) else p.failed_training_job(task.error_message)
    if args.instance is None:
        out.write(task_log(task) + "\n")
        if job_id:
            out.write(
                f"ML Job {job_id}: its logs with `python -m app logs {args.task} --run {run.run_id} "
                "--instance N` (0 is the head)\n"
            )
        return EXIT_OK
    if not job_id:
        raise NotFound(
            f"task {args.task} of graph run {run.run_id} recorded no ML Job (only train_model runs one)"
        )
    out.write(c.jobs().logs(JobRef(job_id), args.instance).rstrip("\n") + "\n")
    return EXIT_OK


def _task_of(run: GraphRun, name: str) -> TaskRun:
    tasks = {t.short_name.lower(): t for t in run.tasks}
    if name.lower() not in tasks:
        raise NotFound(
            f"graph run {run.run_id} has no task {name!r} that ran; its tasks: {', '.join(sorted(tasks))}"
        )
    return tasks[name.lower()]


def cmd_models(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    model = args.model_name or _deployed_model_name(c, settings)
    if args.force and args.drop is None:
        raise InvalidConfig("--force applies only to --drop VERSION")
    if args.drop is not None:
        out.write(model_admin.drop_version(c.registry(), model, args.drop, force=args.force) + "\n")
        return EXIT_OK
    if args.set_default is not None:
        out.write(model_admin.set_default(c.registry(), model, args.set_default) + "\n")
        return EXIT_OK
    versions = sorted(
        c.registry().list_versions(model), key=lambda v: (v.created_on, v.version), reverse=True
    )
    name = versions[0].model_name if versions else model
    if args.format == "json":
        out.write(json.dumps(models_dict(name, versions), indent=2) + "\n")
    else:
        out.write(models_table(name, versions, settings.pipeline.metric_name) + "\n")
    return EXIT_OK


def _deployed_model_name(c: Container, settings: Settings) -> str:
    """The model the deployed graph logs (its config may override the settings'), else the settings' one."""
    try:
        deployed = c.scheduler().deployed(settings.graph.name)
    except NotFound:
        return settings.pipeline.model_name
    return str(deployed.config.get("model_name") or settings.pipeline.model_name)


_RENDER: dict[str, Callable[..., str]] = {"text": graph_text, "mermaid": graph_mermaid, "dot": graph_dot}


def cmd_graph(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    scheduler = c.scheduler()
    graph = _graph(settings)
    try:
        deployed = scheduler.deployed(graph.name)
    except NotFound:
        deployed, runs = None, []
    else:  # the graph as it runs: the config and schedule it was deployed with
        graph = replace(graph, config=dict(deployed.config))
        runs = scheduler.runs(graph.name, limit=1)
    text = _RENDER[args.format](graph, runs[0] if runs else None, deployed)
    if args.format == "text":
        write_states(out, text)
    else:  # mermaid and DOT are for other programs: never colour codes
        out.write(text + "\n")
    return EXIT_OK


def cmd_scheduler(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    loop = c.local_scheduler()
    stop = StopRequest(
        lambda received: out.write(f"Received {received.name}; stopping after the current check.\n")
    )
    stop.install()
    graph = _graph(settings)
    loop.attach(graph)
    out.write(f"Scheduler running on {loop.home} (checking every {args.poll:g} s). Ctrl-C to stop.\n")
    report = (
        None
        if args.report is None
        else report_file(args.report, runs=REPORT_RUNS, graph=graph, settings=settings, c=c)
    )

    def started(run: GraphRun) -> None:
        out.write(f"Run {run.run_id} of {run.graph_name} started ({run.scheduled_from}).\n")
        if report is not None:
            report.refresh()

    def ended(run: GraphRun) -> None:
        out.write(_ended_line(run) + "\n")
        if report is not None:
            report.refresh()

    if report is not None:
        report.refresh()  # the page exists from the start, showing the runs so far
    loop.run(stop, args.poll, on_start=started, on_end=ended)
    out.write("Scheduler stopped.\n")
    return EXIT_OK


def cmd_report(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    _write_report(args.out, args.runs, _graph(settings), settings, c, out)
    return EXIT_OK


def _write_report(
    path: Path, runs: int, graph: GraphSpec, settings: Settings, c: Container, out: TextIO
) -> None:
    try:
        report = report_file(path, runs=runs, graph=graph, settings=settings, c=c).write()
    except OSError as exc:
        raise InvalidConfig(f"cannot write the run report to {path}: {exc.strerror or exc}") from exc
    out.write(
        f"Wrote run report {path} ({len(report.runs)} run(s), {len(report.models)} model version(s)).\n"
    )


def _ended_line(run: GraphRun) -> str:
    """One line for an ended run: state, duration, the branch the gate chose and the first error."""
    took = (
        f" in {(run.completed_time - run.query_start_time).total_seconds():.1f} s"
        if run.completed_time and run.query_start_time
        else ""
    )
    gate = next((t for t in run.tasks if t.short_name.lower() == p.CHECK_MODEL_QUALITY), None)
    branch = f"; branch {gate.return_value}" if gate is not None and gate.return_value else ""
    error = (
        f"; first error in {run.first_error_task_name}: {run.first_error_message}"
        if run.first_error_task_name
        else ""
    )
    return f"Run {run.run_id} of {run.graph_name} {run.state}{took}{branch}{error}."


def cmd_plan(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    graph = _graph(settings, args.schedule)
    plan = c.deploy_plan()
    spec = plan.describe(graph)
    out.write(
        f"Task graph {plan.names.schema_fqn}.{spec.name}: warehouse {spec.warehouse}, "
        f"schedule {graph.schedule.text() if graph.schedule else 'none (runs only when executed)'}\n"
    )
    out.write(f"  config {json.dumps(spec.config, sort_keys=True)}\n")
    order = sorted(graph.topological_order(), key=lambda t: graph.task(t).is_finalizer)
    for name in [spec.name] + [f"{spec.name}${t}".upper() for t in order]:
        if name == spec.name:
            out.write(f"  {name:<40} root\n")
            continue
        t = spec.tasks[name]
        where = (
            "finalizer (runs last, always)"
            if t.finalizer
            else "after " + ", ".join(t.predecessors or (spec.name,))
        )
        out.write(f"  {name:<40} {where}\n")
        if t.condition:
            out.write(f"  {'':<40} WHEN {t.condition}\n")
    if not plan.can_compare:
        out.write("Offline plan (use --backend snowflake -c NAME to compare with what is deployed).\n")
        return EXIT_OK
    try:
        changes = plan.changes(spec)
    except NotFound:
        out.write("Not deployed yet: a deploy creates everything above.\n")
        return EXIT_OK
    out.write("\n".join(changes) + "\n" if changes else "Deployed graph is up to date.\n")
    return EXIT_OK


def _lifecycle(action: str) -> Callable[..., int]:
    def command(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
        getattr(c.scheduler(), action)(settings.graph.name)
        out.write(f"{_PAST[action]} task graph {settings.graph.name}.\n")
        return EXIT_OK

    return command


_PAST = {"suspend": "Suspended", "resume": "Resumed", "drop": "Dropped"}


def cmd_cancel(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    name = settings.graph.name
    cancelled = c.scheduler().cancel(name)
    if cancelled:
        out.write(f"Cancelled run(s) {', '.join(cancelled)} of task graph {name}.\n")
    else:
        out.write(f"Nothing was running in task graph {name}; nothing to cancel.\n")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    checks = c.doctor().checks()
    out.write(readiness_text(checks, settings.backend) + "\n")
    return EXIT_OK if ready(checks) else EXIT_BACKEND


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings, Container, TextIO], int]] = {
    "setup": cmd_setup,
    "run": cmd_run,
    "deploy": cmd_deploy,
    "runs": cmd_runs,
    "logs": cmd_logs,
    "models": cmd_models,
    "graph": cmd_graph,
    "scheduler": cmd_scheduler,
    "plan": cmd_plan,
    "suspend": _lifecycle("suspend"),
    "resume": _lifecycle("resume"),
    "drop": _lifecycle("drop"),
    "cancel": cmd_cancel,
    "retry": cmd_retry,
    "execute": cmd_execute,
    "doctor": cmd_doctor,
    "report": cmd_report,
}
