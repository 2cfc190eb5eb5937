"""Config problems a user can act on: `file: field: message`, all reported at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError


@dataclass(frozen=True, order=True)
class ConfigProblem:
    """One problem in one config file."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class ConfigError(Exception):
    """Raised with every problem found; `str()` gives one line per problem."""

    def __init__(self, problems: Iterable[ConfigProblem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


def field_path(loc: Iterable[Any]) -> str:
    """('glue', 'arguments', 0) -> 'glue.arguments[0]'."""
    path = ""
    for part in loc:
        if isinstance(part, bool) or part is None:
            part = str(part).lower()  # a YAML key such as `on:` or `yes:` read as a boolean
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def validation_items(
    error: ValidationError, model: type[BaseModel]
) -> list[tuple[tuple[Any, ...], str]]:
    """(location, message) per pydantic error, naming the bad value and what is accepted."""
    items = []
    for item in error.errors(include_url=False):
        raw_loc = item["loc"]
        if raw_loc and raw_loc[-1] == "[key]":  # pydantic's marker for a bad mapping key
            key = item.get("input", raw_loc[-2])
            message = f"key {key!r} is not accepted: {_message(item, model, raw_loc)}"
            items.append((_drop_union_tags(model, raw_loc[:-2]), message))
            continue
        items.append((_drop_union_tags(model, raw_loc), _message(item, model, raw_loc)))
    return list(dict.fromkeys(items))


def problems_from_validation(
    error: ValidationError, file: str, model: type[BaseModel]
) -> list[ConfigProblem]:
    """Turn a pydantic error into one problem per bad field of `file`."""
    return [
        ConfigProblem(file, field_path(loc), message)
        for loc, message in validation_items(error, model)
    ]


def _message(item: dict[str, Any], model: type[BaseModel], raw_loc: tuple[Any, ...]) -> str:
    kind, value = item["type"], item.get("input")
    if kind == "extra_forbidden":
        accepted = _accepted_keys(model, raw_loc[:-1])
        hint = f"; accepted: {', '.join(accepted)}" if accepted else ""
        return f"unknown key {raw_loc[-1]!r}{hint}"
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        ctx = item["ctx"]
        return (
            f"{ctx['discriminator'].strip(chr(39))} {ctx['tag']!r} is not accepted; "
            f"accepted: {ctx['expected_tags']}"
        )
    if kind == "union_tag_not_found":
        tags = sorted({t for m in _models_in(_walk(model, raw_loc)) for t in _tags(m)})
        return f"needs a 'type'; accepted: {', '.join(tags)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping of keys (got {_describe(value)})"
    if kind == "string_type" and not isinstance(value, dict | list):
        # YAML turns unquoted 123456789012, 2024-01-01, yes/on into numbers, dates, booleans.
        return f"must be text; quote it (YAML read {value!r} as {_describe(value)})"
    if kind == "string_pattern_mismatch":
        return f"{value!r} does not have the accepted form {item['ctx']['pattern']!r}"
    message = item["msg"].removeprefix("Value error, ")
    if kind in ("value_error", "assertion_error") or repr(value) in message:
        return message
    if isinstance(value, dict | list):
        return f"{message} (got {_describe(value)})"
    return f"{message} (got {value!r})"


def _describe(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", bool: "a boolean", int: "a number"}
    names |= {float: "a number", str: "text", type(None): "nothing"}
    return names.get(type(value), f"a {type(value).__name__}")


def _tags(model: type[BaseModel]) -> tuple[str, ...]:
    field = model.model_fields.get("type")
    return get_args(field.annotation) if field is not None else ()


def _walk(model: Any, loc: tuple[Any, ...]) -> Any:
    """The model or type found at `loc` under `model`, or None when it cannot be told."""
    current = model
    for part in loc:
        current = _unwrap(current, part)
        if current is None:
            return None
    return current


def _unwrap(annotation: Any, part: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field else None
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and isinstance(part, int):
        return args[0]
    if origin is dict:
        return args[1]
    if args:  # Optional / Union / Annotated: the tagged member, else the first that can go on
        for member in _models_in(annotation):
            if _is_tag(member, part):
                return member
        for arg in args:
            found = _unwrap(arg, part)
            if found is not None:
                return found
    return None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _accepted_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    found = _walk(model, loc)
    return sorted({key for m in _models_in(found) for key in m.model_fields})


def _drop_union_tags(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Pydantic puts union member tags (e.g. 'redshift_sql') in loc; users never wrote them."""
    kept: list[Any] = []
    current: Any = model
    for part in loc:
        nxt = _unwrap(current, part)
        if isinstance(part, str) and current is not None and _is_tag(current, part):
            current = nxt  # step into the tagged member without naming it
            continue
        kept.append(part)
        current = nxt
    return tuple(kept)


def _is_tag(annotation: Any, part: str) -> bool:
    for m in _models_in(annotation):
        field = m.model_fields.get("type")
        if field is not None and part in get_args(field.annotation):
            return True
    return False
