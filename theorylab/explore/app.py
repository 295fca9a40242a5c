"""The explorer's pages: a landing page listing the studies and their claims, and one page per study.

A study page has an experiment selector and one widget per field of that
experiment's Params class (see :mod:`theorylab.explore.widgets`).  Every change is
validated at once, in the page (a bad value or combination shows the Params'
ValueError, and nothing runs); a valid state becomes a :class:`~.compute.Job` run
in a worker process, with the latest state winning over intermediate ones.  The
progress bar counts the job's tasks in the result cache, which the sweep fills
as tasks finish.  Figures are the study's own; the claim verdicts beside them
are its own claims evaluated on the same Dataset.
"""

from __future__ import annotations

import asyncio
import html
import multiprocessing
import os
import tempfile
import threading
import time
import uuid
import webbrowser
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import panel as pn

from theorylab.core import registry
from theorylab.core.sweep import Cancelled
from theorylab.explore import compute
from theorylab.explore.widgets import control, shown, to_text

BUDGET = 2.0          # seconds a change may take before the page switches to one grid point
DEBOUNCE = 0.1        # seconds of quiet before a change runs (a dragged slider sends many)
POLL = 0.1            # seconds between progress updates
WHOLE, ONE = "whole sweep", "one grid point"

_pool: ProcessPoolExecutor | None = None


def worker_pool() -> ProcessPoolExecutor:
    """One shared worker process: simulation and drawing stay out of the server's process
    (Numba kernels hold the GIL), and its compiled kernels stay warm between runs."""
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_exit_with, initargs=(os.getpid(),))
    return _pool


