"""Pydantic models of every request's params (PROTOCOL.md). Strict: unknown fields, wrong types and
bad names are InvalidParams naming the field; ``null`` for an optional field means "left out"."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator
from pydantic import ValidationError as PydanticValidationError

from groundhog.errors import InvalidParams
from groundhog.names import validate_name


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False, strict=True)  # camelCase only

    @model_validator(mode="before")
    @classmethod
    def _null_means_absent(cls, data: Any) -> Any:
        """``null`` for a field of the model means "left out"; an unknown field stays unknown
        (and is refused) whatever its value."""
        if isinstance(data, dict):
            known = {field.alias or name for name, field in cls.model_fields.items()}
            return {key: value for key, value in data.items() if value is not None or key not in known}
        return data


def _name(value: str, field: str) -> str:
    return validate_name(value, field)


class Empty(Params):
    pass


class ContextScoped(Params):
    context: StrictStr | None = None

    @model_validator(mode="after")
    def _check_context(self) -> ContextScoped:
        if self.context is not None:
            _name(self.context, "context")
        return self


class Named(Params):
    name: StrictStr

    @model_validator(mode="after")
    def _check_name(self) -> Named:
        _name(self.name, "name")
        return self


class CreateFrom(Params):
    context: StrictStr | None = None
    version: StrictInt | None = None
    snapshot_id: StrictStr | None = Field(None, alias="snapshotId")

    @model_validator(mode="after")
    def _check(self) -> CreateFrom:
        if self.context is not None:
            _name(self.context, "from.context")
        if self.version is not None and self.snapshot_id is not None:
            raise InvalidParams("Give 'from.version' or 'from.snapshotId', not both.", field="from")
        return self


class CreateParams(Named):
    from_: CreateFrom | None = Field(None, alias="from")
    activate: StrictBool = False
    metadata: dict[str, Any] | None = None


class SwitchParams(Named):
    create: StrictBool = False


class GetParams(ContextScoped):
    version: StrictInt | None = None
    keys: list[StrictStr] | None = None


class UpdateParams(ContextScoped):
    base_version: StrictInt | None = Field(None, alias="baseVersion")
    set: dict[str, Any] | None = None
    remove: list[StrictStr] | None = None
    patch: list[Any] | None = None
    metadata: dict[str, Any] | None = None
    on_conflict: Literal["merge", "fail", "overwrite"] = Field("merge", alias="onConflict")


class SnapshotParams(ContextScoped):
    label: StrictStr | None = None
    metadata: dict[str, Any] | None = None


class DeleteSnapshotParams(ContextScoped):
    snapshot_id: StrictStr = Field(alias="snapshotId")


class RollbackParams(ContextScoped):
    to_version: StrictInt | None = Field(None, alias="toVersion")
    snapshot_id: StrictStr | None = Field(None, alias="snapshotId")
    dry_run: StrictBool = Field(False, alias="dryRun")

    @model_validator(mode="after")
    def _exactly_one(self) -> RollbackParams:
        if (self.to_version is None) == (self.snapshot_id is None):
            raise InvalidParams("Give exactly one of 'toVersion' and 'snapshotId'.", field="toVersion")
        return self


class HistoryParams(ContextScoped):
    limit: StrictInt = Field(50, ge=1, le=10_000)
    before_version: StrictInt | None = Field(None, alias="beforeVersion")


class DiffParams(ContextScoped):
    from_version: StrictInt = Field(alias="fromVersion")
    to_version: StrictInt | None = Field(None, alias="toVersion")


class ResumeParams(Params):
    """The agents' ``resume`` (MCP.md)."""

    since_version: StrictInt | None = Field(None, alias="sinceVersion", ge=0, le=2**63 - 1)


class EditorChangeParams(Params):
    """`context/didChangeEditor` (lenient about extra fields: editors may send more)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=False, strict=False)
    active_uri: StrictStr | None = Field(None, alias="activeUri")
    selections: list[dict[str, Any]] | None = None


# Deeper params are refused: anything stored must still fit in a response (orjson serializes at
# most ~254 levels and a result wraps a value in a few more), and copies of it must not hit Python's
# recursion limit.
MAX_DEPTH = 200


def parse(model: type[Params], raw: object) -> Any:
    """Validate ``raw`` params into ``model``; every failure is InvalidParams naming the field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidParams("The params must be a JSON object.", field="params")
    too_deep = _too_deep(raw, MAX_DEPTH)
    if too_deep is not None:
        raise InvalidParams(
            f"The field {too_deep!r} is nested more than {MAX_DEPTH} levels deep.", field=too_deep
        )
    try:
        return model.model_validate(raw)
    except PydanticValidationError as error:
        raise _invalid(error) from None


def _too_deep(params: dict[str, Any], limit: int) -> str | None:
    """The top-level field whose value nests containers deeper than ``limit`` (params = level 1)."""
    for key, value in params.items():
        stack: list[tuple[Any, int]] = [(value, 2)]
        while stack:
            node, depth = stack.pop()
            if isinstance(node, dict | list):
                if depth > limit:
                    return str(key)
                children = node.values() if isinstance(node, dict) else node
                stack.extend((child, depth + 1) for child in children)
    return None


def _invalid(error: PydanticValidationError) -> InvalidParams:
    first = error.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "params"
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, InvalidParams):
        return cause
    kind = first["type"]
    if kind == "extra_forbidden":
        return InvalidParams(f"Unknown field {field!r}.", field=field)
    if kind == "missing":
        return InvalidParams(f"The field {field!r} is required.", field=field)
    return InvalidParams(f"The field {field!r} is invalid: {first['msg']}.", field=field)
