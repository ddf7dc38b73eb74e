"""What one attempt of a run starts from: the graph's config and the graph's input.

The config carries the run's identity in the reference server's keys (``thread_id``, ``run_id``, …, the run's
user in ``langgraph_auth_user_id``) over whatever the client sent. The input is the run's input or command, or
None on a retry that continues from the checkpoints this run already wrote: finished nodes are not run again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langgraph.types import Command

from engine.context import AUTH_USER_ID

if TYPE_CHECKING:
    from engine.execution import Execution
    from persistence.checkpointer import FencedSaver


def build_config(run: dict[str, Any]) -> dict[str, Any]:
    kwargs = run["kwargs"]
    base: dict[str, Any] = dict(run["config_snapshot"].get("config") or {})
    user_config: dict[str, Any] = dict(kwargs.get("config") or {})
    configurable = {**(base.get("configurable") or {}), **(user_config.get("configurable") or {})}
    config = {**base, **user_config}
    ids = {
        "thread_id": str(run["thread_id"]),
        "run_id": str(run["run_id"]),
        "assistant_id": str(run["assistant_id"]),
        "graph_id": run["graph_id"],
    }
    # the client's keys reach the graph untouched (a ``user_id`` of its own included); the run's identity
    # travels in keys of the reference server's names, which overwrite anything a client sent under them
    configurable.update(ids)
    configurable[AUTH_USER_ID] = run["user_id"]
    configurable["langgraph_auth_permissions"] = []
    configurable["clew_fencing_token"] = int(run["fencing_token"])
    configurable.pop("checkpoint_ns", None)
    config["configurable"] = configurable
    config["metadata"] = {**(config.get("metadata") or {}), **(run.get("metadata") or {}), **ids,
                          "user_id": run["user_id"]}
    config["run_id"] = run["run_id"]
    config.setdefault("recursion_limit", 150)
    for key in ("tags",):
        if key in config and not isinstance(config[key], list):
            config.pop(key)
    return config


def to_command(cmd: dict[str, Any]) -> Command[Any]:
    goto = cmd.get("goto")
    if isinstance(goto, dict):
        from langgraph.types import Send

        goto = Send(goto["node"], goto.get("input"))
    elif isinstance(goto, list):
        from langgraph.types import Send

        goto = [Send(g["node"], g.get("input")) if isinstance(g, dict) else g for g in goto]
    return Command(resume=cmd.get("resume"), update=cmd.get("update"), goto=goto or ())


async def prepare_input(execution: Execution, saver: FencedSaver, config: dict[str, Any]) -> Any:
    """The graph input of this attempt: the run's input or command, or None to continue from the checkpoints
    this run already wrote (a retry after a crash or an error).

    ``checkpoint_before`` (the thread's latest checkpoint when the run was first claimed) is set by the claim.
    """
    run = execution.run
    kwargs = run["kwargs"]
    if run["attempt"] > 1:
        latest = await saver.aget_tuple({"configurable": {"thread_id": execution.thread_id, "checkpoint_ns": ""}})
        latest_id = latest.checkpoint["id"] if latest else ""
        if latest_id and latest_id > (run["checkpoint_before"] or ""):
            return None
    if kwargs.get("checkpoint_id"):
        config["configurable"]["checkpoint_id"] = kwargs["checkpoint_id"]
    if kwargs.get("command"):
        return to_command(kwargs["command"])
    return kwargs.get("input")
