"""``clew research``, ``clew resume`` and ``clew threads``: run clew's research modes from a terminal.

``clew research "question" [--mode standard|deep|knowledge|multi_agent] [--source local|web|hybrid] [--docs PATH]``
starts a :class:`engine.runtime.Runtime` in this process (embedded Postgres in ``CLEW_DATA_DIR`` unless
``DATABASE_URL`` is set, graphs from ``langgraph.json``, in-process workers) and goes through the same engine
as the API: the research is a thread, its run is created by ``engine.lifecycle.create_run`` (via
:func:`engine.research.start_research`, the research service the API routes call too), executed by a worker
with the fenced Postgres checkpointer, and followed here through its persisted event log
(:func:`engine.event_reader.follow_run`, the loop the SSE stream uses) -- so a research started here is
listed, resumed, streamed and exported by a ``clew serve`` on the same data directory exactly like one
started over HTTP.

``--docs PATH`` first adds the supported files under PATH to the local user's knowledge base (a file already
there with the same name and size is skipped; a changed one is replaced). Progress shows one line per stage
and one per research branch or section (rich). When the graph stops on an interrupt (plan approval with
``--review``, which is the default on a terminal), the question is asked here -- for ``multi_agent``, the
editor's outline, to accept, edit (title and sections, one per line) or give feedback on; with ``--yes`` or
without a terminal the plan is approved automatically. The report is written to a file (``--output``; ``.pdf``
and ``.docx`` export too) and the thread id printed.

``clew resume THREAD_ID`` continues a research that was interrupted (answering its pending question), whose
process was killed (its run is re-claimed once the dead worker's lease expires, and carries on from the last
checkpoint), or whose run failed (a new run continues from the last checkpoint). ``clew threads`` lists the
local user's researches.

The modules, along the command's seams: :mod:`cli.research.arguments` (the subcommands and their flags),
:mod:`cli.research.commands` (each subcommand: start the runtime, start or find the research),
:mod:`cli.research.drive` (follow runs, answer interrupts, until the report), :mod:`cli.research.progress`
(the live progress lines), :mod:`cli.research.interrupts` (asking on the terminal or answering
automatically), :mod:`cli.research.documents` (``--docs``), :mod:`cli.research.report` (the report file and
the summary).
"""

from cli.research.arguments import register

__all__ = ["register"]
