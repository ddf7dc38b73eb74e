"""Test support: everything the test modules share, one module per concern.

- ``pg``: scratch databases (the one way to make one: a URL, or an open migrated ``Database``);
- ``server``: real ``clew serve`` / ``clew worker`` processes, and ``clew_server`` (a module's server);
- ``keys``: API keys written to a clew database (the one key helper);
- ``runtime``: a stand-in runtime for graphs and nodes run in the test's own process;
- ``core``: the one poller (``eventually``), run-progress waits, raw HTTP and SSE, direct database reads;
- ``config``: fixtures of the configuration tests (``config_db``, the two-process ``cluster``);
- ``knowledge``: knowledge bases on embedded Qdrant (``knowledge_db`` / ``kb`` fixtures) and test files;
- ``research``: the invented corpus, the SearxNG-like web stub, the network guard;
- ``openai_stub`` / ``multi_agent``: a scripted OpenAI-compatible model, and its per-role variant;
- ``data``: target databases (PostgreSQL, MariaDB, SQLite) for data-question tests;
- ``browser``: Chromium through Playwright against a real server (the UI tests);
- ``providers`` / ``thread_memory``: test-only code moved out of ``providers/`` and ``retrieval/``.

Fixture modules (``config``, ``knowledge``) are loaded by ``pytest_plugins`` in ``tests/conftest.py``.
"""
