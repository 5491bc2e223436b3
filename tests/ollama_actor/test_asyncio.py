"""asyncio: ``async for`` over a stream and awaiting actor messages, without blocking the loop."""

import asyncio
import logging
import time

import pytest

from actors import Inbox
from ollama_actor import ResponseError, StreamCancelled
from ollama_actor.emulator import error_line, expected_tokens, stall

PROMPT = "Why is the sky blue?"
TOKENS = expected_tokens("llama3.2", PROMPT)


def stream(client, **extra):
    return client.completion(model="llama3.2", prompt=PROMPT, stream=True, **extra)


def test_async_for_yields_every_chunk(client):
    async def main():
        s = stream(client)
        return [chunk async for chunk in s], s

    chunks, s = asyncio.run(main())
    assert [c["response"] for c in chunks[:-1]] == TOKENS
    assert s.response["response"] == "".join(TOKENS)


def test_async_for_raises_the_streams_error(client, emu):
    emu.inject(error_line(after=2))

    seen = []

    async def main():
        async for chunk in stream(client):
            seen.append(chunk)

    with pytest.raises(ResponseError):
        asyncio.run(main())
    assert len(seen) == 2


def test_waiting_for_a_chunk_does_not_block_the_event_loop(client, emu):
    emu.inject(stall(after=1))

    async def main():
        ticks = 0
        stop = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        s = stream(client)
        await s.__anext__()
        consumer = asyncio.create_task(s.__anext__())  # waits on the stalled stream
        await asyncio.sleep(0.3)
        consumer.cancel()  # cancelling the consumer cancels the stream
        with pytest.raises(asyncio.CancelledError):
            await consumer
        stop.set()
        await task
        return ticks

    assert asyncio.run(main()) >= 10  # the loop kept running while the stream stalled
    info = emu.wait_until_ended(emu.last_request("/api/generate").id)
    assert info.outcome == "client_closed"


def test_inbox_areceive_gets_a_streams_messages_in_asyncio(client):
    inbox = Inbox()

    async def main():
        handle = client.completion(model="llama3.2", prompt=PROMPT, stream=inbox)
        kinds = []
        while True:
            _, (kind, payload) = await inbox.areceive(
                match=lambda m: m[0] == handle.ref, timeout=10
            )
            kinds.append(kind)
            if kind in ("done", "error"):
                return kinds, payload

    kinds, response = asyncio.run(main())
    assert kinds == ["data"] * (len(TOKENS) + 1) + ["done"]
    assert response["response"] == "".join(TOKENS)


def test_areceive_selective_and_timeout():
    inbox = Inbox()
    inbox.tell(("a", 1))
    inbox.tell(("b", 2))

    async def main():
        b = await inbox.areceive(match=lambda m: m[0] == "b", timeout=1)
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            await inbox.areceive(match=lambda m: m[0] == "c", timeout=0.2)
        waited = time.monotonic() - start
        later = asyncio.get_running_loop().call_later(0.05, inbox.tell, ("c", 3))
        c = await inbox.areceive(match=lambda m: m[0] == "c", timeout=2)
        later.cancel()
        return b, waited, c

    b, waited, c = asyncio.run(main())
    assert b == ("b", 2)
    assert 0.15 <= waited < 2
    assert c == ("c", 3)
    assert inbox.receive(timeout=0) == ("a", 1)


def test_cancel_from_outside_reaches_an_async_consumer(client, emu):
    emu.inject(stall(after=1))

    async def main():
        s = stream(client)
        await s.__anext__()
        asyncio.get_running_loop().call_later(0.1, s.cancel)
        with pytest.raises(StreamCancelled):
            await s.__anext__()

    asyncio.run(main())


def test_a_consumer_left_waiting_when_asyncio_run_ends_ends_its_stream_quietly(client, emu, caplog):
    """``asyncio.run`` cancels a task still waiting for a chunk, then closes its loop; the
    stream's cancel reaches the shared loop after that. Waking the closed loop raised there:
    an ERROR with a traceback, and the stream's telemetry had a start without a stop."""
    import threading

    from actors import call_on_loop, telemetry
    from ollama_actor.telemetry import STREAM_START, STREAM_STOP

    emu.inject(stall(after=1))
    heard: list[str] = []
    telemetry.attach_many(
        "left-waiting", [STREAM_START, STREAM_STOP], lambda e, *_: heard.append(e[-1])
    )
    gate = threading.Event()

    async def main():
        s = stream(client)
        await s.__anext__()
        asyncio.get_running_loop().create_task(s.__anext__())  # waits on the stalled stream
        await asyncio.sleep(0.1)
        call_on_loop(gate.wait, 5)  # the shared loop takes the cancel once this loop closed

    try:
        with caplog.at_level(logging.ERROR):
            asyncio.run(main())
            gate.set()
            info = emu.wait_until_ended(emu.last_request("/api/generate").id)
    finally:
        gate.set()
        telemetry.detach("left-waiting")
    assert info.outcome == "client_closed"
    assert heard == ["start", "stop"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
