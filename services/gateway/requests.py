"""Reading a request the way MLflow's server does: query or JSON body, proto-JSON typing, checks.

Each endpoint declares a `RequestSchema`: its proto fields (kinds below) and the per-field checks
of the MLflow handler's `schema={...}`. `read_request` mirrors `_get_request_message`:

1. GET with a query string: the proto fields from the query (repeated fields from repeated
   keys, booleans only `true`/`false`). Otherwise the JSON body; POST and PUT must say
   `Content-Type: application/json`; a JSON string body is decoded once more; empty is `{}`.
2. Proto-JSON conversion of every field (protobuf's `ParseDict` rules; unknown fields ignored;
   camelCase JSON names accepted, both spellings at once refused).
3. The checks, in schema order, on the raw values; the type checks only run when the conversion
   failed somewhere, exactly like `_validate_param_against_schema`.

Where MLflow would carry on with a half-parsed message or answer 500 (a field that fails
conversion yet passes the type checks, a string where a message belongs, a body that is not
JSON or not an object), we answer 400 INVALID_PARAMETER_VALUE instead, after the checks, so
every answer MLflow gives as an error is given word for word.

The result is a plain dict of converted values; absent and null fields are left out, so a
handler can tell "unset" from an empty value. `run_id` is filled from `run_uuid` when unset,
as MLflow's handlers do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import Request

from services.gateway.errors import MlflowError
from services.gateway.validation import INT64_MAX, INT64_MIN, invalid_value, missing_value

_API_DOCS = " See the API docs for more information about request parameters."
_BOM = b"\xef\xbb\xbf"
_INT64 = (INT64_MIN, INT64_MAX)
_INT32 = (-(2**31), 2**31 - 1)
# An enum name protobuf does not know: ignored, as MLflow ignores it.
_ABSENT: Any = object()
# protobuf's syntax for an extension field; such a key fails to parse, known or not.
_EXTENSION_NAME = re.compile(r"\[[a-zA-Z0-9\._]*\]$")


class _Unparsable(Exception):
    """A value we refuse; `path` is filled in on the way up.

    `lenient`: protobuf's parser would have let it through (a JSON string where a message
    belongs reads as an empty message), so MLflow's type checks still count the parse a success.
    """

    def __init__(self, value: Any, *, lenient: bool = False) -> None:
        self.value = value
        self.lenient = lenient
        self.path = ""

    def within(self, segment: str) -> _Unparsable:
        if not self.path:
            self.path = segment
        elif self.path.startswith("["):
            self.path = segment + self.path
        else:
            self.path = f"{segment}.{self.path}"
        return self


def _type_hint(value: Any) -> str:
    return f" Hint: Value was of type '{type(value).__name__}'."


# ---- field kinds: how protobuf's JSON parser converts each proto type ----


class Kind:
    """A proto field type. `exact` is the Python type taken as is, without conversion."""

    exact: type | None = None
    label = "kind"

    def convert(self, value: Any) -> Any:
        raise NotImplementedError

    def parses(self, value: Any) -> bool:
        """Whether protobuf's `ParseDict` would accept the value (our `convert` may not)."""
        try:
            self.convert(value)
        except _Unparsable:
            return False
        return True

    def __repr__(self) -> str:
        return self.label


class _String(Kind):
    exact = str
    label = "string"

    def convert(self, value: Any) -> Any:
        if isinstance(value, str):
            return value
        raise _Unparsable(value)


