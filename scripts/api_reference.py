"""Write docs/reference/api/schemas.md from the application's OpenAPI schema.

Run it after changing an endpoint, a parameter or a request or response model:

    .venv/bin/python scripts/api_reference.py

``tests/unit/test_docs.py`` fails while the committed page differs from what this script
writes. The page gives the exact shapes (parameters, bodies, answers, every schema's fields,
types, defaults and bounds); what each endpoint means, who may call it and its errors are
written by hand on the resource pages beside it. Descriptions from the code are left out
on purpose: the page changes only when a shape changes.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "reference" / "api" / "schemas.md"
API_PREFIX = "/api/v1"

#: FastAPI's own validation-error schemas: callhopper answers every error in its own shape.
LEFT_OUT = frozenset({"HTTPValidationError", "ValidationError"})

#: Bounds of the id types (callhopper.api.ids), shown by name instead of by value.
ID_BOUNDS = {
    (-(2**31), 2**31 - 1): "32-bit id",
    (-(2**63), 2**63 - 1): "64-bit id",
}

HEADER = """\
# Endpoints and schemas

<!-- Written by scripts/api_reference.py from the OpenAPI schema: do not edit by hand. -->

This page is generated from the application's OpenAPI schema (the one served at
`/openapi.json`, with interactive documentation at `/docs`). It gives the exact shape of
every endpoint: its parameters, its request body and its answer, and every field of every
schema with its type, default and bounds. What each endpoint does, the right it needs and
the errors it answers are on the resource pages of the [HTTP API](index.md); every error
has the shape described in [Errors](index.md#errors).

Paths are under `/api/v1`. A *32-bit id* is an integer from -2³¹ to 2³¹-1, a *64-bit id*
one from -2⁶³ to 2⁶³-1 (see [Ids](index.md#ids)).
"""


def openapi() -> dict[str, Any]:
    """The application's OpenAPI schema (the app is built, never started: no database is
    opened)."""
    from callhopper.api.app import create_app
    from callhopper.settings import Settings

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(database_url=f"sqlite:///{scratch}/unused.db")
        schema: dict[str, Any] = create_app(settings).openapi()
    return schema


def render(schema: dict[str, Any]) -> str:
    """The page for an OpenAPI schema."""
    lines = [HEADER, "## Endpoints", ""]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            tag = operation.get("tags", ["other"])[0]
            by_tag.setdefault(tag, []).append((method.upper(), path, operation))
    for tag, operations in by_tag.items():
        lines += [f"### {tag.capitalize()} {{#endpoints-{_slug(tag)}}}", ""]
        lines += ["| endpoint | parameters | body | answer |", "|---|---|---|---|"]
        for method, path, operation in operations:
            short = path.removeprefix(API_PREFIX) or "/"
            lines.append(
                f"| `{method} {short}` | {_parameters(operation)} | {_body(operation)} "
                f"| {_answer(operation)} |"
            )
        lines.append("")
    lines += ["## Schemas", ""]
    components = schema.get("components", {}).get("schemas", {})
    for name in sorted(components):
        if name not in LEFT_OUT:
            lines += _schema_section(name, components[name])
    return "\n".join(lines).rstrip() + "\n"


def _slug(text: str) -> str:
    return "-".join(text.lower().replace("-", " ").split())


def _cell(text: str) -> str:
    """Text that can stand in a table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _parameters(operation: dict[str, Any]) -> str:
    parts = []
    for parameter in operation.get("parameters", []):
        optional = "" if parameter.get("required") else ", optional"
        where = parameter["in"]
        described = _type(parameter.get("schema", {}))
        default = parameter.get("schema", {}).get("default")
        shown_default = f", default `{_json(default)}`" if default is not None else ""
        parts.append(f"`{parameter['name']}` ({where}{optional}): {described}{shown_default}")
    return "<br>".join(_cell(p) for p in parts) or "—"


def _body(operation: dict[str, Any]) -> str:
    body = operation.get("requestBody")
    if body is None:
        return "—"
    described = []
    for media, content in body.get("content", {}).items():
        inner = content.get("schema", {})
        if media == "application/json":
            described.append(f"JSON {_type(inner)}")
        elif media == "multipart/form-data":
            fields = ", ".join(f"`{f}`" for f in inner.get("properties", {}))
            described.append(f"`{media}` ({fields})")
        else:
            described.append(f"`{media}`")
    optional = "" if body.get("required") else ", optional"
    return _cell(" or ".join(described) + optional)


def _answer(operation: dict[str, Any]) -> str:
    answers = []
    for status, response in operation.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        content = response.get("content", {}).get("application/json")
        if content is None or not content.get("schema"):
            answers.append(f"{status}, no body")
        else:
            answers.append(f"{status} {_type(content['schema'])}")
    return _cell("; ".join(answers))


def _type(schema: dict[str, Any]) -> str:
    """A schema as a short phrase with links to the named schemas."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"]
            nullable = len(options) < len(schema[key])
            text = " or ".join(_type(o) for o in options)
            return f"{text} or null" if nullable else text
    if "const" in schema:
        return f"`{_json(schema['const'])}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{_json(v)}`" for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        text = f"list of {_type(schema.get('items', {}))}"
    elif kind == "object" or (kind is None and "additionalProperties" in schema):
        values = schema.get("additionalProperties")
        text = f"object of {_type(values)}" if isinstance(values, dict) and values else "object"
    elif kind == "integer" and (schema.get("minimum"), schema.get("maximum")) in ID_BOUNDS:
        return ID_BOUNDS[(int(schema["minimum"]), int(schema["maximum"]))]
    elif kind is None:
        return "any value"
    else:
        text = str(kind)
        if "format" in schema:
            text += f" ({schema['format']})"
    bounds = _bounds(schema)
    return f"{text}, {bounds}" if bounds else text


def _bounds(schema: dict[str, Any]) -> str:
    parts = []
    for key, word in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        if key in schema:
            parts.append(f"{word} {_number(schema[key])}")
    for key, word in (
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("minItems", "at least {} items"),
        ("maxItems", "at most {} items"),
    ):
        if key in schema:
            parts.append(word.format(_number(schema[key])))
    if "pattern" in schema:
        parts.append(f"matching `{schema['pattern']}`")
    return ", ".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _schema_section(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    if "enum" in schema:
        values = ", ".join(f"`{_json(v)}`" for v in schema["enum"])
        return [*lines, f"One of {values}.", ""]
    properties = schema.get("properties", {})
    if not properties:
        return [*lines, f"{_type(schema).capitalize()}.", ""]
    required = set(schema.get("required", []))
    lines += ["| field | type | required | default |", "|---|---|---|---|"]
    for field, spec in properties.items():
        default = f"`{_json(spec['default'])}`" if "default" in spec else ""
        lines.append(
            f"| `{field}` | {_cell(_type(spec))} | {'yes' if field in required else ''} "
            f"| {_cell(default)} |"
        )
    if schema.get("additionalProperties") is False:
        lines += ["", "Any other field is refused (422)."]
    return [*lines, ""]


def main() -> int:
    PAGE.write_text(render(openapi()), encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
