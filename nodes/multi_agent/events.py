"""Progress events of a multi-agent research team, sent as LangGraph ``custom`` stream events.

One shape, ``{"type": "research.team", "stage", "status", "section", "sections", "title", "revision",
"message"}``:

- ``stage`` is the role at work: ``browser``, ``editor``, ``human``, ``section`` (a section's team as a
  whole, sent by the root graph), ``researcher``, ``reviewer``, ``reviser``, ``writer``, ``publisher``;
- ``status``: ``started`` | ``done`` | ``waiting`` (the human) | ``accepted`` / ``rejected`` (the reviewer's
  verdict) | ``failed``;
- ``section`` is 1-based, ``sections`` the number of sections planned (both None outside the sections);
- ``revision`` counts rewrites: the outline's revisions for the editor and the human, the section's
  review rounds for the reviewer and the reviser (0 for the first draft).

The researcher, reviewer and reviser run inside the section subgraph, so their events carry the subgraph's
namespace (SSE event ``custom|section_team:<task id>``) and reach a client only when it asks for
``stream_subgraphs`` -- LangGraph's rule. The ``section`` events (started / done) come from the root graph and
reach every client that streams ``custom``, so a UI can always show "section 3 of 5: done, 1 revision".
Events inform only: what must survive a crash lives in the graph state.
"""

from __future__ import annotations

from typing import Any

from nodes.research import progress

TEAM = "research.team"


def team(
    stage: str,
    status: str,
    *,
    section: int | None = None,
    sections: int | None = None,
    title: str | None = None,
    revision: int | None = None,
    message: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """Send one team event (a no-op outside a graph run) and return its payload."""
    payload: dict[str, Any] = {
        "type": TEAM,
        "stage": stage,
        "status": status,
        "section": section,
        "sections": sections,
        "title": title,
        "revision": revision,
        "message": message,
        **extra,
    }
    progress.emit(payload)
    return payload
