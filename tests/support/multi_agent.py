"""Scripted models for multi-agent research tests: a local OpenAI-compatible stub answering by role.

:class:`TeamStub` is :class:`tests.support.openai_stub.OpenAIStub` that tells the roles apart by their system prompts
(editor, researcher, reviewer, reviser, writer) and the section by the ``Section:`` line of the prompt, answers
each request through ``handlers[role](body)`` (a string, a :class:`Reply`, or a coroutine of one -- a handler
may wait, e.g. to hold one section while the worker is killed), and logs ``(role, section)`` per call so tests
count the model calls of each section.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

from tests.support.openai_stub import OpenAIStub, Reply

ROLES = {
    "You are the editor": "editor",
    "You are the researcher": "researcher",
    "You are the reviewer": "reviewer",
    "You are the reviser": "reviser",
    "You are the writer": "writer",
}


class TeamStub(OpenAIStub):
    """Answers each request by the role its system prompt names, through ``handlers[role](body)``."""

    def __init__(self) -> None:
        super().__init__()
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self.log: list[tuple[str, str]] = []  # (role, section title or "")

    @staticmethod
    def role_of(body: dict[str, Any]) -> str:
        system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
        return next((r for marker, r in ROLES.items() if marker in system), "other")

    @staticmethod
    def section_of(body: dict[str, Any]) -> str:
        user = next((m["content"] for m in body["messages"] if m["role"] == "user"), "")
        m = re.search(r"^Section: (.+)$", user, flags=re.M)
        return m.group(1) if m else ""

    def calls(self, role: str, section: str | None = None) -> int:  # type: ignore[override]
        return sum(1 for r, s in self.log if r == role and (section is None or s == section))

    def prompts(self, role: str) -> list[str]:
        return [json.dumps(b["messages"]) for b in self.requests if self.role_of(b) == role]

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.force_exit = True  # a handler still held by a test must not keep the server up
        await super().__aexit__(*exc)

    async def _chat(self, request: Any) -> Any:
        body = await request.json()  # Starlette keeps the parsed body: the stub's handler reads it again
        role, section = self.role_of(body), self.section_of(body)
        self.log.append((role, section))
        handler = self.handlers.get(role)
        if handler is not None:
            reply = handler(body)
            if asyncio.iscoroutine(reply):
                reply = await reply
            self.script(body["model"], reply if isinstance(reply, Reply) else Reply(content=str(reply)))
        return await super()._chat(request)


def models(stub: OpenAIStub) -> dict[str, Any]:
    """Run settings making the stub the strategic (editor, reviewer) and smart (researcher, reviser, writer)
    model; extraction (``fast``) stays offline."""
    return {
        "llm.provider": "openai",
        "llm.base_url": stub.base_url,
        "llm.api_key": "test",
        "llm.strategic_model": "team-strategic",
        "llm.smart_model": "team-smart",
        "llm.max_retries": 0,
    }


def models_env(stub: OpenAIStub) -> dict[str, str]:
    """The same as server environment (system layer)."""
    return {f"CLEW_SETTING__{k.replace('.', '__').upper()}": str(v) for k, v in models(stub).items()}


def outline_json(title: str, *sections: str) -> str:
    return json.dumps({"title": title, "sections": [{"title": s, "brief": f"about {s}"} for s in sections]})


ACCEPT = json.dumps({"accept": True, "notes": []})
FRAMING = json.dumps(
    {"introduction": "The Velmora lighthouse dates from 1871 [1].", "conclusion": "It still stands [1]."}
)


def cited_draft(body: dict[str, Any]) -> str:
    """A researcher's draft quoting one learning of its prompt (so it cites a real source): the first that
    names the section's title, else the first."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    lines = re.findall(r"^- (.+?\[\d+\])", user, flags=re.M)
    word = TeamStub.section_of(body).lower().rstrip("s")
    named = [line for line in lines if word and word in line.lower()]
    return (named or lines or ["Nothing found [1]."])[0]
