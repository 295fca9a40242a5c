"""Widgets come from Params metadata: type, range, choices, unit and description, for every landed study."""

import dataclasses

import pytest

pn = pytest.importorskip("panel")

from theorylab.core import registry  # noqa: E402
from theorylab.core.params import Params, param  # noqa: E402
from theorylab.explore.widgets import control, help_text, shown, slider_range, widget_for  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Toy(Params):
    depth: int = param(3, "layers", ge=1, le=20)
    lr: float = param(0.01, "step", gt=0, le=0.1)
    n_obs: int = param(250, "observations", ge=1)
    horizon: float = param(40.0, "run length", gt=0, le=1e4, unit="time")
    rule: str = param("sign", "update rule", choices=("sign", "prop"))
    baseline: bool = param(False, "also solve the baseline")
    t_switch: tuple[int, ...] = param((0, 250, 500), "switch times", ge=0, unit="steps")
    methods: tuple[str, ...] = param(("a", "c"), "baselines to run", choices=("a", "b", "c"))


def test_each_field_type_gets_its_widget():
    w = {name: widget_for(Toy, name, getattr(Toy(), name)) for name in Toy.fields()}
    assert isinstance(w["depth"], pn.widgets.EditableIntSlider)
    assert (w["depth"].value, w["depth"].fixed_start, w["depth"].fixed_end) == (3, 1, 20)
    assert (w["depth"].start, w["depth"].end) == (1, 20)  # the whole range fits
    assert isinstance(w["lr"], pn.widgets.EditableFloatSlider)
    # exclusive bounds stay reachable: moving onto 0 shows the validation message
    assert (w["lr"].fixed_start, w["lr"].fixed_end, w["lr"].value) == (0, 0.1, 0.01)
    assert w["n_obs"].fixed_end is None and w["n_obs"].end >= 250
    assert w["horizon"].label == "horizon [time]" and w["horizon"].end == 160  # 4 x the value, not 1e4
    assert isinstance(w["rule"], pn.widgets.Select) and w["rule"].options == ["sign", "prop"]
    assert isinstance(w["baseline"], pn.widgets.Checkbox) and w["baseline"].value is False
    assert isinstance(w["t_switch"], pn.widgets.TextInput) and w["t_switch"].value == "0, 250, 500"
    assert isinstance(w["methods"], pn.widgets.MultiChoice) and w["methods"].value == ["a", "c"]
    assert all(f"param-{name}" in widget.css_classes for name, widget in w.items())


def test_description_and_range_are_shown_under_the_widget():
    assert help_text(Toy, "lr") == "step (> 0 and <= 0.1)"
    assert help_text(Toy, "t_switch") == "switch times (>= 0); comma-separated"
    _, block = control(Toy, "rule", "prop")
    assert "update rule (one of (&#x27;sign&#x27;, &#x27;prop&#x27;))" in block.objects[1].object


@pytest.mark.parametrize("value, low, high, expected", [
    (3, 1, 20, (1, 20)),              # range within 10x the value: all of it
    (0.01, 0, 0.1, (0, 0.1)),
    (16, 15, 1000, (15, 79)),         # a wide range: four times the value from the low end
    (1e-3, 0, 10, (0, 0.004)),
    (0.0, 0, 1e6, (0, 4)),            # a zero value: unit scale
    (5000, 1, None, (1, 20001)),      # no upper bound
])
def test_slider_range(value, low, high, expected):
    assert slider_range(value, low, high) == pytest.approx(expected)


def _every_experiment():
    out = []
    for study in registry.studies():
        try:
            exps = registry.experiments(study)
            out += [(e, e.params_class()) for e in exps]
        except Exception:  # a study still being written has no page yet
            continue
    return out


@pytest.mark.parametrize("exp, cls", _every_experiment(), ids=lambda x: getattr(x, "full_name", ""))
def test_untouched_widgets_give_back_the_experiments_params(exp, cls):
    """Every field of every landed experiment gets a widget whose value reads back to the same Params."""
    base = exp.resolve("quick").base
    values = {}
    for name in cls.fields():
        widget, _ = control(cls, name, getattr(base, name))
        values[name] = widget.value
        assert widget.value == shown(cls, name, getattr(base, name))
    assert cls.from_dict(values) == base
