"""The batching policy: continuous batching that waits for company only while it can help.

Every test uses a very large ``max_delay_ms`` (4 s, a 1 s linger window), so a policy that
held a batch for the whole delay shows at once in the elapsed times, and every bound leaves
about a second to spare: the checks hold on a loaded machine and still fail on the old policy.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from aimass_lab.serve.server._batcher import LINGER_FRACTION, Batcher

DELAY_MS = 4000.0
WINDOW_S = DELAY_MS / 1000.0 * LINGER_FRACTION


class _Slow:
    """A thread-like executor (no inline runs): each batch takes ``seconds``; records sizes."""

    slots = 1

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.batches: list[int] = []

    async def run(self, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.batches.append(len(arrays["x"]))
        await asyncio.sleep(self.seconds)
        return [arrays["x"] * 2]


class _Quick(_Slow):
    """An in-process executor whose batches are quick: they run inline on the event loop."""

    inline = True

    def run_inline(self, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.batches.append(len(arrays["x"]))
        return [arrays["x"] * 2]


def _row(v: float) -> dict[str, np.ndarray]:
    return {"x": np.array([[v]], np.float32)}


async def _ask(b: Batcher, v: float) -> float:
    out = await b.submit(_row(v), 1)
    return float(out[0][0, 0])


def test_a_burst_then_silence_is_batched_and_never_waits_the_delay() -> None:
    async def main() -> None:
        ex = _Slow()
        b = Batcher(ex, 32, DELAY_MS, 64)
        # 4 concurrent requests then silence: one batch, answered at once
        start = time.monotonic()
        assert await asyncio.gather(*(_ask(b, i) for i in range(4))) == [0.0, 2.0, 4.0, 6.0]
        assert time.monotonic() - start < WINDOW_S
        assert ex.batches == [4]
        # the version has seen 4 at once: 2 more then silence wait one window, not the delay
        start = time.monotonic()
        assert await asyncio.gather(_ask(b, 5), _ask(b, 6)) == [10.0, 12.0]
        assert time.monotonic() - start < DELAY_MS / 1000.0 / 2
        assert ex.batches == [4, 2]
        # ...after which a lone client waits one window once (2 were seen last), then none
        start = time.monotonic()
        for i in range(10):
            assert await _ask(b, i) == 2.0 * i
        assert time.monotonic() - start < 2 * WINDOW_S
        assert ex.batches[2:] == [1] * 10
        await b.close()

    asyncio.run(main())


def test_closed_loop_clients_fewer_than_the_batch_go_when_all_arrived() -> None:
    """8 clients that each wait for their answer, max batch 32: a batch never fills, so the
    old policy held every batch for the full delay (20 rounds: 80 s). Now, once the version
    has seen the 8 together, each round's batch goes when its 8th request arrives, even with
    arrivals spread over 3 ms."""

    async def main() -> None:
        ex = _Quick()
        b = Batcher(ex, 32, DELAY_MS, 64)

        async def client(i: int) -> None:
            for r in range(20):
                if r:
                    await asyncio.sleep(0.001 * (i % 4))  # arrivals spread over 3 ms
                assert await _ask(b, 100 * i + r) == 2.0 * (100 * i + r)

        start = time.monotonic()
        await asyncio.gather(*(client(i) for i in range(8)))
        took = time.monotonic() - start
        assert took < 10.0, took  # the old policy: >= 20 x 4 s
        assert ex.batches == [8] * 20  # concurrent requests still go together
        await b.drain()
        await b.close()

    asyncio.run(main())


def test_requests_pile_up_while_the_engine_is_busy_and_go_together() -> None:
    async def main() -> None:
        ex = _Slow(0.05)
        b = Batcher(ex, 32, DELAY_MS, 64)
        first = asyncio.ensure_future(_ask(b, 1))
        await asyncio.sleep(0.01)  # the first batch runs; 5 more arrive meanwhile
        start = time.monotonic()
        rest = await asyncio.gather(*(_ask(b, i) for i in range(2, 7)))
        assert rest == [4.0, 6.0, 8.0, 10.0, 12.0] and await first == 2.0
        assert ex.batches == [1, 5]
        # they went when the engine was free (40 ms of the first batch plus their own 50 ms),
        # not after the 4 s delay
        assert time.monotonic() - start < 0.05 + 0.05 + WINDOW_S
        await b.close()

    asyncio.run(main())


def test_zero_delay_never_waits() -> None:
    async def main() -> None:
        ex = _Slow()
        b = Batcher(ex, 32, 0.0, 64)
        assert await asyncio.gather(*(_ask(b, i) for i in range(4))) == [0.0, 2.0, 4.0, 6.0]
        assert b.linger == 0.0 and ex.batches == [4]
        await b.close()

    asyncio.run(main())