def _exit_with(parent: int) -> None:
    """In the worker: exit when the server process is gone, however it ended (even killed)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _reset_pool() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
    _pool = None


class StudyPage(pn.viewable.Viewer):
    """The page of one study; ``refresh()`` (run on page load) starts the first computation."""

    def __init__(self, study: str, *, scale: str = "quick", cache: str | None = None,
                 experiment: str | None = None, executor: Executor | None = None):
        super().__init__()
        self.study, self.scale, self.cache = study, scale, cache
        self._executor = executor
        self.experiments = {e.name: e for e in registry.experiments(study)}
        if not self.experiments:
            raise ValueError(f"study {study!r} has no experiments under experiments/{study}/")
        self.notice = pn.pane.HTML("", visible=False, css_classes=["explore-notice"],
                                   sizing_mode="stretch_width")
        if experiment is not None and experiment not in self.experiments:
            self.notice.object = _alert(f"No experiment {experiment!r} in {study}", (
                f"showing {next(iter(self.experiments))!r}; the experiments are "
                f"{', '.join(self.experiments)}"), "warning")
            self.notice.visible = True
            experiment = None
        self.experiment = pn.widgets.Select(label="experiment", options=list(self.experiments),
                                            value=experiment or next(iter(self.experiments)),
                                            css_classes=["explore-experiment"])
        self.mode = pn.widgets.RadioButtonGroup(options=[WHOLE, ONE], value=WHOLE,
                                                css_classes=["explore-mode"])
        self.mode_note = pn.pane.Markdown("", styles={"font-size": "12px"}, width=300, margin=(0, 10))
        self.description = pn.pane.Markdown("", width=300, styles={"font-size": "12px"})
        self.swept = pn.Column(margin=0)
        self.fields = pn.Column(margin=0)
        self.error = pn.pane.HTML("", visible=False, css_classes=["explore-error"],
                                  sizing_mode="stretch_width")
        self.progress = pn.indicators.Progress(value=-1, active=False, visible=False, width=240,
                                               css_classes=["explore-progress"])
        self.status = pn.pane.Markdown("Starting (the first run compiles the study's kernels) ...",
                                       css_classes=["explore-status"], margin=(0, 10))
        self.cancel = pn.widgets.Button(label="Cancel", button_type="warning", visible=False, width=80,
                                        css_classes=["explore-cancel"])
        self.cancel.on_click(self._on_cancel)
        self._token: Path | None = None            # touching this file stops the running job between tasks
        self.command = pn.pane.Markdown("", styles={"font-size": "12px"}, margin=(0, 10))
        self.figures = pn.Column(margin=0)
        self._figure_names: list[str] = []
        self.claims = pn.pane.HTML("", width=420, css_classes=["explore-claims"])
        self.widgets: dict[str, pn.widgets.Widget] = {}
        self._wanted: compute.Job | None = None   # the state to show
        self._files: list[Path] = []              # cache files of the wanted state's tasks
        self._shown: compute.Job | None = None    # the state on screen
        self._running = False
        self._quiet = False                       # mutes change events while the page sets widgets itself
        self.experiment.param.watch(self._on_experiment, "value")
        self.mode.param.watch(self._on_mode, "value")
        self._build()

    # --- controls --------------------------------------------------------------------------------

    @property
    def exp(self) -> registry.Experiment:
        return self.experiments[self.experiment.value]

    def _build(self) -> None:
        """Widgets for the selected experiment, at its resolved values for this scale."""
        exp = self.exp
        resolved = exp.resolve(self.scale)
        cls, base = exp.params_class(), resolved.base
        self._grid, self._seeds, self._base, self._cls = resolved.grid, resolved.seeds, base, cls
        self.description.object = exp.description
        self.widgets, swept, fields = {}, [], []
        for name in cls.fields():
            value = getattr(base, name)
            if name in self._grid:  # one-point mode starts in the middle of the sweep
                value = self._grid[name][len(self._grid[name]) // 2]
            widget, block = control(cls, name, value)
            widget.param.watch(self._on_change, "value")
            self.widgets[name] = widget
            (swept if name in self._grid else fields).append(block)
        seed = pn.widgets.Select(label="seed", options=self._seeds, value=self._seeds[0],
                                 css_classes=["param-seed"])
        seed.param.watch(self._on_change, "value")
        self.widgets["seed"] = seed
        self.swept.objects = [*swept, seed]
        self.fields.objects = fields
        sweep = "; ".join(f"{k} = {', '.join(map(str, v))}" for k, v in self._grid.items())
        self._sweep_text = (f"{self.scale} scale sweeps {sweep or 'no parameter'} over seed(s) "
                            f"{', '.join(map(str, self._seeds))}.")
        self._set_mode(WHOLE)

    def _set_mode(self, mode: str) -> None:
        """Set the sweep mode without starting a run."""
        self._quiet = True
        try:
            self.mode.value = mode
        finally:
            self._quiet = False
        one = mode == ONE
        for name in [*self._grid, "seed"]:
            self.widgets[name].disabled = not one
        self.mode_note.object = self._sweep_text + (" Runs the one point set below." if one else "")

    def _on_experiment(self, *_: Any) -> None:
        self._build()
        self._on_change()

    def _on_mode(self, *_: Any) -> None:
        if not self._quiet:
            self._set_mode(self.mode.value)
            self._on_change()

    def job(self) -> compute.Job:
        """The page state as a Job: the values that differ from the experiment's, and in one-point
        mode the swept values and the seed (not validated yet)."""
        one = self.mode.value == ONE
        overrides = {}
        for name, widget in self.widgets.items():
            if name == "seed" or (name in self._grid and not one):
                continue
            value = widget.value
            if name in self._grid or value != shown(self._cls, name, getattr(self._base, name)):
                overrides[name] = tuple(value) if isinstance(value, list) else value
        return compute.Job(self.exp.full_name, self.scale, tuple(overrides.items()),
                           self.widgets["seed"].value if one else None, self.cache)

    def _on_change(self, *_: Any) -> None:
        if self._quiet:
            return
        try:
            job = self.job()
            files = job.cache_files()  # validates every task before anything runs
        except Exception as err:
            title = "Invalid parameters" if isinstance(err, ValueError) else "Cannot run"
            self.error.object = _alert(title, compute.message(err), "danger")
            self.error.visible = True
            return
        self.error.visible = False
        self._wanted, self._files = job, files
        if self._running:
            self._stop_running()  # the new state replaces the one being computed
        else:
            pn.state.execute(self._drain)

    def _stop_running(self) -> None:
        """Ask the job in the worker to stop before its next task (it frees the shared worker)."""
        if self._token is not None:
            self._token.touch()

    def _on_cancel(self, *_: Any) -> None:
        self._wanted = self._shown  # nothing more to run until the next change
        self._stop_running()

    def refresh(self) -> None:
        """Compute and show the current state."""
        self._shown = None
        self._on_change()

    # --- compute -------------------------------------------------------------------------------

    async def _drain(self) -> None:
        """Run the wanted state until it is the one shown; newer changes replace older ones."""
        if self._running:
            return
        self._running = True
        try:
            while self._wanted is not None and self._wanted != self._shown:
                job, files = self._wanted, self._files
                await asyncio.sleep(DEBOUNCE)
                if job != self._wanted:
                    continue
                await self._run(job, files)
        finally:
            self._running = False
            self.progress.visible = False

    async def _run(self, job: compute.Job, files: list[Path]) -> None:
        cached = sum(f.exists() for f in files)
        self.progress.param.update(max=max(len(files), 1), value=cached, active=True, visible=True)
        self.status.object = f"Computing {len(files)} task(s), {cached} cached ..."
        start = time.perf_counter()
        self._token = Path(tempfile.gettempdir()) / f"theorylab-explore-{uuid.uuid4().hex}.cancel"
        self.cancel.visible = True
        future = asyncio.wrap_future((self._executor or worker_pool()).submit(compute.run, job, str(self._token)))
        try:
            while not future.done():
                await asyncio.wait({future}, timeout=POLL)
                done = sum(f.exists() for f in files)
                if done != self.progress.value:
                    self.progress.value = done
                    self.status.object = f"Computing: {done} of {len(files)} task(s) done ..."
        finally:
            self.cancel.visible = False
            self._token.unlink(missing_ok=True)
            self._token = None
        try:
            outcome = future.result()
        except Cancelled:
            self.status.object = (f"Stopped after {self.progress.value} of {len(files)} task(s) "
                                  f"(finished tasks are cached).")
            return
        except Exception as err:
            if isinstance(err, BrokenProcessPool):
                _reset_pool()
            self._shown = job  # do not retry the same state in a loop
            self.error.object = _alert("The run failed", compute.message(err), "danger")
            self.error.visible = True
            self.status.object = ""
            return
        self._show(outcome, cached, time.perf_counter() - start)

    def _show(self, outcome: compute.Outcome, cached: int, seconds: float) -> None:
        job = outcome.job
        self._shown = job
        self._show_figures(outcome.figures)
        self.claims.object = _claims_html(outcome.verdicts)
        changed = ", ".join(f"{k} = {to_text(v) if isinstance(v, tuple) else v}" for k, v in job.overrides)
        point = f"seed {job.seed}" if job.seed is not None else "all seeds"
        self.status.object = (f"**{job.experiment}** ({job.scale} scale, {point}): {outcome.tasks} task(s), "
                              f"{cached} cached, shown in {seconds:.2f} s. "
                              f"Changed: {changed or 'nothing (experiment defaults)'}.")
        self.command.object = f"Same run from the command line: `{job.command()}`"
        slow = outcome.warm and seconds > BUDGET  # a run that compiled kernels says nothing
        if job.seed is None and slow and outcome.tasks > 1 and job == self._wanted:
            # Too slow for a slider: later changes run one grid point and one seed.  The whole
            # sweep stays on screen until the next change.
            self._set_mode(ONE)
            self._wanted = self._shown = self.job()
            self.mode_note.object += (f" The whole sweep took {seconds:.1f} s, more than the {BUDGET:g} s "
                                      f"a change should take, so changes now run one grid point and one "
                                      f"seed (through the same run_experiment overrides); choose "
                                      f"'{WHOLE}' to run it all.")

    def _show_figures(self, figures: list[compute.FigureResult]) -> None:
        """Swap the images in place when the same figures come back (no re-layout, no flicker)."""
        panes = [o.objects[0] for o in self.figures.objects]
        same = len(panes) == len(figures) and all(
            isinstance(p, pn.pane.PNG) and f.png is not None for p, f in zip(panes, figures))
        if not same or [f.name for f in figures] != self._figure_names:
            self.figures.objects = [_figure_pane(f) for f in figures]
            self._figure_names = [f.name for f in figures]
            return
        for pane, fig in zip(panes, figures):
            pane.param.update(object=fig.png, width=fig.width)

    # --- layout --------------------------------------------------------------------------------

    def __panel__(self) -> pn.viewable.Viewable:
        sidebar = pn.Column(
            self.experiment, self.description,
            pn.pane.Markdown("#### Sweep", margin=(0, 10)), self.mode, self.mode_note, self.swept,
            pn.pane.Markdown("#### Parameters", margin=(0, 10)), self.fields,
            width=330, styles={"background": "#f7f7f7"}, scroll=False,
        )
        main = pn.Column(
            self.notice, pn.Row(self.progress, self.cancel, self.status), self.error, self.command,
            # claims beside the figures, or under them when the window is too narrow
            pn.FlexBox(self.figures, pn.Column(pn.pane.Markdown("#### Claims", margin=(0, 10)), self.claims),
                       flex_wrap="wrap", sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        return pn.Column(_header(self.study), pn.Row(sidebar, main, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")


def _figure_pane(fig: compute.FigureResult) -> pn.viewable.Viewable:
    width = max(fig.width, 480)
    caption = pn.pane.Markdown(f"**{fig.name}.** {fig.caption}", width=width, styles={"font-size": "12px"})
    if fig.png is None:
        body = pn.pane.HTML(_alert("This figure cannot be drawn for this state", fig.error, "warning"),
                            width=width)
    else:
        body = pn.pane.PNG(fig.png, width=fig.width, css_classes=["explore-figure"])
    return pn.Column(body, caption, margin=(0, 10, 20, 10))


ALERT = {"danger": ("#f8d7da", "#842029"), "warning": ("#fff3cd", "#664d03")}


def _alert(title: str, text: str, kind: str) -> str:
    """A message box; the text is escaped, so a message shows verbatim."""
    background, color = ALERT[kind]
    return (f'<div style="background:{background};color:{color};padding:10px 14px;border-radius:4px">'
            f'<b>{html.escape(title)}:</b> {html.escape(text)}</div>')


BADGE = {True: ("PASS", "#1a7f37"), False: ("FAIL", "#cf222e"), None: ("n/a", "#6e7781")}


def _claims_html(verdicts: list[compute.VerdictResult]) -> str:
    rows = []
    for v in verdicts:
        text, color = BADGE[v.passed]
        e = html.escape
        if v.passed is None:
            body = f"not evaluable on this state: {e(v.detail)}"
        else:
            body = (f"measured {e(v.measured)}; expected {e(v.expected)} ({e(v.tolerance)})"
                    + (f"<br>{e(v.detail)}" if v.detail else ""))
        rows.append(
            f'<tr class="claim"><td style="vertical-align:top;padding:4px 8px 8px 0">'
            f'<span class="verdict" style="background:{color};color:white;border-radius:3px;'
            f'padding:1px 6px;font-weight:600">{text}</span></td>'
            f'<td style="padding-bottom:8px"><code>{e(v.claim_id)}</code> <i>({e(v.source)})</i><br>'
            f'{e(v.statement)}<br><span style="color:#555">{body}</span></td></tr>')
    return f'<table style="font-size:12px;border-collapse:collapse">{"".join(rows)}</table>'


def _header(current: str | None) -> pn.viewable.Viewable:
    links = " · ".join(f"**{s}**" if s == current else f"[{s}](/{s})" for s in _studies_with_pages())
    return pn.pane.Markdown(f"### [theorylab explore](/) &nbsp; {links}", margin=(5, 10),
                            sizing_mode="stretch_width")


def _studies_with_pages() -> list[str]:
    return [s for s in registry.studies() if _safe_experiments(s)[0]]


def _safe_experiments(study: str) -> tuple[list[registry.Experiment], str]:
    """A study's experiments, or the reason it has no page yet (a study still being written)."""
    try:
        exps = registry.experiments(study)
        for exp in exps:
            exp.params_class()
        return exps, "" if exps else f"no experiments under experiments/{study}/ yet"
    except Exception as err:
        return [], compute.message(err)


