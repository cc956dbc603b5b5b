"""Many pictures decoded ahead of the model: a pool's workers read them in chunks, one round trip per chunk,
while the caller loads the model and reads the earlier ones; the outcomes come back in the pictures' order."""

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from digit_recog.reading.budget import DecodingPool

# Pictures a worker reads per round trip: the pipe's and the thread's cost per picture all but vanish, and a
# chunk of drawings is still only tens of milliseconds of work.
CHUNK_SIZE = 32
# Pictures decoded at most ahead of the one the caller waits for (12 MB of 28x28 inputs): enough to keep the
# workers busy while a model loads for seconds.
LOOK_AHEAD = 16_384


class DecodedAhead:
    """The 28x28 inputs of ``paths``, decoded by ``pool`` from the moment this is made. Iterate for each
    path's outcome in order: its image, or the :class:`PreprocessError` that refused it. Use it as a context
    manager (or call :meth:`close`) so that no chunk is left queued."""

    def __init__(self, pool: DecodingPool, paths: list[Path]) -> None:
        self._pool = pool
        self._chunks = (
            [(os.path.abspath(path), str(path)) for path in paths[start : start + CHUNK_SIZE]]
            for start in range(0, len(paths), CHUNK_SIZE)
        )
        self._feeders = ThreadPoolExecutor(max_workers=pool.workers)  # a thread waits on each worker
        self._pending: deque[Future] = deque()
        for _ in range(max(1, LOOK_AHEAD // CHUNK_SIZE)):
            self._submit_next()

    def _submit_next(self) -> None:
        chunk = next(self._chunks, None)
        if chunk is not None:
            self._pending.append(self._feeders.submit(self._pool.run_many, "digit", chunk))

    def __iter__(self) -> Iterator:
        while self._pending:
            outcomes = self._pending.popleft().result()
            self._submit_next()
            yield from outcomes

    def close(self) -> None:
        """Drop the chunks not started yet and wait for those being read."""
        self._feeders.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "DecodedAhead":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
