"""What every typed config shares: a strict pydantic base, number types, path expansion, one-line errors.

Configs are pydantic models so a YAML file is checked once, when it is loaded, before any camera starts: an
unknown key, a word where a number belongs, NaN or infinity, a negative time all stop the run with one line that
names the file and the key path (``cameras[0].clock_offset: must be a finite number, got inf``). Numbers are
parsed leniently from text (YAML reads ``1e-12`` as a string) but never from booleans (``similarity: yes`` is a
mistake, not 1.0).
"""

from __future__ import annotations

import os
import re
import typing
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo

from mtmct.core.errors import MtmctError

_VAR = re.compile(r"\$\{([^}]*)\}")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# pydantic's wording, said in YAML's terms
_PLAIN = [(r"^Input should be ", "must be "), (r"a valid dictionary or instance of \w+", "a mapping"),
          (r"a valid (tuple|list)", "a list"), (r"a valid number(, unable to parse string as a number)?", "a number"),
          (r"a valid integer, got a number with a fractional part", "a whole number"),
          (r"a valid integer, unable to parse string as an integer", "a whole number"),
          (r"a valid string", "text"), (r"a valid boolean", "true or false")]


class StrictModel(BaseModel):
    """A frozen config section: unknown keys are errors, ids given as numbers become text (``id: 2``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


def _not_bool(value: Any) -> Any:
    """YAML's ``yes``/``true`` would pass as 1 for a number field; a boolean is never a number here."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value}")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Number = Annotated[float, BeforeValidator(_not_bool), Field(allow_inf_nan=False)]
"""Any finite number (NaN and infinity are refused)."""
NonNegative = Annotated[Number, Field(ge=0)]
Positive = Annotated[Number, Field(gt=0)]
Fraction = Annotated[Number, Field(ge=0, le=1)]
Int = Annotated[int, BeforeValidator(_not_bool)]
Text = Annotated[str, AfterValidator(_not_blank)]


def require_unique(keys: list[Any], what: str) -> None:
    """A ValueError naming the first repeated key and both its positions (``duplicate camera id 'c1' ([0] and
    [2])``); ``what`` says what the key is."""
    for j, key in enumerate(keys):
        if key in keys[:j]:
            raise ValueError(f"duplicate {what} {key!r} ([{keys.index(key)}] and [{j}])")


def expand(value: str) -> str:
    """``${VAR}`` replaced from the environment (an unset variable is an error) and ``~`` expanded."""
    def var(match: re.Match) -> str:
        if match.group(1) not in os.environ:
            raise ValueError(f"environment variable {match.group(1)!r} is not set")
        return os.environ[match.group(1)]

    return os.path.expanduser(_VAR.sub(var, value))


def base_dir(info: ValidationInfo) -> Path | None:
    """The folder relative paths resolve against (the YAML file's), passed as validation context."""
    return (info.context or {}).get("base")


def resolve_path(value: str, info: ValidationInfo) -> str:
    """A path resolved against the config's folder; URLs and device indices unchanged."""
    text, base = expand(value), base_dir(info)
    if base is None or _URL.match(text) or text.isdigit():
        return text
    return str((base / text).resolve())


def resolve_model(value: str | None, info: ValidationInfo) -> str | None:
    """A model path resolved like :func:`resolve_path`, or a registry name (no folder, no suffix, no such file)
    kept as given."""
    if value is None:
        return None
    text, base = expand(value), base_dir(info)
    if base is None:
        return text
    looks_like_path = "/" in text or os.sep in text or Path(text).suffix != "" or (base / text).exists()
    return str((base / text).resolve()) if looks_like_path else text


def read_yaml(path: Path, what: str) -> Any:
    """A YAML file's data; a missing, unreadable, binary or malformed file is a one-line MtmctError."""
    import yaml

    if not path.is_file():
        raise MtmctError(f"{what} {path} does not exist")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MtmctError(f"{path}: not a text (UTF-8) file, byte {exc.start} is {exc.object[exc.start]:#04x}") from None
    except OSError as exc:
        raise MtmctError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MtmctError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None


def validate(model: type[BaseModel], data: Any, where: str | None, context: dict[str, Any] | None = None,
             rename: dict[tuple, tuple] | None = None) -> Any:
    """``model`` validated from ``data``; a ValidationError becomes a one-line MtmctError naming ``where``
    (the file; None for a mapping) and the key path of the first problem. ``rename`` maps a loc prefix to the one
    the user wrote (a shorthand the model expands)."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise MtmctError(one_line(exc, model, where, rename or {})) from None


NESTED_KEY = "\x1f"
"""A validator's message that starts with this goes on with the key path: ``NESTED_KEY + "max_age: must be ..."``
raised for the field ``tracker`` reads ``tracker.max_age: must be ...`` (a section validated by a model of its
own, chosen inside the validator)."""


def one_line(exc: ValidationError, model: type[BaseModel], where: str | None, rename: dict[tuple, tuple]) -> str:
    """The first error of ``exc`` as ``where: key.path[0]: message, got value`` (+ how many more)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    message = _message(first, model, loc)
    for prefix, shown in rename.items():
        if loc[:len(prefix)] == prefix:
            loc = shown + loc[len(prefix):]
    path = key_path(loc)
    if message.startswith(NESTED_KEY):
        below, _, message = message[1:].partition(": ")
        path = f"{path}.{below}" if path else below
    parts = [p for p in (where, path) if p]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ": ".join([*parts, message]) + more


def key_path(loc: tuple) -> str:
    """``('cameras', 0, 'fps')`` -> ``cameras[0].fps``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: dict[str, Any], model: type[BaseModel], loc: tuple) -> str:
    kind, msg, value = error["type"], error["msg"], error.get("input")
    if kind == "missing":
        return "missing item (too few)" if loc and isinstance(loc[-1], int) else "missing"
    if kind in ("too_short", "too_long"):
        bound = "at least" if kind == "too_short" else "at most"
        limit = error["ctx"]["min_length" if kind == "too_short" else "max_length"]
        return f"expected {bound} {limit} item{'s' if limit != 1 else ''}, got {len(value)}"
    if kind == "extra_forbidden":
        known = _fields_at(model, loc[:-1])
        return f"unknown key (known: {', '.join(known)})" if known else "unknown key"
    if kind == "value_error":  # our own validators: the message is already phrased for the user
        return msg.removeprefix("Value error, ")
    for pattern, plain in _PLAIN:
        msg = re.sub(pattern, plain, msg)
    shown = repr(value) if isinstance(value, str) else str(value)
    return f"{msg}, got {' '.join(shown.split())[:80]}"


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names of the model found at ``loc`` below ``model`` (list indices skipped)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        current = _model_in(fields[part].annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class inside an annotation such as ``tuple[X, ...]`` or ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
