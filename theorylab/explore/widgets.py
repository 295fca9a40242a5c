"""Params field -> Panel widget: the one place where parameter metadata becomes a control.

The field's type and its :func:`~theorylab.core.params.param` metadata choose the
widget: choices -> select (several choices for a tuple), bool -> checkbox, other
tuples -> comma-separated text, int and float -> an editable slider (a slider
plus a number box).  The slider's hard bounds are the allowed range; exclusive
bounds (``gt``/``lt``) stay reachable on purpose, so that moving onto them shows
the validation message instead of silently clamping.  Cross-field rules (``Params.check``) are not encoded here:
the page shows their ``ValueError`` when a combination is bad.
"""

from __future__ import annotations

import html
import math
import typing
from typing import Any

import panel as pn
from bokeh.models import PrintfTickFormatter

from theorylab.core.params import Params, describe_range

SLIDER_WIDTH = 290


def _kind(cls: type[Params], name: str) -> tuple[bool, type]:
    """(is_tuple, element type) of a field, e.g. ``tuple[int, ...]`` -> (True, int)."""
    tp = cls.field_type(name)
    if typing.get_origin(tp) is tuple:
        return True, typing.get_args(tp)[0]
    return False, tp


def label(cls: type[Params], name: str) -> str:
    unit = cls.metadata(name)["unit"]
    return f"{name} [{unit}]" if unit else name


def help_text(cls: type[Params], name: str) -> str:
    """The field's description and allowed range, shown under its widget."""
    meta = cls.metadata(name)
    text = f"{meta['doc']} ({describe_range(meta)})"
    if _kind(cls, name)[0] and meta["choices"] is None:
        text += "; comma-separated"
    return text


def to_text(value: Any) -> str:
    """A tuple as the text box shows it: ``(0, 250, 500)`` -> ``'0, 250, 500'``."""
    return ", ".join(str(v) for v in value)


def shown(cls: type[Params], name: str, value: Any) -> Any:
    """A parameter value as its widget holds it (``Params.from_dict`` reads it back)."""
    if not _kind(cls, name)[0]:
        return value
    return list(value) if cls.metadata(name)["choices"] is not None else to_text(value)


def slider_range(value: float, low: float | None, high: float | None) -> tuple[float, float]:
    """The slider's visible ends: the allowed range when it is within ten times the value's size,
    else four times the value from the low end (the number box still accepts the whole range)."""
    size = abs(value) or 1.0
    start = low if low is not None else value - 4 * size
    end = high if high is not None and high - start <= 10 * size else start + 4 * size
    return start, max(end, value)


def _float_step(start: float, end: float) -> float:
    """About a hundred slider positions, on a power of ten."""
    return 10.0 ** math.floor(math.log10((end - start) / 100)) if end > start else 1.0


def widget_for(cls: type[Params], name: str, value: Any) -> pn.widgets.Widget:
    """A widget for field ``name`` of ``cls``, showing ``value``; its CSS class is ``param-<name>``."""
    meta = cls.metadata(name)
    is_tuple, base = _kind(cls, name)
    common = {"label": label(cls, name), "css_classes": [f"param-{name}"]}
    if meta["choices"] is not None:
        options = list(meta["choices"])
        if is_tuple:
            return pn.widgets.MultiChoice(options=options, value=list(value), width=SLIDER_WIDTH, **common)
        return pn.widgets.Select(options=options, value=value, **common)
    if is_tuple or base not in (bool, int, float):
        return pn.widgets.TextInput(value=shown(cls, name, value) if is_tuple else str(value), **common)
    if base is bool:
        return pn.widgets.Checkbox(value=bool(value), **common)
    low = next((meta[k] for k in ("ge", "gt") if meta[k] is not None), None)
    high = next((meta[k] for k in ("le", "lt") if meta[k] is not None), None)
    start, end = slider_range(value, low, high)
    if base is int:
        return pn.widgets.EditableIntSlider(
            value=int(value), start=math.floor(start), end=math.ceil(end), step=1,
            fixed_start=None if low is None else math.ceil(low),
            fixed_end=None if high is None else math.floor(high), width=SLIDER_WIDTH, **common)
    return pn.widgets.EditableFloatSlider(
        value=float(value), start=start, end=end, step=_float_step(start, end),
        fixed_start=low, fixed_end=high, width=SLIDER_WIDTH, format=PrintfTickFormatter(format="%.6g"),
        **common)


def control(cls: type[Params], name: str, value: Any) -> tuple[pn.widgets.Widget, pn.viewable.Viewable]:
    """The widget and the block the page shows: the widget with its description under it."""
    widget = widget_for(cls, name, value)
    note = pn.pane.HTML(f'<div class="param-help">{html.escape(help_text(cls, name))}</div>',
                        margin=(-6, 10, 6, 10), styles={"font-size": "11px", "color": "#666"},
                        width=SLIDER_WIDTH)
    return widget, pn.Column(widget, note, margin=0)

