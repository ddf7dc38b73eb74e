"""The run-creation request: :class:`RunCreate` (with its :class:`CommandBody`), the engine's input.

The HTTP routes parse it from a request body (``api/schemas.py`` re-exports it with the protocol's other
bodies); the research service and the todo pipeline build one. Every field the official SDKs send is declared,
and an unknown field is refused (a 422 naming it over HTTP); fields clew accepts but does not act on are said
so on each.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.values import Metadata
from engine.run_stream import STREAM_MODES

MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CommandBody(_Model):
    resume: Any = None
    update: Any = None
    goto: Any = None


class RunCreate(_Model):
    assistant_id: str = Field(min_length=1)
    input: Any = None
    command: CommandBody | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: Metadata | None = None
    stream_mode: list[str] | str = Field(default_factory=lambda: ["values"])
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    multitask_strategy: MultitaskStrategy = "enqueue"
    if_not_exists: Literal["create", "reject"] = "reject"
    on_disconnect: Literal["cancel", "continue"] | None = None
    on_completion: Literal["delete", "keep"] | None = None
    checkpoint_id: str | None = None
    checkpoint: dict[str, Any] | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    checkpoint_during: bool | None = None
    after_seconds: float | None = Field(default=None, ge=0, le=86400)
    # sent by the SDKs; accepted and not acted on (no webhooks, no LangSmith feedback or tracing from clew)
    webhook: str | None = None
    feedback_keys: list[str] | None = None
    langsmith_tracer: dict[str, Any] | None = None
    strict_resume: bool | None = None

    @field_validator("stream_mode")
    @classmethod
    def _modes(cls, v: list[str] | str) -> list[str]:
        modes = [v] if isinstance(v, str) else list(v)
        for m in modes:
            if m not in STREAM_MODES:
                raise ValueError(f"unknown stream mode {m!r}; expected one of {sorted(STREAM_MODES)}")
        return modes or ["values"]
