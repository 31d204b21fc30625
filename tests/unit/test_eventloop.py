"""The routers' event loop: uvloop when installed (it is a pinned dependency on Linux), with the
coroutine's result handed back either way."""

import asyncio

from dash_router import eventloop


def test_run_returns_the_result_on_the_named_loop():
    async def main() -> tuple[str, int]:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__, 42

    module, value = eventloop.run(main())
    assert value == 42
    assert eventloop.name() == "uvloop"  # pinned for Linux in pyproject.toml
    assert module.startswith("uvloop")
