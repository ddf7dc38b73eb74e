"""A run's graph stream turned into its stored events, in the stream modes the client asked for.

LangGraph's ``(namespace, mode, chunk)`` stream is mapped to the Agent Server's events: ``messages`` as
``messages/metadata`` + ``messages/partial`` | ``messages/complete`` (``messages-tuple`` as LangGraph's pairs),
``debug`` with the reference server's checkpoint ids, ``events`` from ``astream_events``, a subgraph's events
as ``<mode>|<namespace>`` when asked for. clew's own named custom events (interrupt, todo) are always sent.
Every event goes through the run's :class:`engine.events.EventWriter` (fenced, batched).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessageChunk, message_chunk_to_message

if TYPE_CHECKING:
    from engine.events import EventWriter
    from engine.execution import Execution
    from engine.runtime import Runtime

STREAM_MODES = {"values", "updates", "messages", "messages-tuple", "custom", "debug", "tasks", "checkpoints", "events"}

# Custom stream chunks shaped ``{"event": <name>, "data": …}`` with one of these names are clew's own SSE events
# (human-in-the-loop, see engine/interrupts.py and nodes/todos.py): always sent as ``event: <name>`` with
# ``data``, whatever the stream modes; the whole chunk is also sent as ``custom`` when that mode was requested.
NAMED_CUSTOM_EVENTS = frozenset({"interrupt", "todo"})


def _event_name(mode: str, ns: tuple[str, ...]) -> str:
    return mode if not ns else mode + "|" + "|".join(ns)


def _note_final(execution: Execution, ns: tuple[str, ...], mode: str, chunk: Any) -> None:
    """Track the root `values` chunks and any interrupt, for the final state (see execute)."""
    if execution.saw_interrupt:
        return
    if isinstance(chunk, dict) and "__interrupt__" in chunk:
        execution.saw_interrupt = True
        execution.streamed_final = None
    elif mode == "values" and not ns:
        execution.streamed_final = chunk


async def stream_run(
    runtime: Runtime, execution: Execution, graph: Any, stream_input: Any, config: dict[str, Any], writer: EventWriter
) -> None:
    run = execution.run
    kwargs = run["kwargs"]
    requested = list(kwargs.get("stream_mode") or ["values"])
    subgraphs = bool(kwargs.get("stream_subgraphs"))
    to_lg = {"messages-tuple": "messages"}
    lg_modes = sorted({to_lg.get(m, m) for m in requested if m != "events"} | {"custom"})
    names = {to_lg.get(m, m): ("messages" if m in ("messages-tuple", "messages") else m) for m in requested}
    context = execution.context
    extra: dict[str, Any] = {}
    if kwargs.get("interrupt_before"):
        extra["interrupt_before"] = kwargs["interrupt_before"]
    if kwargs.get("interrupt_after"):
        extra["interrupt_after"] = kwargs["interrupt_after"]
    # A step's checkpoint must be durable before the next step starts (LangGraph's "async" mode starts it while
    # the write is in flight, so a write lost with the connection would let finished nodes run again, and a
    # lost lease would only be noticed after the next node started): "async" runs as "sync". "exit" (the
    # client asked for no checkpoints during the run) stays: such a run starts over after a crash.
    extra["durability"] = "exit" if kwargs.get("durability") == "exit" else "sync"
    if (extra.get("interrupt_before") or extra.get("interrupt_after") or getattr(graph, "interrupt_before_nodes", None)
            or getattr(graph, "interrupt_after_nodes", None)):
        execution.saw_interrupt = True  # a static interrupt may stop the graph: read the final state
    partials: dict[str, Any] = {}  # the `messages` mode's messages so far, by id
    async for ns, mode, chunk in _chunks(graph, stream_input, config, context, lg_modes, extra,
                                         "events" in requested, writer):
        _note_final(execution, ns, mode, chunk)
        if mode == "custom":
            if isinstance(chunk, dict) and chunk.get("event") in NAMED_CUSTOM_EVENTS and "data" in chunk:
                writer.add(chunk["event"], chunk["data"])
            if "custom" not in names:
                continue
        if ns and not subgraphs:
            continue
        if mode == "messages":
            message, meta = chunk
            if "messages-tuple" in requested:
                writer.add(_event_name("messages", ns), [message, meta])
            if "messages" in requested:
                for name, data in messages_events(partials, message, meta):
                    writer.add(_event_name(name, ns), data)
        elif mode == "debug":
            writer.add(_event_name("debug", ns), debug_event(chunk))
        else:
            writer.add(_event_name(names.get(mode, mode), ns), chunk)


def messages_events(partials: dict[str, Any], message: Any, meta: Any) -> list[tuple[str, Any]]:
    """The ``messages`` stream mode from LangGraph's ``(message, metadata)`` pairs, as the reference server
    sends it: ``messages/metadata`` ``{id: {"metadata": …}}`` the first time a message id is seen, then
    ``messages/partial`` ``[message so far]`` for each streamed chunk (accumulated in ``partials``), or
    ``messages/complete`` ``[message]`` for a message that arrives whole."""
    out: list[tuple[str, Any]] = []
    ident = getattr(message, "id", None) or ""
    if ident not in partials:
        out.append(("messages/metadata", {ident: {"metadata": meta}}))
        partials[ident] = None
    if isinstance(message, BaseMessageChunk):
        partials[ident] = message if partials[ident] is None else partials[ident] + message
        out.append(("messages/partial", [message_chunk_to_message(partials[ident])]))
    else:
        out.append(("messages/complete", [message]))
    return out


def debug_event(chunk: Any) -> Any:
    """LangGraph's debug chunk with, on ``checkpoint`` events, the ``checkpoint`` / ``parent_checkpoint`` ids the
    reference server adds (and clew's own configurable keys left out)."""
    if not isinstance(chunk, dict) or chunk.get("type") != "checkpoint" or not isinstance(chunk.get("payload"), dict):
        return chunk
    payload = dict(chunk["payload"])
    for key, ref in (("config", "checkpoint"), ("parent_config", "parent_checkpoint")):
        conf = (payload.get(key) or {}).get("configurable") if isinstance(payload.get(key), dict) else None
        if conf is None:
            payload.setdefault(ref, None)
            continue
        conf = {k: v for k, v in conf.items() if k != "clew_fencing_token"}
        payload[key] = {**payload[key], "configurable": conf}
        payload[ref] = {"checkpoint_id": conf.get("checkpoint_id"), "thread_id": conf.get("thread_id"),
                        "checkpoint_ns": conf.get("checkpoint_ns", "")}
    return {**chunk, "payload": payload}


async def _chunks(
    graph: Any, stream_input: Any, config: dict[str, Any], context: Any, modes: list[str], extra: dict[str, Any],
    with_events: bool, writer: EventWriter,
) -> AsyncIterator[tuple[tuple[str, ...], str, Any]]:
    """The graph's ``(namespace, mode, chunk)`` stream; with the ``events`` mode, taken from ``astream_events``
    (which runs the same ``astream`` underneath: the root's ``on_chain_stream`` events carry its chunks), so
    a client asking for events and other modes together gets both from one execution."""
    if not with_events:
        async for item in graph.astream(stream_input, config, context=context, stream_mode=modes,
                                        subgraphs=True, **extra):
            yield item
        return
    async for ev in graph.astream_events(stream_input, config, version="v2", context=context, stream_mode=modes,
                                         subgraphs=True, **extra):
        writer.add("events", ev)
        if ev.get("event") == "on_chain_stream" and not ev.get("parent_ids"):
            chunk = ev.get("data", {}).get("chunk")
            if isinstance(chunk, tuple) and len(chunk) == 3:
                yield chunk
