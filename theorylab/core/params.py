"""Validated, frozen parameter sets.

Every simulator takes one ``Params`` subclass.  Each field is declared with
:func:`param`, which records its allowed range and a one-line description in
the field metadata; validation, the CLI's ``--set`` parsing and the explorer's
widgets all read that metadata, so a range is written in exactly one place.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any, ClassVar, Sequence

_META_KEY = "theorylab"


def param(
    default: Any,
    doc: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Sequence[Any] | None = None,
    unit: str = "",
) -> Any:
    """Declare a parameter field with its allowed range and description.

    Bounds apply to every element when the field is a tuple.
    """
    meta = {"doc": doc, "ge": ge, "gt": gt, "le": le, "lt": lt,
            "choices": tuple(choices) if choices is not None else None, "unit": unit}
    if isinstance(default, (list, tuple)):
        return dataclasses.field(default_factory=lambda d=tuple(default): d,
                                 metadata={_META_KEY: meta})
    return dataclasses.field(default=default, metadata={_META_KEY: meta})


def describe_range(meta: dict) -> str:
    """Human-readable allowed range, e.g. ``'> 0 and <= 1'`` or ``"one of ('a', 'b')"``."""
    if meta["choices"] is not None:
        return f"one of {meta['choices']!r}"
    parts = []
    for key, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        if meta[key] is not None:
            parts.append(f"{sym} {meta[key]:g}")
    return " and ".join(parts) if parts else "any value"


def _in_range(value: Any, meta: dict) -> bool:
    if meta["choices"] is not None:
        return value in meta["choices"]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            return False
        if meta["gt"] is not None and not value > meta["gt"]:
            return False
        if meta["ge"] is not None and not value >= meta["ge"]:
            return False
        if meta["lt"] is not None and not value < meta["lt"]:
            return False
        if meta["le"] is not None and not value <= meta["le"]:
            return False
    return True


def _base_type(tp: Any) -> type:
    """``tuple[float, ...]`` -> float, ``int`` -> int."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is tuple and args:
        return args[0]
    return tp


@dataclasses.dataclass(frozen=True)
class Params:
    """Base class: subclasses are frozen dataclasses whose fields use :func:`param`.

    Subclasses add cross-field rules by overriding :meth:`check`, raising
    ``ValueError`` with a message naming the parameter.

    Every numeric field needs an upper bound (``le``/``lt``) unless a cost check
    covers it: a subclass lists such fields in ``COST_PARAMS`` and returns from
    :meth:`cost` the number of elementary steps one simulation takes; more than
    ``MAX_COST`` is refused before anything runs.
    """

    COST_PARAMS: ClassVar[tuple[str, ...]] = ()
    MAX_COST: ClassVar[float] = 1e11   # about a minute or more of one core in a compiled loop

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def fields(cls) -> dict[str, dataclasses.Field]:
        return {f.name: f for f in dataclasses.fields(cls)}

    @classmethod
    def metadata(cls, name: str) -> dict:
        return cls.fields()[name].metadata[_META_KEY]

    @classmethod
    def field_type(cls, name: str) -> Any:
        return typing.get_type_hints(cls)[name]

    def validate(self) -> None:
        hints = typing.get_type_hints(type(self))
        for name, f in self.fields().items():
            meta = f.metadata[_META_KEY]
            value = getattr(self, name)
            tp = hints[name]
            is_tuple = typing.get_origin(tp) is tuple
            if is_tuple:
                if not isinstance(value, tuple) or len(value) == 0:
                    raise ValueError(f"{name} must be a non-empty tuple (got {value!r})")
                values = value
            else:
                values = (value,)
            base = _base_type(tp)
            for v in values:
                if base is float and isinstance(v, int) and not isinstance(v, bool):
                    continue
                if not isinstance(v, base) or (base is int and isinstance(v, bool)):
                    raise ValueError(f"{name} must be of type {base.__name__} (got {v!r})")
                if not _in_range(v, meta):
                    raise ValueError(f"{name} must be {describe_range(meta)} (got {v!r})")
        self.check()
        cost = self.cost()
        if cost is not None and not cost <= self.MAX_COST:
            names = self.COST_PARAMS or tuple(self.fields())
            raise ValueError(f"{names[0]} must be smaller: one simulation would take about {cost:.2g} steps, "
                             f"above the limit of {self.MAX_COST:.0g}; lower {' or '.join(names)}")

    def check(self) -> None:
        """Cross-field validation; override in subclasses."""

    def cost(self) -> float | None:
        """Elementary steps one simulation with these values takes (None: bounded by the ranges alone)."""
        return None

    def replace(self, **changes: Any) -> "Params":
        unknown = set(changes) - set(self.fields())
        if unknown:
            raise ValueError(f"unknown parameter(s) for {type(self).__name__}: "
                             f"{sorted(unknown)}; known: {sorted(self.fields())}")
        return dataclasses.replace(self, **{k: coerce(type(self), k, v) for k, v in changes.items()})

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.fields()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Params":
        unknown = set(values) - set(cls.fields())
        if unknown:
            raise ValueError(f"unknown parameter(s) for {cls.__name__}: "
                             f"{sorted(unknown)}; known: {sorted(cls.fields())}")
        return cls(**{k: coerce(cls, k, v) for k, v in values.items()})


def coerce(cls: type[Params], name: str, value: Any) -> Any:
    """Convert TOML/CLI values (lists, strings, ints for floats) to the field's type."""
    tp = cls.field_type(name)
    base = _base_type(tp)
    if typing.get_origin(tp) is tuple:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            value = [value]
        return tuple(_coerce_scalar(name, base, v) for v in value)
    return _coerce_scalar(name, base, value)


def _coerce_scalar(name: str, base: type, value: Any) -> Any:
    if isinstance(value, str) and base is not str:
        text = value.strip()
        try:
            if base is bool:
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                return text.lower() in ("true", "1")
            return base(float(text)) if base is int and float(text).is_integer() else base(text)
        except ValueError:
            raise ValueError(f"{name} must be of type {base.__name__} (got {value!r})") from None
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def attrs_value(value: Any) -> Any:
    """A parameter value in a form NetCDF attributes accept."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, tuple):
        return list(value)
    if value is None:
        return "none"
    return value
