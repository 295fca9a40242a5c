"""Command line: ``theorylab list | run | check | reproduce | paper | explore | new``."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from theorylab.core import pipeline, registry, report
from theorylab.core.params import describe_range
from theorylab.core.store import ENGINE, Store
from theorylab.core.sweep import dask_client


def _parse_sets(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set must look like name=value (got {item!r})")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Any]:
    """None for serial runs, else a dask client (existing scheduler or local cluster)."""
    if args.executor == "serial" and not args.scheduler:
        yield None
        return
    with dask_client(args.scheduler, args.workers) as client:
        print(f"dask scheduler {client.scheduler.address} "
              f"({len(client.scheduler_info()['workers'])} workers)", file=sys.stderr)
        yield client


def cmd_list(args: argparse.Namespace) -> int:
    for study in registry.studies():
        print(study)
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
    except ValueError as err:
        return _usage_error(err)
    with _client(args) as client:
        ds = pipeline.run_experiment(exp, args.scale, overrides=overrides, store=Store(args.cache),
                                     force=args.force, client=client)
    if args.out:
        ds.to_netcdf(args.out, engine=ENGINE)
        print(f"wrote {args.out}")
    print(ds)
    return 0


def _check(args: argparse.Namespace, render: bool) -> int:
    root = Path(args.root)
    try:  # validate every experiment before computing any
        exps = registry.experiments(args.study)
        for exp in exps:
            pipeline.validate(exp, args.scale)
    except ValueError as err:
        return _usage_error(err)
    failed = 0
    by_study: dict[str, list[pipeline.Verdict]] = {}
    start = time.perf_counter()
    with _client(args) as client:
        datasets = pipeline.run_experiments(exps, args.scale, store=Store(args.cache), force=args.force,
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
    return 1 if failed else 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="theorylab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def compute_options(p: argparse.ArgumentParser, default_scale: str) -> None:
        p.add_argument("--scale", choices=registry.SCALES, default=default_scale,
                       help=f"problem size (default {default_scale})")
        p.add_argument("--executor", choices=("dask", "serial"), default="dask",
                       help="dask: a local dask.distributed cluster (default); serial: this process")
        p.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on an existing dask cluster, e.g. tcp://10.0.0.5:8786")
        p.add_argument("--workers", type=int, default=None,
                       help="local cluster size (default: one per core)")
        p.add_argument("--cache", default=None, help="result cache folder (default .cache/theorylab)")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
