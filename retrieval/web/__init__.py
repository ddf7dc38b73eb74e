"""Web retrieval: search retrievers with fallback (SearxNG, DuckDuckGo, Tavily) and a guarded page fetcher."""

from retrieval.web.fetch import PageFetcher, default_fetcher
from retrieval.web.search import configured_retrievers, search_web
from retrieval.web.ssrf import AllowList, BlockedUrlError, FetchError, check_url

__all__ = [
    "AllowList",
    "BlockedUrlError",
    "FetchError",
    "PageFetcher",
    "check_url",
    "configured_retrievers",
    "default_fetcher",
    "search_web",
]
