"""The experiment TOML schema: one place that says which keys exist and what each must hold.

:func:`validate` checks a parsed TOML document and raises ``ValueError`` with one
line naming the file, the key (a dotted path such as ``scales.paper.grid.depth``)
and the expected type; :func:`parse` does the same for the file's text, so a TOML
syntax error also names its file.  Whether parameter *values* are in range is the
Params classes' job (checked when an experiment is resolved), not the schema's.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

SCALES = ("quick", "paper")
TOP_KEYS = ("study", "description", "simulate", "params", "grid", "seeds", "scales", "figures", "claims")
SCALE_KEYS = ("params", "grid", "seeds")
MAX_SEED = 2**32 - 1   # numpy's SeedSequence accepts any non-negative int; keep seeds to 32 bits


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str))


def _is_value(value: Any) -> bool:
    """A parameter value: a scalar, or a flat non-empty list of scalars (a tuple parameter)."""
    return _is_scalar(value) or (isinstance(value, list) and len(value) > 0
                                 and all(_is_scalar(v) for v in value))


class _Checker:
    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, expected: str, value: Any) -> None:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise ValueError(f"{self.source}: {key} must be {expected} (got {_kind(value)} {shown})")

    def string(self, key: str, value: Any, nonempty: bool = True) -> str:
        if not isinstance(value, str) or (nonempty and not value.strip()):
            self.fail(key, "a non-empty string" if nonempty else "a string", value)
        return value

    def strings(self, key: str, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.fail(key, 'a list of strings, e.g. ["a", "b"]', value)
        if len(set(value)) != len(value):
            self.fail(key, "a list without repeats", value)
        return list(value)

    def table(self, key: str, value: Any) -> dict:
        if not isinstance(value, dict):
            self.fail(key, "a table", value)
        return value

    def params(self, key: str, value: Any) -> dict[str, Any]:
        for name, v in self.table(key, value).items():
            if not _is_value(v):
                self.fail(f"{key}.{name}", "a number, string, boolean or a flat non-empty list of them", v)
        return dict(value)

    def grid(self, key: str, value: Any) -> dict[str, list]:
        for name, values in self.table(key, value).items():
            if not isinstance(values, list) or not values:
                self.fail(f"{key}.{name}", "a non-empty list of values to sweep", values)
            if not all(_is_value(v) for v in values):
                self.fail(f"{key}.{name}", "a list of numbers, strings, booleans or flat lists", values)
            if len({repr(v) for v in values}) != len(values):
                self.fail(f"{key}.{name}", "a list without repeats", values)
            if name == "seed":
                self.fail(f"{key}.seed", "absent: list seeds under `seeds`, not in the grid", values)
        return {k: list(v) for k, v in value.items()}

    def seeds(self, key: str, value: Any) -> list[int]:
        if (not isinstance(value, list) or not value
                or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in value)):
            self.fail(key, f"a non-empty list of integers in [0, {MAX_SEED}], e.g. [0, 1, 2]", value)
        if len(set(value)) != len(value):
            self.fail(key, "a list of distinct integers", value)
        return list(value)


def validate(raw: Any, source: str | Path) -> dict[str, Any]:
    """Check a parsed experiment document; return it with defaults filled in.

    Keys: ``study`` and ``simulate`` (strings, required), ``description`` (string),
    ``params`` (table of values), ``grid`` (table of non-empty lists), ``seeds``
    (list of distinct non-negative integers), ``scales`` (tables ``quick`` and/or
    ``paper``, each with optional ``params``, ``grid``, ``seeds``), ``figures`` and
    ``claims`` (lists of strings).
    """
    c = _Checker(str(source))
    if not isinstance(raw, dict):
        c.fail("the document", "a table of keys", raw)
    unknown = sorted(set(raw) - set(TOP_KEYS))
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {unknown}; allowed: {sorted(TOP_KEYS)}")
    for required in ("study", "simulate"):
        if required not in raw:
            raise ValueError(f"{source}: missing key {required!r} (a string)")
    out: dict[str, Any] = {
        "study": c.string("study", raw["study"]),
        "simulate": c.string("simulate", raw["simulate"]),
        "description": c.string("description", raw.get("description", ""), nonempty=False),
        "params": c.params("params", raw.get("params", {})),
        "grid": c.grid("grid", raw.get("grid", {})),
        "seeds": c.seeds("seeds", raw.get("seeds", [0])),
        "figures": c.strings("figures", raw.get("figures", [])),
        "claims": c.strings("claims", raw.get("claims", [])),
    }
    scales = c.table("scales", raw.get("scales", {}))
    bad = sorted(set(scales) - set(SCALES))
    if bad:
        raise ValueError(f"{source}: scales must be among {SCALES} (got {bad})")
    out["scales"] = {}
    for scale, layer in scales.items():
        key = f"scales.{scale}"
        c.table(key, layer)
        unknown = sorted(set(layer) - set(SCALE_KEYS))
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {unknown} in [{key}]; allowed: {sorted(SCALE_KEYS)}")
        checked: dict[str, Any] = {}
        if "params" in layer:
            checked["params"] = c.params(f"{key}.params", layer["params"])
        if "grid" in layer:
            checked["grid"] = c.grid(f"{key}.grid", layer["grid"])
        if "seeds" in layer:
            checked["seeds"] = c.seeds(f"{key}.seeds", layer["seeds"])
        out["scales"][scale] = checked
    return out


def parse(text: str | bytes, source: str | Path) -> dict[str, Any]:
    """Parse and validate an experiment TOML; every failure is one ValueError naming ``source``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{source}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{source}: TOML syntax error: {err}") from None
    return validate(raw, source)


def load(path: str | Path) -> dict[str, Any]:
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ValueError(f"{path}: cannot read ({err.strerror or err})") from None
    return parse(data, path)
