"""MCP tools: loading from an administrator-configured stdio server, and picking at most 3 relevant tools
by model (scripted) or by keywords."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.tools import BaseTool, tool

from providers.mcp import keyword_select, load_mcp_tools, select_tools, server_connections

SERVER = '''
from mcp.server.fastmcp import FastMCP

mcp = FastMCP("research-tools")


@mcp.tool()
def search_papers(topic: str) -> str:
    """Search academic papers about a topic."""
    return f"3 papers about {topic}"


@mcp.tool()
def stock_price(ticker: str) -> str:
    """Latest stock market price of a company ticker."""
    return f"{ticker}: 42.0"


@mcp.tool()
def weather_forecast(city: str) -> str:
    """Weather forecast for a city."""
    return f"sunny in {city}"


if __name__ == "__main__":
    mcp.run()
'''


@tool
def search_papers(topic: str) -> str:
    """Search academic papers about a topic."""
    return topic


@tool
def stock_price(ticker: str) -> str:
    """Latest stock market price of a company ticker."""
    return ticker


@tool
def weather_forecast(city: str) -> str:
    """Weather forecast for a city."""
    return city


@tool
def translateText(text: str) -> str:
    """Translate text between languages."""
    return text


TOOLS: list[BaseTool] = [search_papers, stock_price, weather_forecast, translateText]


def names(tools: list[BaseTool]) -> list[str]:
    return [t.name for t in tools]


def test_keyword_fallback() -> None:
    assert names(keyword_select("recent papers on battery recycling", TOOLS)) == ["search_papers"]
    assert names(keyword_select("Apple stock price and company papers", TOOLS))[:2] == [
        "stock_price",
        "search_papers",
    ]
    assert names(keyword_select("translate this text", TOOLS)) == ["translateText"]
    assert keyword_select("nothing matches here", TOOLS) == []
    assert len(keyword_select("papers stock weather forecast translate", TOOLS, k=3)) == 3


async def test_model_picks_at_most_k() -> None:
    model = FakeListChatModel(
        responses=['{"tools": ["weather_forecast", "stock_price", "search_papers", "translateText"]}']
    )
    picked = await select_tools("anything", TOOLS, model, k=3)
    assert names(picked) == ["weather_forecast", "stock_price", "search_papers"]


async def test_model_may_pick_none_and_bad_answers_fall_back() -> None:
    none = FakeListChatModel(responses=['{"tools": []}'])
    assert await select_tools("stock price of ACME", TOOLS, none) == []
    unknown = FakeListChatModel(responses=['```json\n{"tools": ["rm_rf"]}\n```'])
    assert names(await select_tools("stock price of ACME", TOOLS, unknown)) == ["stock_price"]
    garbage = FakeListChatModel(responses=["I like tools", "still no json"])
    assert names(await select_tools("weather in Oslo", TOOLS, garbage)) == ["weather_forecast"]
    assert names(await select_tools("weather in Oslo", TOOLS, None)) == ["weather_forecast"]
    assert await select_tools("weather", [], None) == []


def test_server_config_is_validated() -> None:
    values = {
        "mcp.servers": {
            "good": {"transport": "stdio", "command": "python", "args": ["s.py"]},
            "web": {"transport": "streamable_http", "url": "http://127.0.0.1:9/mcp", "headers": {"a": "b"}},
            "no_command": {"transport": "stdio"},
            "extra": {"command": "x", "shell": "rm -rf /"},
        }
    }
    conns = server_connections(values)
    assert set(conns) == {"good", "web"}
    assert conns["web"] == {
        "transport": "streamable_http",
        "url": "http://127.0.0.1:9/mcp",
        "headers": {"a": "b"},
    }
    assert server_connections(None) == {}


@pytest.mark.timeout(120)
async def test_load_and_call_tools_from_stdio_server(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    values = {
        "mcp.servers": {
            "research": {"transport": "stdio", "command": sys.executable, "args": [str(script)]},
            "broken": {"transport": "stdio", "command": str(tmp_path / "does-not-exist")},
        }
    }
    tools = await load_mcp_tools(values)
    assert sorted(names(tools)) == [
        "research_search_papers",
        "research_stock_price",
        "research_weather_forecast",
    ]
    assert await load_mcp_tools(values) == tools  # cached per configuration
    chosen = await select_tools("papers about sodium batteries", tools, None)
    assert names(chosen) == ["research_search_papers"]
    result = await chosen[0].ainvoke({"topic": "sodium batteries"})
    assert "3 papers about sodium batteries" in str(result)
