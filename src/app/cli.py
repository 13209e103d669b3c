"""``python -m app``: set up, run, deploy, schedule and inspect the pipeline, on the simulator or Snowflake."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from app.container import Container, build_container
from app.local_scheduler import StopRequest
from app.monitor import follow_run
from app.render import (
    graph_dot,
    graph_mermaid,
    graph_text,
    models_dict,
    models_table,
    readiness_text,
    runs_json,
    runs_table,
)
from app.report import report_file
from app.settings import Settings, load_settings, parse_assignments, with_pipeline_overrides
from domain import pipeline as p
from domain.config import RunConfig
from domain.errors import (
    AlreadyExists,
    BackendUnavailable,
    Conflict,
    DomainError,
    InvalidConfig,
    InvalidData,
    JobTimeout,
    NotFound,
    Unsupported,
)
from domain.graph import GraphRunState, GraphSpec
from domain.readiness import ready
from domain.schedule import Schedule, parse_schedule

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_BACKEND, EXIT_TIMEOUT = 0, 1, 2, 3, 124
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


def build_parser() -> argparse.ArgumentParser:
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
        "-c", "--connection", metavar="NAME", help="connections.toml entry for the snowflake backend"
    )
    g.add_argument(
        "--home", metavar="PATH", help="simulator home folder (env APP_HOME; default a per-user data folder)"
    )
    g.add_argument("--config-file", metavar="PATH", help="TOML settings file (env APP_CONFIG)")
    g.add_argument("-v", "--verbose", action="store_true", help="log what happens underneath")

    parser = argparse.ArgumentParser(
        prog="python -m app",
        description="An ML pipeline on Snowflake Task Graphs — Feature Store → XGBoost ML Job → quality gate → "
        "promote or alert → cleanup — that runs on a local simulator or a real account.",
        parents=[common],
        epilog="Exit codes: 0 success, 1 the run did not succeed, 2 invalid input or configuration, "
        "3 backend unavailable or object not found, 124 timeout.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("setup", parents=[common], help="create the account objects and load the source data")
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

    r = sub.add_parser(
        "run", parents=[common], help="run the pipeline once in this process (the guide's pipeline_local.py)"
    )
    r.add_argument("--no-register", action="store_true", help="train and evaluate, but do not log the model")
    r.add_argument("-s", "--source-table", help="source table (default MORTGAGE_LENDING_DEMO_DATA)")
    r.add_argument("-d", "--dataset-name", help="dataset name (default mortgage_dataset)")
    r.add_argument("-m", "--model-name", help="model name (default mortgage_model)")
    r.add_argument("-f", "--force-refresh", action="store_true", help="rebuild this data version's datasets")
    r.add_argument(
        "--config", action="append", default=[], metavar="KEY=VALUE", help="pipeline setting override"
    )

    d = sub.add_parser(
        "deploy", parents=[common], help="deploy the task graph (or-replace); optionally run it"
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

    ru = sub.add_parser(
        "runs", parents=[common], help="graph runs with per-task state, duration, value, error"
    )
    ru.add_argument("--limit", type=_count, default=10)
    ru.add_argument("--format", choices=["table", "json"], default="table")

    m = sub.add_parser("models", parents=[common], help="model versions, default, aliases, metrics")
    m.add_argument("--format", choices=["table", "json"], default="table")
    m.add_argument("-m", "--model-name", help="model name (default from settings)")

    gr = sub.add_parser("graph", parents=[common], help="the task graph, with the last run's states")
    gr.add_argument("--format", choices=["text", "mermaid", "dot"], default="text")

    sc = sub.add_parser(
        "scheduler", parents=[common], help="run scheduled graphs until SIGINT/SIGTERM (simulator)"
    )
    sc.add_argument("--poll", type=_positive, default=5.0, help="seconds between checks (default 5)")
    sc.add_argument(
        "--report", type=Path, metavar="PATH", help="refresh the HTML run report here after each run"
    )

    rp = sub.add_parser(
        "report",
        parents=[common],
        help="write one self-contained HTML page: a grid of tasks x the last runs, each run's graph, task "
        "values, errors and job logs, the gate's evidence and the models (e.g. report --out run-report.html)",
    )
    rp.add_argument("--out", type=Path, default=Path("run-report.html"), metavar="PATH")
    rp.add_argument(
        "--runs",
        type=_count,
        default=REPORT_RUNS,
        help=f"how many of the last runs to show (default {REPORT_RUNS})",
    )

    pl = sub.add_parser(
        "plan",
        parents=[common],
        help="print what a deploy to Snowflake would create; with --backend snowflake -c NAME, also the "
        "difference from what is deployed",
    )
    pl.add_argument("--schedule", type=_schedule, help="as for deploy")
    pl.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="as for deploy")

    dr = sub.add_parser(
        "doctor",
        parents=[common],
        help="check that a deploy would work (objects, role, pool, packages…) and print the fix for each gap",
    )
    dr.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="as for deploy")

    for name, text in (
        ("suspend", "stop the schedule"),
        ("resume", "restart the schedule"),
        ("drop", "remove the graph and its finalizer"),
        ("cancel", "cancel the graph's running executions"),
    ):
        sub.add_parser(name, parents=[common], help=text)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = build_parser().parse_args(argv)
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
        return COMMANDS[args.command](args, settings, container, out)
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
    finally:
        container.shutdown_resources()


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
        out.write(f"{result.decision.summary()}\n")
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
    out.write(f"Graph run {run_id} started.\n")
    try:
        run = follow_run(
            scheduler, graph.name, run_id, timeout=args.timeout, out=out, live=c.live_task_states()
        )
    except JobTimeout:
        note = c.followed_run_note()
        if note:
            out.write(note + "\n")
        raise
    finally:
        if args.report is not None:
            _write_report(args.report, REPORT_RUNS, graph, settings, c, out)
    return _report_run(run, out)


def _report_run(run: Any, out: TextIO) -> int:
    by_name = {t.short_name.lower(): t for t in run.tasks}
    branch = by_name.get(p.CHECK_MODEL_QUALITY)
    promoted = by_name.get(p.PROMOTE_MODEL)
    out.write(f"Graph run {run.run_id} {run.state}.\n")
    if branch is not None and branch.return_value:
        out.write(f"Branch chosen: {branch.return_value}\n")
    if promoted is not None and promoted.return_value:
        out.write(f"Model version: {promoted.return_value}\n")
    if run.first_error_task_name:
        out.write(f"First error in {run.first_error_task_name}: {run.first_error_message}\n")
    return EXIT_OK if run.state is GraphRunState.SUCCEEDED else EXIT_RUN_FAILED


def cmd_runs(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    runs = c.scheduler().runs(settings.graph.name, limit=args.limit)
    out.write((runs_json(runs) if args.format == "json" else runs_table(runs)) + "\n")
    return EXIT_OK


def cmd_models(args: argparse.Namespace, settings: Settings, c: Container, out: TextIO) -> int:
    model = args.model_name or settings.pipeline.model_name
    versions = c.registry().list_versions(model)
    name = versions[0].model_name if versions else model
    if args.format == "json":
        out.write(json.dumps(models_dict(name, versions), indent=2) + "\n")
    else:
        out.write(models_table(name, versions, settings.pipeline.metric_name) + "\n")
    return EXIT_OK


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
    out.write(_RENDER[args.format](graph, runs[0] if runs else None, deployed) + "\n")
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
    loop.run(stop, args.poll, after_tick=None if report is None else report.refresh)
    if report is not None:
        report.refresh()  # the runs the loop waited for on its way out
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
    "models": cmd_models,
    "graph": cmd_graph,
    "scheduler": cmd_scheduler,
    "plan": cmd_plan,
    "suspend": _lifecycle("suspend"),
    "resume": _lifecycle("resume"),
    "drop": _lifecycle("drop"),
    "cancel": cmd_cancel,
    "doctor": cmd_doctor,
    "report": cmd_report,
}
