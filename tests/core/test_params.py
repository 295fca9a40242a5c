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
