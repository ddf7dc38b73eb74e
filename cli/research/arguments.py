"""The arguments of ``clew research``, ``clew resume`` and ``clew threads``, and the commands they call."""

from __future__ import annotations

import argparse
from typing import Any

from cli.research.commands import cmd_research, cmd_resume, cmd_threads
from domain.users import LOCAL_USER


def register(subparsers: Any) -> None:
    """Add ``research``, ``resume`` and ``threads`` to the ``clew`` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="langgraph.json to load graphs from (default: ./langgraph.json)")
    common.add_argument("--workers", type=int, default=None, help="concurrent runs in this process")
    common.add_argument(
        "--user", default=LOCAL_USER, help="whose research and knowledge base (default: local)"
    )
    common.add_argument("--yes", "-y", action="store_true", help="answer approvals automatically (approve)")
    common.add_argument("--output", "-o", help="report file (.md, .pdf or .docx)")
    common.add_argument(
        "--format", choices=["md", "pdf", "docx"], help="report format when --output is not given"
    )

    research = subparsers.add_parser(
        "research", parents=[common], help="research a question, write a cited report"
    )
    research.add_argument("question")
    research.add_argument(
        "--mode", choices=["standard", "deep", "knowledge", "multi_agent"], default="standard"
    )
    research.add_argument(
        "--source",
        choices=["local", "web", "hybrid"],
        default=None,
        help="where to look (default: the research.source_mode setting; local with --docs)",
    )
    research.add_argument("--docs", help="add the files under PATH to the knowledge base first")
    research.add_argument(
        "--review",
        dest="review",
        action="store_true",
        default=None,
        help="approve the plan before researching (default on a terminal without --yes)",
    )
    research.add_argument("--no-review", dest="review", action="store_false")
    research.add_argument("--breadth", type=int, help="deep research: queries per level")
    research.add_argument("--depth", type=int, help="deep research: levels")
    research.add_argument("--sub-queries", type=int, help="standard research: sub-queries")
    research.add_argument("--words", type=int, help="report length in words")
    research.add_argument("--sections", type=int, help="multi_agent: sections the editor plans, at most")
    research.set_defaults(func=cmd_research)

    resume = subparsers.add_parser(
        "resume", parents=[common], help="continue an interrupted or killed research"
    )
    resume.add_argument("thread_id")
    resume.set_defaults(func=cmd_resume)

    threads = subparsers.add_parser("threads", help="list researches")
    threads.add_argument("--user", default=LOCAL_USER)
    threads.add_argument("--limit", type=int, default=20)
    threads.set_defaults(func=cmd_threads)
