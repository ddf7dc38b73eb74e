"""Request bodies of the Agent Server protocol routes (Pydantic v2).

Every field the official SDKs send is declared, and an unknown field is a 422 naming it (the reference server
ignores unknown fields, so a misspelt filter silently matches everything; see docs/protocol.md). Fields clew
accepts but does not act on (``webhook``, ``feedback_keys``, ``langsmith_tracer``, ``strict_resume``) are said
so on each. Known fields are validated strictly and a bad value is a 422 naming the field.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from domain.values import Label, Metadata, StoreKey
from engine.run_models import CommandBody

MAX_OFFSET = 2**63 - 1
_PATH = re.compile(r"[A-Za-z_][\w-]*(\[-?\d+\])*(\.[A-Za-z_][\w-]*(\[-?\d+\])*)*")  # Postgres OFFSET is a bigint: larger values would fail in the database


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"{what} {value!r}: must be a UUID") from None


class SuperstepUpdate(_Body):
    values: Any = None
    command: CommandBody | None = None
    as_node: str = Field(min_length=1)


class Superstep(_Body):
    """One super-step of a thread's pre-filled history: updates applied together (``bulk_update_state``)."""

    updates: list[SuperstepUpdate] = Field(min_length=1)


class ThreadCreate(_Body):
    thread_id: str | None = None
    metadata: Metadata | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    supersteps: list[Superstep] | None = None
    ttl: Any = None  # accepted, not acted on: clew keeps threads until deleted
    config: dict[str, Any] | None = None  # clew: the session configuration layer

    @field_validator("thread_id")
    @classmethod
    def _thread(cls, v: str | None) -> str | None:
        return None if v is None else _uuid(v, "thread_id")


class ThreadPatch(_Body):
    metadata: Metadata = Field(default_factory=dict)
    ttl: Any = None  # accepted, not acted on


ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
ThreadField = Literal["thread_id", "created_at", "updated_at", "metadata", "config", "status", "values",
                      "interrupts", "error"]


class ThreadSearch(_Body):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatus | None = None
    ids: list[str] | None = None
    limit: StrictInt = Field(default=10, ge=1, le=1000)
    offset: StrictInt = Field(default=0, ge=0, le=MAX_OFFSET)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at"] = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"
    select: list[ThreadField] | None = None
    # alias -> path into the thread ("values.messages[-1].content"), answered in each thread's `extracted`
    extract: dict[str, str] | None = Field(default=None, max_length=10)

    @field_validator("extract")
    @classmethod
    def _paths(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for alias, path in (v or {}).items():
            if not _PATH.fullmatch(path):
                raise ValueError(f"extract.{alias}: {path!r} is not a path like 'values.messages[-1].content'")
        return v

    @field_validator("ids")
    @classmethod
    def _uuids(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [_uuid(i, "thread id") for i in v]


class ThreadCount(_Body):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatus | None = None


class StateAtCheckpoint(_Body):
    checkpoint: dict[str, Any] = Field(default_factory=dict)
    subgraphs: bool = False


class StateUpdate(_Body):
    values: Any = None
    as_node: str | None = None
    checkpoint_id: str | None = None
    checkpoint: dict[str, Any] | None = None


class HistoryQuery(_Body):
    limit: StrictInt = Field(default=10, ge=1, le=1000)
    before: str | dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None


class AssistantCreate(_Body):
    graph_id: str = Field(min_length=1)
    assistant_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: Metadata | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    name: str | None = None
    description: str | None = None


class AssistantPatch(_Body):
    graph_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: Metadata | None = None
    name: str | None = None
    description: str | None = None


class AssistantSearch(_Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: StrictInt = Field(default=10, ge=1, le=1000)
    offset: StrictInt = Field(default=0, ge=0, le=MAX_OFFSET)
    sort_by: Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"] = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"
    select: list[Literal["assistant_id", "graph_id", "name", "description", "config", "context", "metadata",
                         "version", "created_at", "updated_at"]] | None = None


class AssistantCount(_Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None


class AssistantVersions(_Body):
    metadata: dict[str, Any] | None = None
    limit: StrictInt = Field(default=10, ge=1, le=1000)
    offset: StrictInt = Field(default=0, ge=0, le=MAX_OFFSET)


class AssistantLatest(_Body):
    version: StrictInt = Field(ge=1)


class StorePut(_Body):
    namespace: list[Label] = Field(min_length=1)
    key: StoreKey = Field(min_length=1)
    value: dict[str, Any]
    index: Literal[False] | list[str] | None = None
    ttl: float | None = Field(default=None, gt=0, le=10**9)  # minutes (LangGraph BaseStore)


class StoreDelete(_Body):
    namespace: list[Label] = Field(min_length=1)
    key: StoreKey = Field(min_length=1)


class StoreSearch(_Body):
    namespace_prefix: list[str] = Field(default_factory=list)
    filter: dict[str, Any] | None = None
    limit: StrictInt = Field(default=10, ge=1, le=1000)
    offset: StrictInt = Field(default=0, ge=0, le=MAX_OFFSET)
    query: str | None = None
    refresh_ttl: bool | None = None


class StoreNamespaces(_Body):
    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: StrictInt | None = Field(default=None, ge=1)
    limit: StrictInt = Field(default=100, ge=1, le=1000)
    offset: StrictInt = Field(default=0, ge=0, le=MAX_OFFSET)


class RunsCancel(_Body):
    """``POST /runs/cancel``: runs by id (on one thread, or wherever they are), or every run in a status."""

    thread_id: str | None = None
    run_ids: list[str] | None = None
    status: Literal["pending", "running", "all"] | None = None

    @field_validator("thread_id")
    @classmethod
    def _thread(cls, v: str | None) -> str | None:
        return None if v is None else _uuid(v, "thread_id")

    @field_validator("run_ids")
    @classmethod
    def _runs(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [_uuid(i, "run id") for i in v]
