"""Command line: ``theorylab list | run | check | reproduce | paper | explore | new | cache``."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from theorylab.core import pipeline, registry, report
from theorylab.core.params import describe_range
from theorylab.core.store import ENGINE, CacheError, Store, atomic_path, probe_writable
from theorylab.core import interrupts
from theorylab.core.sweep import Interrupted, dask_client, quiet_dask

ENVIRONMENT = """environment variables:
  THEORYLAB_CACHE        result cache folder (default .cache/theorylab; --cache overrides it)
  THEORYLAB_EXPERIMENTS  folder of experiment TOMLs, <study>/<experiment>.toml (--experiments sets it)
  THEORYLAB_ROOT         project root: experiments/, figures/ and paper/ under it (default: the checkout)
"""


def _parse_sets(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set must look like name=value (got {item!r})")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


# --- options checked before any compute ------------------------------------------------------

SCHEDULER = re.compile(r"^((tcp|tls|ws|wss|ucx)://)?[A-Za-z0-9.\-_\[\]:]+:\d{1,5}$")


def _workers(text: str) -> int:
    """``--workers``: a positive count (0 or a negative one would start a cluster that never runs a task)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1 (got {text!r})") from None
    if not 1 <= n <= 512:
        raise argparse.ArgumentTypeError(f"must be between 1 and 512 (got {n})")
    return n


def _store(args: argparse.Namespace) -> Store | None:
    """The result cache the options ask for (None with --no-cache); a path that is a file is refused now."""
    if getattr(args, "no_cache", False):
        return None
    store = Store(args.cache)
    if store.root.exists() and not store.root.is_dir():
        raise CacheError(f"the cache path {store.root} is a file, not a folder: choose a folder with "
                         f"--cache or run with --no-cache")
    return store


