"""Node code of the content pipeline (``graphs/content_pipeline.py``): its state, the actions of its human
decisions, its events, and one module per stage (topics, research, writing, styling, review) holding the
stage's work and its nodes; :func:`chat_model` is how its nodes get a model."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any


async def chat_model(values: Mapping[str, Any] | None, role: str) -> Any:
    """The chat model of ``role`` (None: the offline engine), built in a thread.

    The first build in a process imports the provider's client library, which takes seconds on a busy
    machine: done on the event loop it would starve the run's lease heartbeat and get the run taken over.
    """
    from providers.models import get_model

    return await asyncio.to_thread(get_model, values, role)  # type: ignore[arg-type]
