"""Parameter validation: every bad value is rejected with a message naming the parameter."""

import dataclasses

import pytest

from theorylab.core.params import Params, coerce, describe_range, param


@dataclasses.dataclass(frozen=True)
class Toy(Params):
    n: int = param(3, "a count", ge=1, le=10)
    rate: float = param(0.5, "a rate", gt=0, lt=1)
    mode: str = param("a", "a choice", choices=("a", "b"))
    window: tuple[float, ...] = param((0.0, 1.0), "a window", ge=0)
    flag: bool = param(False, "a flag")

    def check(self):
        if self.n == 7 and self.mode == "b":
            raise ValueError("n must not be 7 when mode is 'b' (got 7)")


def test_defaults_valid_and_metadata_readable():
    toy = Toy()
    assert toy.n == 3 and Toy.metadata("rate")["doc"] == "a rate"
    assert describe_range(Toy.metadata("rate")) == "> 0 and < 1"
    assert describe_range(Toy.metadata("mode")) == "one of ('a', 'b')"


@pytest.mark.parametrize("changes, name", [
    ({"n": 0}, "n"), ({"n": 11}, "n"), ({"n": 2.5}, "n"), ({"n": True}, "n"),
    ({"rate": 0.0}, "rate"), ({"rate": 1.0}, "rate"), ({"rate": float("nan")}, "rate"),
    ({"rate": float("inf")}, "rate"), ({"mode": "c"}, "mode"), ({"window": (-1.0, 1.0)}, "window"),
    ({"window": ()}, "window"), ({"n": 7, "mode": "b"}, "n"),
])
def test_bad_values_raise_value_error_naming_parameter(changes, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        Toy(**changes)


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Toy().n = 4


def test_replace_and_from_dict_coerce_cli_strings():
    toy = Toy().replace(n="4", rate="0.25", window="0.5,2", flag="true")
    assert (toy.n, toy.rate, toy.window, toy.flag) == (4, 0.25, (0.5, 2.0), True)
    assert Toy.from_dict({"rate": 1 / 4, "window": [1, 2]}).window == (1.0, 2.0)
    assert coerce(Toy, "rate", 1) == 1.0 and isinstance(coerce(Toy, "rate", 1), float)


def test_unknown_and_unparsable_values():
    with pytest.raises(ValueError, match="unknown parameter"):
        Toy().replace(speed=1)
    with pytest.raises(ValueError, match="^n must be of type int"):
        Toy().replace(n="three")
    with pytest.raises(ValueError, match="^flag must be of type bool"):
        Toy().replace(flag="maybe")


# --- guards against unbounded work, and property tests over random values ----------------------

import importlib  # noqa: E402
import inspect  # noqa: E402
import typing  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from theorylab.core import registry  # noqa: E402
from theorylab.core.params import _base_type  # noqa: E402


def study_params_classes():
    found = {}
    for study in registry.studies():
        module = importlib.import_module(f"theorylab.{study}.model")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Params) and cls is not Params and cls.__module__ == module.__name__:
                found[f"{study}.{cls.__name__}"] = cls
    return found


CLASSES = study_params_classes()

# Numeric fields still without an upper bound or a cost check.  The list may only shrink: a new
# unbounded field fails the test below, and so does an entry here that has since been bounded.
KNOWN_UNBOUNDED: dict[str, set[str]] = {}  # every numeric field is bounded; keep it so


def unbounded(cls):
    out = set()
    for name in cls.fields():
        meta = cls.metadata(name)
        numeric = _base_type(cls.field_type(name)) in (int, float) and meta["choices"] is None
        if numeric and meta["le"] is None and meta["lt"] is None and name not in cls.COST_PARAMS:
            out.add(name)
    return out


