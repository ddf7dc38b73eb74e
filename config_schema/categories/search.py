"""Settings for retrieval: web search retrievers, page fetching (and its SSRF guard), knowledge-base fusion.

``search.*`` chooses and tunes the web retrievers (SearxNG, DuckDuckGo, Tavily) and the page fetcher;
``search_enhancement.*`` tunes hybrid knowledge-base search (dense / sparse weights and the relevance
threshold). Endpoints, keys and the fetcher's safety limits are system scope: only an administrator sets them.
"""

from __future__ import annotations

from config_schema.definitions import Setting

RETRIEVER_NAMES: tuple[str, ...] = ("searxng", "duckduckgo", "tavily")

SETTINGS: list[Setting] = [
    Setting(
        key="search.retrievers",
        category="search",
        type="list",
        default=[],
        options=RETRIEVER_NAMES,
        scope="user",
        description="Web retrievers to use, in order; a failing one falls back to the next. "
        "Empty: no web search (offline).",
    ),
    Setting(
        key="search.searxng_url",
        category="search",
        type="string",
        default=None,
        pattern=r"https?://\S+",
        scope="system",
        description="Base URL of a self-hosted SearxNG instance with the JSON format enabled.",
    ),
    Setting(
        key="search.tavily_api_key",
        category="search",
        type="string",
        default=None,
        scope="system",
        user_readable=False,
        secret=True,
        description="Tavily API key.",
    ),
    Setting(
        key="search.tavily_base_url",
        category="search",
        type="string",
        default=None,
        pattern=r"https?://\S+",
        scope="system",
        description="Tavily API base URL (empty: Tavily's own endpoint).",
    ),
    Setting(
        key="search.max_results",
        category="search",
        type="integer",
        default=10,
        minimum=1,
        maximum=50,
        scope="session",
        description="Results asked of a web retriever per query.",
    ),
    Setting(
        key="search.timeout_seconds",
        category="search",
        type="number",
        default=15.0,
        minimum=1,
        maximum=120,
        scope="system",
        description="Time limit for one retriever query and for one page fetch (redirects included).",
    ),
    Setting(
        key="search.retriever_weights",
        category="search",
        type="json",
        default={},
        scope="user",
        description='Optional weight per retriever, e.g. {"searxng": 1.0, "tavily": 0.8}; scales the scores '
        "of its results (default 1.0).",
    ),
    Setting(
        key="search.allowed_hosts",
        category="search",
        type="list",
        default=[],
        scope="system",
        user_readable=False,
        description="Hosts, IP addresses or CIDR ranges the page fetcher may reach although they are "
        "private, loopback, link-local or cloud-metadata addresses.",
    ),
    Setting(
        key="search.fetch_max_bytes",
        category="search",
        type="integer",
        default=5 * 1024 * 1024,
        minimum=1024,
        maximum=100 * 1024 * 1024,
        scope="system",
        description="Largest response body the page fetcher reads.",
    ),
    Setting(
        key="search.fetch_max_redirects",
        category="search",
        type="integer",
        default=5,
        minimum=0,
        maximum=20,
        scope="system",
        description="Redirects the page fetcher follows (each target is checked again).",
    ),
    Setting(
        key="search.per_host_concurrency",
        category="search",
        type="integer",
        default=2,
        minimum=1,
        maximum=32,
        scope="system",
        description="Page fetches running at once against one host.",
    ),
    Setting(
        key="search.user_agent",
        category="search",
        type="string",
        default="clew/0.1 (research agent)",
        scope="system",
        description="User-Agent header of the page fetcher.",
    ),
    Setting(
        key="search_enhancement.dense_weight",
        category="search_enhancement",
        type="number",
        default=0.6,
        minimum=0,
        maximum=1,
        scope="user",
        description="Weight of dense (embedding) similarity in hybrid knowledge-base search.",
    ),
    Setting(
        key="search_enhancement.sparse_weight",
        category="search_enhancement",
        type="number",
        default=0.4,
        minimum=0,
        maximum=1,
        scope="user",
        description="Weight of sparse (BM25) relevance in hybrid knowledge-base search.",
    ),
    Setting(
        key="search_enhancement.relevance_threshold",
        category="search_enhancement",
        type="number",
        default=0.2,
        minimum=0,
        maximum=1,
        scope="user",
        description="Fused relevance (0-1) a knowledge-base chunk needs to be returned. Dense relevance is "
        "the cosine similarity, sparse relevance the BM25 score relative to the best hit.",
    ),
]
