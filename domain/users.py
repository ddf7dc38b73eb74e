"""Who a request or a run acts for: :class:`User` (an id and whether it is an administrator).

Authentication (``api/auth.py``) produces one; the engine, the research service, the todo pipeline and the CLI
act for one. ``LOCAL_USER`` is the single user of a server with authentication off and the CLI's default.
"""

from __future__ import annotations

from pydantic import BaseModel

LOCAL_USER = "local"


class User(BaseModel):
    user_id: str
    is_admin: bool = False
