"""Liveness and server information."""

from __future__ import annotations

from importlib.metadata import version

from fastapi import APIRouter, Response

from api.deps import RuntimeDep
from api.responses import JSON

router = APIRouter(tags=["system"])


@router.get("/ok")
async def ok(runtime: RuntimeDep) -> Response:
    await runtime.db.ping()
    return JSON({"ok": True})


@router.get("/info")
async def info(runtime: RuntimeDep) -> Response:
    return JSON({
        "version": version("clew"),
        "langgraph_py_version": version("langgraph"),
        "flags": {"assistants": True, "crons": False, "langsmith": False, "store": True},
        "graphs": runtime.graphs.ids(),
        "host": {"kind": "self-hosted", "project_id": None, "revision_id": None, "tenant_id": None},
    })