def landing_page() -> pn.viewable.Viewable:
    """Every study, its experiments and its claims, with a link to its page."""
    parts = [_header(None), pn.pane.Markdown(
        "Each study page runs the study's experiments at the explorer's scale through the same "
        "pipeline as `theorylab run`, draws the study's figures and evaluates its claims live.",
        margin=(0, 10))]
    for study in registry.studies():
        exps, problem = _safe_experiments(study)
        if problem:
            parts.append(pn.pane.Markdown(f"## {study}\n\nNo page: {problem}", margin=(0, 10)))
            continue
        lines = [f"## [{study}](/{study})", "", "| experiment | description |", "|---|---|"]
        lines += [f"| [`{e.name}`](/{study}?experiment={e.name}) | {e.description.replace('|', '/')} |"
                  for e in exps]
        try:
            claims = registry.study_module(study, "claims").CLAIMS
        except Exception as err:
            claims, lines = [], lines + ["", f"Claims unavailable: {compute.message(err)}"]
        if claims:
            lines += ["", "| claim | source | statement |", "|---|---|---|"]
            lines += [f"| `{c.id}` | {c.source} | {c.statement.replace('|', '/')} |" for c in claims]
        parts.append(pn.pane.Markdown("\n".join(lines), margin=(0, 10), css_classes=[f"study-{study}"]))
    return pn.Column(*parts, sizing_mode="stretch_width", max_width=1400)