def _check_options(args: argparse.Namespace) -> None:
    """Every option and environment variable a run uses, checked before the first task."""
    if args.scheduler and not SCHEDULER.match(args.scheduler):
        raise ValueError(f"--scheduler must look like tcp://HOST:PORT (got {args.scheduler!r})")
    if args.scheduler and args.workers:
        raise ValueError("--workers sizes the local cluster; an existing --scheduler has its own workers")
    if getattr(args, "out", None):
        _check_out(Path(args.out))
    _store(args)


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name, e.g. {out / 'result.nc'}")
    if not out.parent.is_dir():
        raise ValueError(f"--out {out}: the folder {out.parent} does not exist; create it first")
    probe_writable(out.parent, "the --out folder", "choose another --out")


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Any]:
    """None for serial runs, else a dask client (existing scheduler or local cluster)."""
    if args.executor == "serial" and not args.scheduler:
        yield None
        return
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(dask_client(args.scheduler, args.workers))
        except (OSError, TimeoutError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ValueError(f"cannot reach the dask scheduler at {args.scheduler} ({reason}); start it, "
                             f"fix the address, or leave out --scheduler to use a local cluster") from None
        print(f"dask scheduler {client.scheduler.address} "
              f"({len(client.scheduler_info()['workers'])} workers)", file=sys.stderr)
        yield client


def cmd_list(args: argparse.Namespace) -> int:
    for study in registry.studies():
        print(study)
        for name, problem in registry.broken_experiments(study).items():
            print(f"  {name:32s} BROKEN: {problem}")
        for exp in registry.experiments(study):
            print(f"  {exp.full_name:32s} {exp.description}")
            cls = exp.params_class()
            for name in cls.fields():
                meta = cls.metadata(name)
                print(f"      {name:20s} {meta['doc']} [{describe_range(meta)}]")
            for claim in exp.claim_objects():
                print(f"      claim {claim.id} ({claim.source}): {claim.statement}")
    return 0


def _usage_error(err: ValueError) -> int:
    print(f"theorylab: error: {err}", file=sys.stderr)
    return 2


def cmd_run(args: argparse.Namespace) -> int:
    try:  # every grid point is validated before any compute; later errors are bugs, not usage
        exp = registry.experiment(args.experiment)
        overrides = _parse_sets(args.set)
        pipeline.validate(exp, args.scale, overrides)
        _check_options(args)
    except ValueError as err:
        return _usage_error(err)
    with _client(args) as client:
        ds = pipeline.run_experiment(exp, args.scale, overrides=overrides, store=_store(args),
                                     force=args.force, client=client)
    if args.out:
        with interrupts.deferred(), atomic_path(args.out) as tmp:
            ds.to_netcdf(tmp, engine=ENGINE)
        print(f"wrote {args.out}")
    print(ds)
    return 0


def _check(args: argparse.Namespace, render: bool) -> int:
    root = Path(args.root)
    try:  # validate every experiment before computing any
        exps = registry.experiments(args.study)
        for exp in exps:
            pipeline.validate(exp, args.scale)
        _check_options(args)
        for folder in (("figures", "paper") if render else ("paper",)):
            probe_writable(root / folder, "the output folder", "choose another --root")
    except ValueError as err:
        return _usage_error(err)
    broken = registry.broken_experiments(args.study)
    for problem in broken.values():  # a broken TOML stops only its own experiment
        print(f"theorylab: error: {problem}", file=sys.stderr)
    failed = 0
    by_study: dict[str, list[pipeline.Verdict]] = {}
    start = time.perf_counter()
    with _client(args) as client:
        datasets = pipeline.run_experiments(exps, args.scale, store=_store(args), force=args.force,
                                            client=client)
    print(f"simulated {len(exps)} experiment(s) in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    for exp, ds in zip(exps, datasets):
        start = time.perf_counter()
        if render:
            pipeline.render_figures(exp, ds, root)
        verdicts = pipeline.evaluate_claims(exp, ds, args.scale)
        by_study.setdefault(exp.study, []).extend(verdicts)
        bad = [v for v in verdicts if not v.result.passed]
        failed += len(bad)
        print(f"{exp.full_name:32s} {time.perf_counter() - start:7.1f} s  "
              f"claims {len(verdicts) - len(bad)}/{len(verdicts)} pass", file=sys.stderr)
        for v in bad:
            print(f"  FAIL {v.result.claim_id}: measured {v.result.measured}, expected "
                  f"{v.result.expected} ({v.result.tolerance}) {v.result.detail}", file=sys.stderr)
    for study, verdicts in by_study.items():
        path = pipeline.write_claims_table(root, study, verdicts)
    if by_study:
        print(f"wrote {path}")
    if render:
        for path in report.build(root):
            print(f"wrote {path}")
    print(f"{failed} claim(s) failed" if failed else "all claims pass")
    if broken:
        print(f"{len(broken)} experiment(s) not run: their TOML is broken (see above)")
    return 1 if failed or broken else 0


def cmd_check(args: argparse.Namespace) -> int:
    return _check(args, render=False)


def cmd_reproduce(args: argparse.Namespace) -> int:
    return _check(args, render=True)


def cmd_paper(args: argparse.Namespace) -> int:
    for path in report.build(Path(args.root)):
        print(f"wrote {path}")
    return 0


def cmd_explore(args: argparse.Namespace) -> int:
    try:
        from theorylab.explore import serve
    except ImportError as err:
        print(f"theorylab: error: the explorer needs the [explore] extra (pip install -e \".[explore]\"): "
              f"{err}", file=sys.stderr)
        return 2
    if args.study is not None and args.study not in registry.studies():
        return _usage_error(ValueError(f"study must be one of {registry.studies()} (got {args.study!r})"))
    serve(args.study, address=args.address, port=args.port, scale=args.scale, cache=args.cache,
          show=not args.no_show)
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from theorylab.core import scaffold

    try:
        project = scaffold.new_study(args.name, Path(args.path))
    except ValueError as err:
        return _usage_error(err)
    print(f"wrote {project}")
    print(f"next: cd {project} && python -m pytest        # the new study's tests\n"
          f"      pip install -e {project}               # register it: theorylab list / reproduce --study {args.name}")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    store = Store(args.cache)
    if args.study is not None and args.study not in registry.studies():
        return _usage_error(ValueError(f"study must be one of {registry.studies()} (got {args.study!r})"))
    if not store.root.is_dir():
        print(f"no cache at {store.root}")
        return 0
    if args.action == "verify":
        checked, bad, stale = store.verify(args.study)
        print(f"{checked} entries checked in {store.root}: {checked - len(bad)} sound, {len(bad)} damaged "
              f"(moved to {store.root / '.quarantine'}; they are recomputed when next needed), {stale} stale "
              f"(made by other code or library versions; `theorylab cache clean` removes them)")
        return 1 if bad else 0
    removed = store.clean(args.study, everything=args.all)
    print(f"removed from {store.root}: " + ", ".join(f"{n} {what}" for what, n in removed.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="theorylab", description=__doc__, epilog=ENVIRONMENT,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", metavar="DIR", default=None,
                        help="read experiment TOMLs from DIR/<study>/<experiment>.toml instead of the "
                             "project's experiments/ (sets THEORYLAB_EXPERIMENTS)")
    sub = parser.add_subparsers(dest="command", required=True)

    def compute_options(p: argparse.ArgumentParser, default_scale: str) -> None:
        p.add_argument("--scale", choices=registry.SCALES, default=default_scale,
                       help=f"problem size (default {default_scale})")
        p.add_argument("--executor", choices=("dask", "serial"), default="dask",
                       help="dask: a local dask.distributed cluster (default); serial: this process")
        p.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on an existing dask cluster, e.g. tcp://10.0.0.5:8786")
        p.add_argument("--workers", type=_workers, default=None,
                       help="local cluster size (default: one per core)")
        cache = p.add_mutually_exclusive_group()
        cache.add_argument("--cache", default=None,
                           help="result cache folder (default $THEORYLAB_CACHE, else .cache/theorylab)")
        cache.add_argument("--no-cache", action="store_true",
                           help="neither read nor write the result cache (e.g. on a read-only disk)")
        p.add_argument("--force", action="store_true", help="recompute even if cached")

    p = sub.add_parser("list", help="studies, experiments, parameters and claims")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="run one experiment and print its Dataset")
    p.add_argument("experiment", help="study/experiment, see `theorylab list`")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter (pins it if it is swept)")
    p.add_argument("--out", help="also write the Dataset to this NetCDF file")
    compute_options(p, "quick")
    p.set_defaults(func=cmd_run)

    for name, func, help_ in (
            ("check", cmd_check, "evaluate claims and write paper/claims.md"),
            ("reproduce", cmd_reproduce, "results, figures, claims table and paper/ for every study")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--study", default=None, help="only this study")
        p.add_argument("--root", default=".", help="where figures/ and paper/ go, created if missing "
                       "(default: the current directory)")
        compute_options(p, "paper")
        p.set_defaults(func=func)

    p = sub.add_parser("paper", help="rebuild paper/paper.md and paper.html from sections, figures and claims")
    p.add_argument("--root", default=".", help="where figures/ and paper/ are (default: the current directory)")
    p.set_defaults(func=cmd_paper)

    p = sub.add_parser("explore", help="interactive parameter explorer in the browser (needs [explore])")
    p.add_argument("study", nargs="?", default=None,
                   help="open this study's page (default: the list of studies)")
    p.add_argument("--scale", choices=registry.SCALES, default="quick", help="problem size (default quick)")
    p.add_argument("--address", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5006, help="port to serve on (default 5006)")
    p.add_argument("--cache", default=None, help="result cache folder (default .cache/theorylab)")
    p.add_argument("--no-show", action="store_true", help="do not open a browser")
    p.set_defaults(func=cmd_explore)

    p = sub.add_parser("new", help="write a new, working study package to start from (a plugin project)")
    p.add_argument("name", help="the study's name, a Python identifier (also its package name)")
    p.add_argument("--path", default=".", help="folder to create the project in (default: the current directory)")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("cache", help="verify the result cache, or clean out what can never be served")
    p.add_argument("action", choices=("verify", "clean"),
                   help="verify: check every entry's checksum and key, moving damaged ones aside; "
                        "clean: delete set-aside, stale (other code or library versions) and temporary files")
    p.add_argument("--study", default=None, help="only this study's entries")
    p.add_argument("--cache", default=None,
                   help="result cache folder (default $THEORYLAB_CACHE, else .cache/theorylab)")
    p.add_argument("--all", action="store_true", help="clean: delete every entry, not only stale ones")
    p.set_defaults(func=cmd_cache)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.experiments is not None:
        os.environ[registry.EXPERIMENTS_ENV] = args.experiments  # also seen by the explorer's workers
    with interrupts.handled() as signals:
        try:
            try:
                registry.experiments_dir()
                code = args.func(args)
            except KeyboardInterrupt:
                quiet_dask()
                raise
        except Interrupted as err:
            print(f"theorylab: {err.line()}", file=sys.stderr)
        except KeyboardInterrupt:
            print("theorylab: interrupted; finished tasks are cached, rerun to resume", file=sys.stderr)
        except ValueError as err:  # CacheError and bad options found late (an unreachable scheduler)
            return _usage_error(err)
        except BrokenPipeError:  # `theorylab list | head`: the reader left; nothing to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        else:
            if not signals:
                return code
            # the signal's exception was lost after the last task: the outputs are complete
            print("theorylab: interrupted after the command had finished; its outputs are complete",
                  file=sys.stderr)
        return 128 + int(signals[0] if signals else signal.SIGINT)

if __name__ == "__main__":
    sys.exit(main())
