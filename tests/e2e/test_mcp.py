"""`python app.py --mcp`: the API served as MCP tools, listed and called through the `mcp` package's
own client. Images go in as data URLs (Gradio's guard refuses loopback URLs; see ECOSYSTEM facts).
Weights: what the app finds with no flags; the image is test output."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import io

import pytest
from PIL import Image

from tests.paths import EXAMPLES

mcp = pytest.importorskip("mcp")
from mcp.client.streamable_http import streamable_http_client  # noqa: E402


@pytest.fixture(scope="module")
def mcp_url(tmp_path_factory, running_app):
    with running_app(tmp_path_factory.mktemp("app-cwd"), "--mcp") as url:
        yield url + "gradio_api/mcp/"


def data_url(path, size: int = 96) -> str:
    """The image at `path`, shrunk to `size` px, as a PNG data URL."""
    image = Image.open(path).convert("RGB")
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _session(url: str, work):
    """`work(session)` on an MCP session with `url`, run in a thread of its own: the browser
    tests' Playwright keeps an event loop running in this one, where asyncio.run refuses."""
    async def main():
        async with streamable_http_client(url) as (read, write, _):
            async with mcp.ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def test_stylize_is_an_mcp_tool_that_returns_a_stylized_image(mcp_url):
    async def listed(session):
        return {tool.name: tool for tool in (await session.list_tools()).tools}

    tools = _session(mcp_url, listed)
    assert "stylize" in tools and "explore" in tools
    schema = tools["stylize"].inputSchema["properties"]
    assert {"content", "style", "method", "size", "steps"} <= set(schema)
    assert "photo to stylize" in schema["content"].get("description", "")

    async def called(session):
        return await session.call_tool("stylize", {
            "content": data_url(EXAMPLES / "content" / "chelsea_cat.jpg"),
            "style": data_url(EXAMPLES / "style" / "starry_night.jpg"), "size": 64, "steps": 2, "scales": "1"})

    result = _session(mcp_url, called)
    assert not result.isError, result.content
    images = [item for item in result.content if item.type == "image"]
    assert len(images) == 1
    image = Image.open(io.BytesIO(base64.b64decode(images[0].data)))
    assert max(image.size) == 64 and image.convert("L").getextrema()[0] < image.convert("L").getextrema()[1]