def study_page(study: str, *, scale: str = "quick", cache: str | None = None,
               experiment: str | None = None) -> StudyPage:
    """A study's page; it starts computing once shown (in a server session or a notebook).
    In a server session ``?experiment=NAME`` in the URL selects the experiment."""
    asked = [a.decode() for a in pn.state.session_args.get("experiment", [])] if pn.state.curdoc else []
    if experiment is None and asked:
        experiment = asked[0]  # an unknown name is reported on the page
    page = StudyPage(study, scale=scale, cache=cache, experiment=experiment)
    pn.state.onload(page.refresh)
    return page


def routes(*, scale: str = "quick", cache: str | None = None) -> dict[str, Any]:
    """URL -> page factory: ``/`` is the landing page, ``/<study>`` a study's page."""
    def page(study: str):
        return lambda: study_page(study, scale=scale, cache=cache)  # Panel serves plain functions

    return {"/": landing_page, **{f"/{study}": page(study) for study in _studies_with_pages()}}


def serve(study: str | None = None, *, address: str = "127.0.0.1", port: int = 5006, scale: str = "quick",
          cache: str | None = None, show: bool = True) -> None:
    """Serve the explorer until interrupted; open ``study``'s page (else the landing page)."""
    pn.extension()
    server = pn.serve(routes(scale=scale, cache=cache), address=address, port=port, show=False,
                      start=False, verbose=False, title="theorylab explore",
                      websocket_origin=[f"{address}:{port}", f"localhost:{port}"])
    url = f"http://{address}:{port}/{study or ''}"
    print(f"theorylab explore: {url} (Ctrl+C to stop)", flush=True)
    if show:
        server.io_loop.add_callback(webbrowser.open, url)
    server.start()
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        pass
    finally:
        _reset_pool()