def test_every_numeric_parameter_has_an_upper_bound_or_a_cost_check():
    """A value a careless user types (n_steps=1e12) must be refused, not run for a week."""
    found = {key: unbounded(cls) for key, cls in CLASSES.items()}
    new = {k: sorted(v - KNOWN_UNBOUNDED.get(k, set())) for k, v in found.items() if v - KNOWN_UNBOUNDED.get(k, set())}
    assert not new, f"numeric parameters without an upper bound or a cost check: {new}"
    fixed = {k: sorted(v - found.get(k, set())) for k, v in KNOWN_UNBOUNDED.items() if v - found.get(k, set())}
    assert not fixed, f"now bounded, remove from KNOWN_UNBOUNDED: {fixed}"


@dataclasses.dataclass(frozen=True)
class Costly(Params):
    n_steps: int = param(100, "steps", ge=1)
    width: int = param(10, "width", ge=1, le=1000)
    COST_PARAMS = ("n_steps",)
    MAX_COST = 1e6

    def cost(self):
        return self.n_steps * self.width


def test_cost_check_refuses_too_much_work_naming_the_parameter():
    assert Costly(n_steps=10**5).n_steps == 10**5
    with pytest.raises(ValueError, match=r"^n_steps must be smaller: .*about 1e\+07 steps.*lower n_steps"):
        Costly(n_steps=10**6)
    assert unbounded(Costly) == set()


ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.integers(),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.sampled_from(["1", "0.5", "-1", "nan", "inf", "1e9", "true", "a,b", "1,2", ""]),
    st.lists(st.one_of(st.integers(-5, 10**6), st.floats(-10, 1e6), st.text(max_size=3)), max_size=4),
)


def _construct(cls, changes):
    """from_dict must either give a valid Params or raise ValueError naming a parameter; anything
    else (TypeError, ZeroDivisionError, a traceback from a study's check) is a bug."""
    try:
        p = cls.from_dict(changes)
    except ValueError as err:
        text = str(err)
        assert text and "\n" not in text
        names = set(cls.fields()) | {"unknown parameter"}
        assert any(n in text for n in names), f"message names no parameter: {text}"
        return None
    p.validate()  # a valid instance stays valid
    return p


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_values_give_params_or_one_line_value_error_toy(data):
    names = data.draw(st.lists(st.sampled_from(sorted(Toy.fields())), unique=True, max_size=5))
    _construct(Toy, {n: data.draw(ANY_VALUE) for n in names})


@pytest.mark.parametrize("key", sorted(CLASSES))
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_values_give_params_or_one_line_value_error(key, data):
    cls = CLASSES[key]
    fields = sorted(cls.fields())
    names = data.draw(st.lists(st.sampled_from(fields), unique=True, max_size=min(4, len(fields))))
    changes = {}
    for n in names:
        meta, base = cls.metadata(n), _base_type(cls.field_type(n))
        near = []  # values near the declared range edges exercise the cross-field rules too
        for edge in ("ge", "gt", "le", "lt"):
            if meta[edge] is not None:
                near += [meta[edge], meta[edge] + 1, meta[edge] - 1]
        if meta["choices"]:
            near += list(meta["choices"])
        if base is int:
            near = [int(v) for v in near if isinstance(v, (int, float)) and abs(v) < 1e15] + near
        strategy = st.one_of(ANY_VALUE, st.sampled_from(near)) if near else ANY_VALUE
        changes[n] = data.draw(strategy)
    _construct(cls, changes)


# Extreme values the random search above once found crashing deeplinear's cross-field checks (integer
# step counts from record_dt / lr or onset / lr with ZeroDivisionError / OverflowError): regression cases.
from theorylab.deeplinear.model import PathwayParams, PhaseParams  # noqa: E402

CRASHES = [(PhaseParams, {"record_dt": 1e-300}), (PhaseParams, {"record_dt": 1e308}),
           (PhaseParams, {"early_window": (1e308, 0.01)}), (PathwayParams, {"record_dt": 1e-300}),
           (PathwayParams, {"record_dt": 1e308}), (PathwayParams, {"deficit_onset": 1e308})]


@pytest.mark.parametrize("cls, changes", CRASHES, ids=[f"{c.__name__}-{next(iter(ch))}" for c, ch in CRASHES])
def test_extreme_values_are_one_line_errors(cls, changes):
    _construct(cls, changes)
