"""Study pages without a browser: validation messages in the page, runs through the pipeline, landing page."""

import html
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

pn = pytest.importorskip("panel")

from theorylab.cli import main  # noqa: E402
from theorylab.explore import app, compute  # noqa: E402
from theorylab.explore.app import ONE, StudyPage  # noqa: E402


class NoRuns:
    """An executor that must not be used: invalid states never reach compute."""

    def submit(self, *args, **kwargs) -> Future:
        raise AssertionError("a run was started for an invalid state")


@pytest.fixture
def page(tmp_path):
    """The deeplinear page on depth_split; runs happen in this process (no server, no event loop:
    Panel then runs the page's coroutine to completion before the change returns)."""
    with ThreadPoolExecutor(1) as pool:
        p = StudyPage("deeplinear", experiment="depth_split", cache=str(tmp_path), executor=pool)
        yield p


@pytest.mark.parametrize("study", app._studies_with_pages())
def test_every_study_gets_a_page_with_a_widget_per_field(study):
    for name in StudyPage(study, executor=NoRuns()).experiments:
        page = StudyPage(study, experiment=name, executor=NoRuns())
        assert set(page.widgets) == {*page.exp.params_class().fields(), "seed"}
        pn.panel(page).get_root()  # lays out


def test_a_bad_combination_shows_the_message_and_runs_nothing(tmp_path):
    page = StudyPage("deeplinear", experiment="depth_split", cache=str(tmp_path), executor=NoRuns())
    page.widgets["k0"].value = 0.99  # in its own range, but check() wants k0 < target / 4
    message = html.unescape(page.error.object)
    assert page.error.visible and "k0 must be < target / 4 (got 0.99 for target 3.87298)" in message
    assert "Traceback" not in message


def test_a_malformed_tuple_shows_the_message(tmp_path):
    page = StudyPage("matcomp", experiment="depth", cache=str(tmp_path), executor=NoRuns())
    page.widgets["t_switch"].value = "0, 250, soon"
    message = html.unescape(page.error.object)
    assert page.error.visible and "t_switch must be of type int (got ' soon')" in message


def test_a_valid_change_clears_the_error_and_shows_figures_and_verdicts(page):
    page.widgets["k0"].value = 0.99
    assert page.error.visible
    page.widgets["k0"].value = 0.01
    page.widgets["deficit_length"].value = 0.5
    assert not page.error.visible
    [figure] = page.figures.objects
    assert isinstance(figure.objects[0], pn.pane.PNG) and figure.objects[0].object.startswith(b"\x89PNG")
    assert "deeplinear.depth-amplifies-early-deficit" in page.claims.object
    assert "PASS" in page.claims.object
    assert "deficit_length = 0.5" in page.status.object
    assert "--set deficit_length=0.5" in page.command.object


def test_one_point_mode_pins_the_sweep_and_the_seed(page):
    page.mode.value = ONE
    job = page.job()
    assert job.seed == 0 and dict(job.overrides) == {"depth": 4}
    assert len(job.cache_files()) == 1
    [figure] = page.figures.objects  # the figure still draws: the pinned dimension is restored
    assert isinstance(figure.objects[0], pn.pane.PNG)
    assert "depth = 4" in page.status.object and "seed 0" in page.status.object
    assert "n/a" in page.claims.object  # a claim about the trend in depth cannot be judged on one depth


def test_a_slow_whole_sweep_switches_changes_to_one_point(page):
    job = page.job()
    page._wanted = job
    outcome = compute.Outcome(job, [], [], tasks=7, seconds=app.BUDGET + 1, warm=True)
    page._show(outcome, cached=0, seconds=app.BUDGET + 1)
    assert page.mode.value == ONE and "more than the 2 s" in page.mode_note.object
    assert page._wanted == page._shown  # the whole sweep stays on screen: no run started


def test_run_restores_a_pinned_swept_dimension(tmp_path):
    job = compute.Job("deeplinear/depth_split", overrides=(("depth", 3),), seed=0, cache=str(tmp_path))
    outcome = compute.run(job)
    assert outcome.tasks == 1 and outcome.figures[0].png is not None
    verdicts = {v.claim_id: v for v in outcome.verdicts}
    assert verdicts["deeplinear.invariant-final-split"].passed is True
    assert verdicts["deeplinear.depth-amplifies-early-deficit"].passed is None


def test_landing_page_lists_studies_and_claims():
    text = "\n".join(o.object for o in app.landing_page().objects if isinstance(o, pn.pane.Markdown))
    assert "[deeplinear](/deeplinear)" in text and "deeplinear.gd-equals-mode-map" in text


def test_cli_rejects_an_unknown_study(capsys):
    assert main(["explore", "nope", "--no-show"]) == 2
    assert "study must be one of" in capsys.readouterr().err


def test_an_unknown_experiment_in_the_url_says_so_on_the_page():
    page = StudyPage("deeplinear", experiment="nonexistent", executor=NoRuns())
    notice = html.unescape(page.notice.object)
    assert page.notice.visible and "No experiment 'nonexistent' in deeplinear" in notice
    assert page.experiment.value in notice and "depth_split" in notice


def test_a_cancel_file_stops_the_job_before_its_next_task(tmp_path):
    from theorylab.core.sweep import Cancelled

    token = tmp_path / "stop"
    token.touch()
    job = compute.Job("deeplinear/depth_split", cache=str(tmp_path / "cache"))
    with pytest.raises(Cancelled):
        compute.run(job, str(token))
    assert not list((tmp_path / "cache").rglob("*.nc"))  # stopped before the first task


def test_a_new_request_and_the_cancel_button_stop_the_running_job(tmp_path):
    """While a job runs, a new valid state (or Cancel) touches the job's cancel file, which the
    worker checks between tasks; the shared worker is then free for the newer request."""
    page = StudyPage("deeplinear", experiment="depth_split", cache=str(tmp_path), executor=NoRuns())
    page._running, page._token = True, tmp_path / "token"  # as during a run
    page.widgets["deficit_length"].value = 0.5
    assert page._token.exists() and page._wanted.overrides == (("deficit_length", 0.5),)
    page._token.unlink()
    page._on_cancel()
    assert page._token.exists() and page._wanted == page._shown
