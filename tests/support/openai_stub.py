"""A local OpenAI-compatible server for tests: scripted chat completions (plain, streamed, tool calls, errors).

Start it with ``async with OpenAIStub() as stub:`` (uvicorn on 127.0.0.1, a free port) and point a model at
``stub.base_url``. Each model name has a queue of scripted :class:`Reply` objects; when a model's queue is
empty it answers ``default_content`` (or echoes the last user message). ``stub.requests`` records every
request body, so tests can count attempts per model. Usage is deterministic: 10 prompt tokens per message,
one completion token per whitespace-separated word (or per tool call), unless the reply turns usage off.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # [{"name": ..., "arguments": {...}}]
    usage: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (to trigger client timeouts)
    break_after: int | None = None  # streaming: drop the connection after this many content chunks


class OpenAIStub:
    def __init__(self, default_content: str | None = None) -> None:
        self.default_content = default_content
        self.scripts: dict[str, list[Reply]] = {}
        self.failing: dict[str, int] = {}
        self.requests: list[dict[str, Any]] = []
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    # -- scripting ----------------------------------------------------------------------------------------

    def script(self, model: str, *replies: Reply) -> None:
        self.scripts.setdefault(model, []).extend(replies)

    def fail_always(self, model: str, status: int = 500) -> None:
        self.failing[model] = status

    def calls(self, model: str) -> int:
        return sum(1 for r in self.requests if r.get("model") == model)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def env(self, **models: str) -> dict[str, str]:
        """Server environment making this stub the model provider (system layer settings), without retries;
        ``models`` name the models by role (``default_model="m"``, ``smart_model="w"``)."""
        return {
            "CLEW_SETTING__LLM__PROVIDER": "openai",
            "CLEW_SETTING__LLM__BASE_URL": self.base_url,
            **{f"CLEW_SETTING__LLM__{role.upper()}": name for role, name in models.items()},
            "CLEW_SETTING__LLM__MAX_RETRIES": "0",
        }

    # -- server -------------------------------------------------------------------------------------------

    async def __aenter__(self) -> OpenAIStub:
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            ]
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        await self._task

    # -- handlers -----------------------------------------------------------------------------------------

    def _next(self, model: str, body: dict[str, Any]) -> Reply:
        if model in self.failing:
            return Reply(status=self.failing[model])
        queue = self.scripts.get(model)
        if queue:
            return queue.pop(0)
        if self.default_content is not None:
            return Reply(content=self.default_content)
        last = next((m for m in reversed(body.get("messages", [])) if m.get("role") == "user"), {})
        text = last.get("content")
        return Reply(content=f"stub reply: {text if isinstance(text, str) else json.dumps(text)}")

    @staticmethod
    def _usage(body: dict[str, Any], reply: Reply) -> dict[str, int]:
        prompt = 10 * len(body.get("messages", []))
        completion = len(reply.content.split()) + len(reply.tool_calls)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        model = str(body.get("model", ""))
        reply = self._next(model, body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            return JSONResponse(
                {
                    "error": {
                        "message": f"scripted {reply.status}",
                        "type": "stub_error",
                        "code": reply.status,
                    }
                },
                status_code=reply.status,
                headers=reply.headers,
            )
        tool_calls = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments", {}))},
            }
            for i, c in enumerate(reply.tool_calls)
        ]
        finish = "tool_calls" if tool_calls else "stop"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and reply.usage
            return StreamingResponse(
                self._stream(model, body, reply, tool_calls, finish, include_usage),
                media_type="text/event-stream",
            )
        message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
        if tool_calls:
            message["tool_calls"] = tool_calls
        payload: dict[str, Any] = {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": 1700000000,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }
        if reply.usage:
            payload["usage"] = self._usage(body, reply)
        return JSONResponse(payload)

    async def _stream(
        self,
        model: str,
        body: dict[str, Any],
        reply: Reply,
        tool_calls: list[dict[str, Any]],
        finish: str,
        include_usage: bool,
    ) -> AsyncIterator[str]:
        def chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> str:
            data = {
                "id": "chatcmpl-stub",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
                **extra,
            }
            return f"data: {json.dumps(data)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        words = reply.content.split(" ") if reply.content else []
        for i, word in enumerate(words):
            if reply.break_after is not None and i >= reply.break_after:
                raise ConnectionAbortedError("scripted broken stream")
            yield chunk({"content": word if i == 0 else " " + word})
        for i, call in enumerate(tool_calls):
            yield chunk({"tool_calls": [{"index": i, **call}]})
        yield chunk({}, finish)
        if include_usage:
            data = {
                "id": "chatcmpl-stub",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": model,
                "choices": [],
                "usage": self._usage(body, reply),
            }
            yield f"data: {json.dumps(data)}\n\n"
        yield "data: [DONE]\n\n"

    async def _embeddings(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        inputs = body.get("input")
        texts = inputs if isinstance(inputs, list) else [inputs]
        data = []
        for i, text in enumerate(texts):
            digest = hashlib.sha256(str(text).encode()).digest()
            vector = [b / 255 for b in digest[:8]]
            if body.get("encoding_format") == "base64":
                encoded: Any = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            else:
                encoded = vector
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        n = sum(len(str(t).split()) for t in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": n, "total_tokens": n},
            }
        )