def _proto_int(value: Any) -> int:
    # protobuf's `_ConvertInteger`: ints, integral floats, and numeric strings without spaces.
    if isinstance(value, bool):
        raise _Unparsable(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise _Unparsable(value)
        return int(value)
    if isinstance(value, str) and " " not in value:
        try:
            return int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                raise _Unparsable(value) from None
            if number.is_integer():
                return int(number)
    raise _Unparsable(value)


class _Integer(Kind):
    def __init__(self, label: str, bounds: tuple[int, int]) -> None:
        self.label = label
        self.low, self.high = bounds
        # Only int64 is taken as is: the message fast path checks int64 bounds inline.
        self.exact = int if bounds == _INT64 else None

    def convert(self, value: Any) -> Any:
        number = value if type(value) is int else _proto_int(value)
        if self.low <= number <= self.high:
            return number
        raise _Unparsable(value)


class _Double(Kind):
    exact = float
    label = "double"

    def convert(self, value: Any) -> Any:
        if type(value) is float:
            return value
        if isinstance(value, str):
            # protobuf's `_ConvertFloat`: float() also reads "NaN", "Infinity", "-Infinity";
            # only the lowercase "nan" is singled out and refused.
            if value != "nan":
                try:
                    return float(value)
                except ValueError:
                    pass
            raise _Unparsable(value)
        if isinstance(value, int):  # bool included, as in protobuf
            return float(value)
        raise _Unparsable(value)


class _Bool(Kind):
    exact = bool
    label = "bool"

    def convert(self, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        raise _Unparsable(value)


class _Enum(Kind):
    """A closed proto2 enum, read by name or number and returned by name.

    Unknown names are ignored (protobuf with `ignore_unknown_fields`); unknown numbers fail.
    """

    def __init__(self, values: Mapping[str, int]) -> None:
        self.values = dict(values)
        self.names = {number: name for name, number in values.items()}
        self.label = f"enum{sorted(values)}"

    def convert(self, value: Any) -> Any:
        try:
            if value in self.values:
                return value
            number = int(value)
        except ValueError:
            return _ABSENT
        except (TypeError, OverflowError):
            raise _Unparsable(value) from None
        name = self.names.get(number)
        if name is None:
            raise _Unparsable(value)
        return name


class _Repeated(Kind):
    def __init__(self, item: Kind) -> None:
        self.item = item
        self.label = f"repeated({item!r})"

    def convert(self, value: Any) -> Any:
        if not isinstance(value, list):
            raise _Unparsable(value)
        if isinstance(self.item, _Message):
            return self.item.convert_all(value)
        convert = self.item.convert
        try:
            # Every kind refuses None, as protobuf refuses null list elements.
            out = [convert(item) for item in value]
        except _Unparsable:
            for index, item in enumerate(value):
                try:
                    convert(item)
                except _Unparsable as err:
                    raise err.within(f"[{index}]") from None
            raise
        if isinstance(self.item, _Enum):
            out = [item for item in out if item is not _ABSENT]
        return out

    def parses(self, value: Any) -> bool:
        return isinstance(value, list) and all(
            item is not None and self.item.parses(item) for item in value
        )


def _json_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class _Message(Kind):
    """A nested proto message: a JSON object whose keys are its field names."""

    label = "message"

    def __init__(self, fields: Mapping[str, Kind]) -> None:
        self.fields = dict(fields)
        self.names = frozenset(fields)
        self.aliases = {_json_name(n): n for n in fields if _json_name(n) != n}
        self.exact_types = {name: kind.exact for name, kind in fields.items()}

    def convert(self, value: Any) -> Any:
        if type(value) is not dict:
            raise _Unparsable(value, lenient=self._reads_as_empty(value))
        if not value.keys() <= self.names:
            value = self._rename(value)
        exact = self.exact_types
        low, high = _INT64
        for name, item in value.items():
            kind = type(item)
            if kind is not exact[name] or (kind is int and not low <= item <= high):
                return self._convert_fields(value)
        # All well-typed: the decoded dict is the result, no copy (the log-batch fast path).
        return value

    def convert_all(self, values: list[Any]) -> list[Any]:
        """`convert` over a list, inlined for the common case of well-typed dicts (log-batch).

        Returns `values` itself when no element needs converting.
        """
        names, exact = self.names, self.exact_types
        low, high = _INT64
        out = values
        for index, item in enumerate(values):
            if type(item) is dict and item.keys() <= names:
                for name, field in item.items():
                    kind = type(field)
                    if kind is not exact[name] or (kind is int and not low <= field <= high):
                        break
                else:
                    continue
            try:
                converted = self.convert(item)
            except _Unparsable as err:
                raise err.within(f"[{index}]") from None
            if out is values:
                out = list(values)
            out[index] = converted
        return out

    def _convert_fields(self, value: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, item in value.items():
            if item is None:
                continue
            try:
                converted = self.fields[name].convert(item)
            except _Unparsable as err:
                raise err.within(name) from None
            if converted is not _ABSENT:
                out[name] = converted
        return out

    def _rename(self, value: dict[str, Any]) -> dict[str, Any]:
        # Unknown keys are dropped; camelCase JSON names are read as the proto field.
        self.reject_alias_conflicts(value, recurse=False)
        out = {}
        for key, item in value.items():
            if key in self.names:
                out[key] = item
            elif key in self.aliases:
                out[self.aliases[key]] = item
            elif _EXTENSION_NAME.match(key):  # protobuf: "does not have extensions"
                raise _Unparsable(item).within(key)
        return out

    def _reads_as_empty(self, value: Any) -> bool:
        # protobuf iterates a non-object as if it held field names: a string (its characters)
        # or a list of strings that name no field parse as an empty message; the rest fails.
        if not isinstance(value, (str, list)):
            return False
        return all(
            isinstance(name, str)
            and name not in self.names
            and name not in self.aliases
            and not _EXTENSION_NAME.match(name)
            for name in value
        )

    def parses(self, value: Any) -> bool:
        if not isinstance(value, dict):
            return self._reads_as_empty(value)
        for key, item in value.items():
            kind = self.fields.get(self.aliases.get(key) or key)
            if kind is None:
                if _EXTENSION_NAME.match(key):
                    return False
            elif item is not None and not kind.parses(item):
                return False
        return True

    def reject_alias_conflicts(self, value: Any, *, recurse: bool = True) -> None:
        """MLflow's `_reject_conflicting_field_aliases`: a field may not be spelt both ways."""
        if not isinstance(value, dict):
            return
        for alias, name in self.aliases.items():
            if name in value and alias in value:
                raise MlflowError(
                    "INVALID_PARAMETER_VALUE",
                    f"Request specifies both '{name}' and '{alias}'; provide only one of them.",
                )
        if not recurse:
            return
        for name, kind in self.fields.items():
            nested = kind.item if isinstance(kind, _Repeated) else kind
            if not isinstance(nested, _Message):
                continue
            item = value.get(name, value.get(_json_name(name)))
            for element in item if isinstance(item, list) else [item]:
                nested.reject_alias_conflicts(element)


STRING: Kind = _String()
INT64: Kind = _Integer("int64", _INT64)
INT32: Kind = _Integer("int32", _INT32)
DOUBLE: Kind = _Double()
BOOL: Kind = _Bool()


def enum(values: Mapping[str, int]) -> Kind:
    """A proto enum given as {name: number}; read by name (or number), returned by name."""
    return _Enum(values)


def repeated(item: Kind) -> Kind:
    """A repeated field: a JSON list (or repeated query keys) of `item`."""
    return _Repeated(item)


def message(fields: Mapping[str, Kind]) -> Kind:
    """A nested message field, declared as {field name: kind}."""
    return _Message(fields)


# ---- checks: the handler schema's `_assert_*` functions ----


class CheckFailed(Exception):
    """A check refused a value; without a message MLflow's generic one is used."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        self.message = message


Check = Callable[[Any, str], None]
"""A check receives the raw value (None when absent) and the parameter name."""


def required(value: Any, param: str) -> None:
    """`_assert_required`: present, not null and not ""."""
    if value is None or value == "":
        raise CheckFailed()


def is_string(value: Any, param: str) -> None:
    """`_assert_string`."""
    if not isinstance(value, str):
        raise CheckFailed()


def is_intlike(value: Any, param: str) -> None:
    """`_assert_intlike`: an int, or anything `int()` turns into one ("12", 1.5, true)."""
    try:
        value = int(value)
    except ValueError:
        pass
    except (TypeError, OverflowError):  # MLflow answers 500 here; we refuse the value.
        raise CheckFailed() from None
    if not isinstance(value, int):
        raise CheckFailed()


def is_floatlike(value: Any, param: str) -> None:
    """`_assert_floatlike`: anything `float()` accepts ("abc" and null are refused)."""
    try:
        value = float(value)
    except ValueError:
        pass
    except (TypeError, OverflowError):
        raise CheckFailed() from None
    if not isinstance(value, float):
        raise CheckFailed()


def is_bool(value: Any, param: str) -> None:
    """`_assert_bool`."""
    if not isinstance(value, bool):
        raise CheckFailed()


def is_array(value: Any, param: str) -> None:
    """`_assert_array`."""
    if not isinstance(value, list):
        raise CheckFailed()


def items_are_strings(value: Any, param: str) -> None:
    """`_assert_item_type_string`."""
    try:
        if all(isinstance(item, str) for item in value):
            return
    except TypeError:
        pass
    raise CheckFailed()


TYPE_CHECKS: frozenset[Check] = frozenset(
    {is_string, is_intlike, is_floatlike, is_bool, is_array, items_are_strings}
)
"""The checks MLflow skips when the proto parsed (`_TYPE_VALIDATORS`)."""


def at_most(limit: int) -> Check:
    """The handlers' `lambda x: _assert_less_than_or_equal(int(x), limit)` for max_results."""

    def check(value: Any, param: str) -> None:
        if value is None:
            return
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):
            try:
                number = _proto_int(value)
            except _Unparsable:
                raise CheckFailed() from None
        if number > limit:
            raise CheckFailed()

    return check


def items_require(*fields: str) -> Check:
    """log-batch's `_assert_*_fields_present`: each element has the fields (`metrics[0].key`)."""

    def check(value: Any, param: str) -> None:
        if not isinstance(value, list):
            return
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise CheckFailed(invalid_value(f"{param}[{index}]", item, _type_hint(item)))
            for field in fields:
                present = item.get(field)
                if present is None or present == "":
                    raise CheckFailed(missing_value(f"{param}[{index}].{field}"))

    return check


# ---- schemas and reading ----


class RequestSchema:
    """An endpoint's request: proto fields with their kinds, and MLflow's checks per field."""

    def __init__(
        self,
        fields: Mapping[str, Kind],
        checks: Mapping[str, Sequence[Check]] | None = None,
    ) -> None:
        self.fields = dict(fields)
        self.checks = [(name, tuple(fns), required in fns) for name, fns in (checks or {}).items()]
        self._message = _Message(fields)
        self._run_uuid_fallback = "run_id" in fields and "run_uuid" in fields

    def read(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Convert and check an already decoded request (a JSON object or query fields)."""
        failure: _Unparsable | None = None
        parsed = True
        try:
            out = self._message.convert(raw)
        except _Unparsable as err:
            failure = err
            self._message.reject_alias_conflicts(raw)
            parsed = err.lenient and self._message.parses(raw)
        self._check(raw, parsed=parsed)
        if failure is not None:
            raise MlflowError(
                "INVALID_PARAMETER_VALUE",
                invalid_value(failure.path, failure.value, _type_hint(failure.value)) + _API_DOCS,
            )
        if out is raw:
            out = dict(raw)
        if self._run_uuid_fallback and not out.get("run_id") and out.get("run_uuid"):
            out["run_id"] = out["run_uuid"]
        return out

    def _check(self, raw: dict[str, Any], *, parsed: bool) -> None:
        # `_validate_request_json_with_schema` and `_validate_param_against_schema`.
        for name, fns, is_required in self.checks:
            if name not in raw and not is_required:
                continue
            value = raw.get(name)
            if name == "run_id" and value is None and "run_uuid" in raw:
                value = raw.get("run_uuid")
            for fn in fns:
                if parsed and fn in TYPE_CHECKS:
                    continue
                try:
                    fn(value, name)
                except CheckFailed as err:
                    if err.message:
                        text = err.message
                    elif fn is required:
                        text = missing_value(name)
                    else:
                        text = invalid_value(name, value, _type_hint(value))
                    raise MlflowError("INVALID_PARAMETER_VALUE", text + _API_DOCS) from None


def query_fields(params: QueryParams, schema: RequestSchema) -> dict[str, Any]:
    """The proto fields of a query string, as MLflow's GET branch collects them."""
    raw: dict[str, Any] = {}
    for name, kind in schema.fields.items():
        if name not in params:
            continue
        values = params.getlist(name)
        if isinstance(kind, _Repeated):
            raw[name] = values
            continue
        value = values[0]
        if kind is BOOL:
            lowered = value.lower()
            if lowered not in ("true", "false"):
                raise MlflowError(
                    "INVALID_PARAMETER_VALUE",
                    f"Invalid boolean value: {value}, must be 'true' or 'false'.",
                )
            raw[name] = lowered == "true"
        else:
            raw[name] = value
    return raw


_JSON_TYPE_NAMES = {list: "an array", str: "a string", bool: "a boolean", int: "a number"}


def decode_body(body: bytes) -> dict[str, Any]:
    """A JSON request body as a dict: empty or `null` is {}, a JSON string is decoded again."""
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    if not body or body.isspace():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", f"Bad Request. The request body is not valid JSON: {err}"
        ) from None
    if isinstance(value, str):  # older clients double-encode their JSON
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as err:
            raise MlflowError(
                "INVALID_PARAMETER_VALUE",
                f"Bad Request. The request body is a JSON string but not encoded JSON: {err}",
            ) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        kind = _JSON_TYPE_NAMES.get(type(value), "a number")
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"Bad Request. The request body must be a JSON object, not {kind}.",
        )
    return value


def check_content_type(content_type: str | None) -> None:
    """MLflow's `_validate_content_type` for POST and PUT (parameters after ';' are ignored)."""
    if content_type is None:
        raise MlflowError("INVALID_PARAMETER_VALUE", "Bad Request. Content-Type header is missing.")
    if content_type.split(";")[0] != "application/json":
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            "Bad Request. Content-Type must be one of ['application/json'].",
        )


async def request_fields(request: Request, schema: RequestSchema) -> dict[str, Any]:
    """An MLflow API request's fields as sent (its query or its JSON body), before
    `RequestSchema.read` converts and checks them; raises `MlflowError` for a body MLflow would
    not read."""
    method = request.method
    params = request.query_params
    if params and method in ("GET", "HEAD"):
        return query_fields(params, schema)
    body = await request.body()
    if params and method not in ("POST", "PUT", "PATCH") and (not body or body.isspace()):
        return query_fields(params, schema)
    if method in ("POST", "PUT"):
        check_content_type(request.headers.get("content-type"))
    return decode_body(body)


async def read_request(request: Request, schema: RequestSchema) -> dict[str, Any]:
    """Read, convert and check an MLflow API request; raises `MlflowError` like MLflow would."""
    return schema.read(await request_fields(request, schema))
