"""A model's details as ``ollama show`` prints them (and ``/show info`` in a chat).

Sections, each a title and an indented table: Model (architecture, parameters, context and
embedding length, quantization), Capabilities, Projector, Parameters, and with ``verbose`` the
whole Metadata (``model_info``, long lists cut short) and the Tensors; then the first two lines
of the System message and of the License.
"""

from __future__ import annotations

from typing import Any

from ollama_actor._cli._format import go_g

__all__ = ["go_value", "show_info"]

_LIST_WIDTH = 10
"""How wide a list in the Metadata may be before it is cut (as Ollama's own table cuts it)."""


_LENGTHS = (("context length", "context_length"), ("embedding length", "embedding_length"))
_PROJECTIONS = (("embedding length", "embedding_length"), ("dimensions", "projection_dim"))


def _table(title: str, rows: list[list[str]]) -> list[str]:
    """``  Title`` and the rows in columns four spaces apart, as Ollama's tablewriter lays them;
    nothing for no rows (a reply without what the section shows)."""
    if not rows:
        return []
    columns = max(len(row) for row in rows)
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(columns)]
    lines = [f"  {title}"]
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("    ".join([*cells, row[-1]]).rstrip())
    return [*lines, ""]


def go_value(value: Any) -> str:
    """A decoded JSON value as Go's ``%v`` prints it (numbers are float64 to Go)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_g(float(value))
    if isinstance(value, list):
        return "[" + " ".join(go_value(item) for item in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _metadata_value(value: Any) -> str:
    """A ``model_info`` value in the Metadata table: a long list shows its first items."""
    if not isinstance(value, list):
        return go_value(value)
    shown, width = 0, 1
    for index, item in enumerate(value):
        more = len(go_value(item)) + (2 if index else 0)
        if width + more > _LIST_WIDTH and index:
            break
        width += more
        shown += 1
    if shown < len(value):
        return go_value(value[:shown])[:-1] + f" ...+{len(value) - shown} more]"
    return go_value(value)


def _head(text: str, count: int) -> list[list[str]]:
    """The first ``count`` lines that are not blank, and ``...`` if there are more."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    rows = [["", line] for line in lines[:count]]
    return [*rows, ["", "..."]] if len(lines) > count else rows


def _number(info: dict[str, Any], key: str) -> str | None:
    value = info.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return go_g(float(value))
    return None


def _model_rows(response: dict[str, Any]) -> list[list[str]]:
    details = response.get("details") or {}
    info = response.get("model_info")
    rows: list[list[str]] = []
    if response.get("remote_host"):
        rows.append(["", "Remote model", str(response.get("remote_model", ""))])
        rows.append(["", "Remote URL", str(response["remote_host"])])
    if isinstance(info, dict):
        arch = info.get("general.architecture")
        arch = arch if isinstance(arch, str) else ""
        if arch:
            rows.append(["", "architecture", arch])
        parameters = str(details.get("parameter_size") or "")
        if not parameters and isinstance(info.get("general.parameter_count"), int | float):
            parameters = _human_number(int(info["general.parameter_count"]))
        if parameters:
            rows.append(["", "parameters", parameters])
        for label, key in _LENGTHS:
            value = _number(info, f"{arch}.{key}")
            if value is not None:
                rows.append(["", label, value])
    else:
        rows.append(["", "architecture", str(details.get("family", ""))])
        rows.append(["", "parameters", str(details.get("parameter_size", ""))])
    rows.append(["", "quantization", str(details.get("quantization_level", ""))])
    if response.get("requires"):
        rows.append(["", "requires", str(response["requires"])])
    return rows


def _human_number(count: int) -> str:
    """``7B``, ``3.2B``, ``1.25M``, ``12K``: Ollama's ``format.HumanNumber``."""
    for unit, scale, decimals in (("B", 10**9, 1), ("M", 10**6, 2)):
        if count >= scale:
            value = count / scale
            return f"{value:.0f}{unit}" if value == int(value) else f"{value:.{decimals}f}{unit}"
    return f"{count / 1000:.0f}K" if count >= 1000 else str(count)


def _projector_rows(projector: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    arch = projector.get("general.architecture")
    arch = arch if isinstance(arch, str) else ""
    if arch:
        rows.append(["", "architecture", arch])
    count = projector.get("general.parameter_count")
    if isinstance(count, int | float) and not isinstance(count, bool):
        rows.append(["", "parameters", _human_number(int(count))])
    for label, suffix in _PROJECTIONS:
        for modality in ("vision", "audio"):
            value = _number(projector, f"{arch}.{modality}.{suffix}")
            if value is not None:
                rows.append(["", label, value])
                break
    return rows


def show_info(response: dict[str, Any], *, verbose: bool = False) -> str:
    """What ``ollama show MODEL`` (``verbose``: ``--verbose``) prints of an ``/api/show`` reply."""
    lines = _table("Model", _model_rows(response))
    capabilities = response.get("capabilities") or []
    if capabilities:
        lines += _table("Capabilities", [["", str(c)] for c in capabilities])
    projector = response.get("projector_info")
    if isinstance(projector, dict):
        lines += _table("Projector", _projector_rows(projector))
    parameters = str(response.get("parameters") or "")
    if parameters:
        rows = [["", *line.split()] for line in parameters.splitlines() if line.strip()]
        lines += _table("Parameters", rows)
    info = response.get("model_info")
    if verbose and isinstance(info, dict):
        rows = [["", key, _metadata_value(info[key])] for key in sorted(info)]
        lines += _table("Metadata", rows)
    tensors = response.get("tensors") or []
    if verbose and tensors:
        rows = [
            ["", str(t.get("name", "")), str(t.get("type", "")), go_value(t.get("shape", []))]
            for t in tensors
            if isinstance(t, dict)
        ]
        lines += _table("Tensors", rows)
    for title in ("System", "License"):
        text = response.get(title.lower())
        if text:
            lines += _table(title, _head(str(text), 2))
    return "\n".join(lines)
