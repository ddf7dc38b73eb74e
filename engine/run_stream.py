"""A run's graph stream turned into its stored events, in the stream modes the client asked for.

LangGraph's ``(namespace, mode, chunk)`` stream is mapped to the Agent Server's events: ``messages`` as
``messages/metadata`` + ``messages/partial`` | ``messages/complete`` (``messages-tuple`` as LangGraph's pairs),
``debug`` with the reference server's checkpoint ids, ``events`` from ``astream_events``, a subgraph's events
as ``<mode>|<namespace>`` when asked for. clew's own named custom events (interrupt, todo) are always sent.
Every event goes through the run's :class:`engine.events.EventWriter` (fenced, batched).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessageChunk, message_chunk_to_message

try:  # LangGraph's own keys for a parent's stream and runtime (see _named_event_sink)
    from langgraph._internal._constants import CONFIG_KEY_RUNTIME, CONFIG_KEY_STREAM
    from langgraph.pregel.protocol import StreamProtocol
    from langgraph.runtime import Runtime
except ImportError:  # pragma: no cover - another LangGraph layout: always stream the named events as `custom`
    CONFIG_KEY_RUNTIME = CONFIG_KEY_STREAM = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from engine.events import EventWriter
    from engine.execution import Execution
    from engine.runtime import Runtime

STREAM_MODES = {"values", "updates", "messages", "messages-tuple", "custom", "debug", "tasks", "checkpoints", "events"}

# Custom stream chunks shaped ``{"event": <name>, "data": …}`` with one of these names are clew's own SSE events
# (human-in-the-loop, see engine/interrupts.py and nodes/todos.py): always sent as ``event: <name>`` with
# ``data``, whatever the stream modes; the whole chunk is also sent as ``custom`` when that mode was requested.
NAMED_CUSTOM_EVENTS = frozenset({"interrupt", "todo"})

# Modes whose chunks LangGraph produces only at step and task boundaries. Asking LangGraph for `custom` (or for
# subgraphs) makes it stream concurrently: every step's tasks run as asyncio tasks next to a waiter task woken by
# each chunk, instead of a step's single task running inline — about a quarter of LangGraph's CPU for a
# ten-node chain (1.1 of 4.3 ms per run, in process). When the client asked only for these modes, the named
# custom events are taken from the nodes' stream writer directly instead (see _named_event_sink).
BOUNDARY_MODES = frozenset({"values", "updates", "debug", "tasks", "checkpoints"})


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
    graph_config, lg_subgraphs = config, True
    if not subgraphs and CONFIG_KEY_STREAM is not None and set(requested) <= BOUNDARY_MODES:
        lg_modes = sorted(set(lg_modes) - {"custom"})
        lg_subgraphs = False
        graph_config = {**config, "configurable": {
            **config["configurable"],
            CONFIG_KEY_STREAM: StreamProtocol(_drop, set()),
            # with a parent runtime given, LangGraph takes the run's store from it, not from the graph
            CONFIG_KEY_RUNTIME: Runtime(store=getattr(graph, "store", None), stream_writer=_named_event_sink(writer)),
        }}
    partials: dict[str, Any] = {}  # the `messages` mode's messages so far, by id
    async for ns, mode, chunk in _chunks(graph, stream_input, graph_config, context, lg_modes, extra,
                                         "events" in requested, writer, lg_subgraphs):
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


def _drop(_chunk: Any) -> None:
    return None


def _named_event_sink(writer: EventWriter) -> Callable[[Any], None]:
    """The stream writer the nodes of a run get (``get_stream_writer()``) when LangGraph is not asked for
    `custom` chunks: clew's named events go to the run's event log at once, everything else is dropped (no one
    asked for it). Handed to LangGraph as a parent graph's runtime and stream (the keys a subgraph inherits its
    writer through), so nodes of subgraphs and graphs invoked inside nodes reach it too.

    Ordering is the one the `custom` mode gave: LangGraph hands the chunks of a step (its `values`, a task's
    `updates`) over before the next step's tasks start, and a node's named event is written when the node
    emits it, before its own task's chunks. A node running in a thread (a sync node) hands its events to the
    event loop, as LangGraph's own writer does."""
    loop = asyncio.get_running_loop()
    owner = threading.get_ident()

    def emit(chunk: Any) -> None:
        if not (isinstance(chunk, dict) and chunk.get("event") in NAMED_CUSTOM_EVENTS and "data" in chunk):
            return
        if threading.get_ident() == owner:
            writer.add(chunk["event"], chunk["data"])
        else:
            loop.call_soon_threadsafe(writer.add, chunk["event"], chunk["data"])

    return emit


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
    with_events: bool, writer: EventWriter, subgraphs: bool = True,
) -> AsyncIterator[tuple[tuple[str, ...], str, Any]]:
    """The graph's ``(namespace, mode, chunk)`` stream; with the ``events`` mode, taken from ``astream_events``
    (which runs the same ``astream`` underneath: the root's ``on_chain_stream`` events carry its chunks), so
    a client asking for events and other modes together gets both from one execution."""
    if not with_events:
        async for item in graph.astream(stream_input, config, context=context, stream_mode=modes,
                                        subgraphs=subgraphs, **extra):
            yield item if subgraphs else ((), *item)
        return
    async for ev in graph.astream_events(stream_input, config, version="v2", context=context, stream_mode=modes,
                                         subgraphs=True, **extra):
        writer.add("events", ev)
        if ev.get("event") == "on_chain_stream" and not ev.get("parent_ids"):
            chunk = ev.get("data", {}).get("chunk")
            if isinstance(chunk, tuple) and len(chunk) == 3:
                yield chunk
