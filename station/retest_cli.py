"""The plan's retest limit on the command line: ``--override-retest SN --override-reason TEXT``, the policy a
run checks its units with, and ``--sn`` serials over the limit refused before anything opens."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from linegate.fixtures.config import FixtureConfig
from linegate.plans import Plan
from linegate.station.rebuild_cli import history_lost
from linegate.station.results.attempts import RetestPolicy, StoreAttempts, reason_problem
from linegate.station.results.store import ResultsStore, local_results_path
from linegate.station.run import LineError


def add_args(run: argparse.ArgumentParser) -> None:
    run.add_argument("--override-retest", nargs="+", metavar="SN", default=[],
                     help="test these serials once past the plan's retest limit (needs --override-reason)")
    run.add_argument("--override-reason", metavar="TEXT",
                     help="why the --override-retest serials are tested anyway (goes into their records)")


def central_results(args: argparse.Namespace, config: FixtureConfig) -> str | None:
    """The central results store the stations share (``--results URL`` or the fixture's ``results:``)."""
    central = getattr(args, "results", None) or getattr(config, "results", None)
    return str(central) if central else None


def _override_by(config: FixtureConfig) -> str:
    """Who overrides the retest limit on the command line: the fixture's operator, else the login."""
    if config.operator:
        return config.operator
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "command line"


_said: set[str] = set()


def _once(say: Callable[[str], None] | None) -> Callable[[str], None]:
    """The central store's absence is told once a command, though the --sn check and the run each count."""
    def told(text: str) -> None:
        if text not in _said:
            _said.add(text)
            (say or (lambda line: print(line, flush=True)))(text)
    return told


def policy(args: argparse.Namespace, config: FixtureConfig, plan: Plan,
           *stores: ResultsStore, say: Callable[[str], None] | None = None) -> RetestPolicy | None:
    if plan.retest is None:
        return None
    policy = RetestPolicy(plan.retest, StoreAttempts(*stores, central=central_results(args, config),
                                                     say=_once(say)))
    for serial in getattr(args, "override_retest", None) or ():
        policy.override(serial, _override_by(config), args.override_reason)
    return policy


def check(args: argparse.Namespace, config: FixtureConfig, plan: Plan, say: Callable[[str], None]) -> None:
    """Before anything opens: the override arguments, and no --sn serial over the retest limit."""
    if args.override_retest and not (args.override_reason or "").strip():
        raise LineError("--override-retest needs --override-reason TEXT: the unit's record says why")
    if args.override_retest and (problem := reason_problem(args.override_reason)) is not None:
        raise LineError(f"--override-reason: {problem}")
    if args.override_reason is not None and not args.override_retest:
        raise LineError("--override-reason is the reason of --override-retest SN: give the serials")
    if args.override_retest and plan.retest is None:
        raise LineError(f"--override-retest: {args.plan} has no retest limit (retest: {{max_attempts: N}})")
    if plan.retest is None or not args.sn:
        return
    path = local_results_path(config.station, args.state_dir)
    if not path.exists() and any(True for _ in Path(args.out).glob("run-*/run.json")):
        with ResultsStore(path) as made:  # the store was removed: its history comes back before it is counted
            if (lost := history_lost(made, config.station, None, args.out)) is not None:
                say(lost)
    with ExitStack() as stack:
        stores = [stack.enter_context(ResultsStore(path, create=False))] if path.exists() else []
        found = policy(args, config, plan, *stores, say=say)
        assert found is not None and isinstance(found.attempts, StoreAttempts)
        stack.callback(found.attempts.close)
        for serial in args.sn:
            if (rework := found.check(serial)) is not None:
                raise LineError(f"--sn {serial}: {rework.message()}; --override-retest {serial} "
                                "--override-reason TEXT tests it anyway")
