"""Small helpers every feed builder shares: day numbers, seeded generators, ids, Arrow arrays.

Dates travel through the generator as ``int`` day numbers (days since 1970-01-01) and
timestamps as ``int64`` seconds, so whole populations are compared and shifted with numpy
instead of ``datetime`` objects; they become Arrow ``date32`` / ``timestamp`` only when a
table is built.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

EPOCH = dt.date(1970, 1, 1)
SECONDS_PER_DAY = 86_400
DAYS_PER_MONTH = 30.4
#: Day number standing for "does not happen within the generated horizon"; compares after
#: every real day, so ``day < churn_day`` reads "not churned yet" with no special case.
NEVER = np.int32(np.iinfo(np.int32).max // 2)

#: Named random streams. Each builder draws from its own generator seeded with
#: ``[seed, day_number, stream]`` so that adding a draw to one feed leaves every other feed,
#: and every other day, unchanged.
STREAMS = {
    "population": 1,
    "network": 2,
    "subscribers": 3,
    "usage": 4,
    "recharges": 5,
    "kpis": 6,
    "contacts": 7,
    "nps": 8,
    "broadband": 9,
    "vas": 10,
    "complaints": 11,
    "opt_outs": 12,
    "defects": 13,
    "surveys": 14,
}


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def to_date(number: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(number))


def rng_for(seed: int, day: int, stream: str) -> np.random.Generator:
    """A generator that depends only on the seed, the day and the stream.

    Day-keyed seeding is what lets one day's files come out the same however many days
    were generated before it: nothing is consumed from a shared sequential stream.
    """
    return np.random.default_rng([seed, day, STREAMS[stream]])


_FOUR_DIGITS = np.array([int.from_bytes(f"{i:04d}".encode(), "little") for i in range(10_000)], dtype=np.uint32)


def fixed_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` as an Arrow string array, built from bytes.

    Formatting tens of millions of ids through Python strings (or Arrow's cast + pad +
    join kernels) dominates a day's run time; writing the ASCII digits straight into a
    fixed-width buffer, four digits per table lookup, is faster. One array holds at most
    2 GiB of characters (int32 offsets), some 100 million ids.
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    n = len(numbers)
    words = -(-width // 4)
    digits = np.empty((n, words), dtype=np.uint32)
    rest = numbers
    for j in range(words - 1, -1, -1):
        digits[:, j] = _FOUR_DIGITS[rest % 10_000]
        rest = rest // 10_000
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    size = len(head) + width
    body = np.empty((n, size), dtype=np.uint8)
    body[:, : len(head)] = head
    body[:, len(head) :] = digits.view(np.uint8)[:, words * 4 - width :]
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(body)])


def labels(values: Sequence[str], codes: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Category codes -> their labels, as an Arrow string array (null where ``null``)."""
    dictionary = pa.array(list(values), pa.string())
    indices = pa.array(np.asarray(codes, dtype=np.int32), pa.int32(), mask=null)
    return dictionary.take(indices)


def dates(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), pa.date32(), mask=null)


def timestamps(seconds: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(seconds, dtype=np.int64), pa.timestamp("s"), mask=null)


def pick(rng: np.random.Generator, weights: Sequence[float] | np.ndarray, size: int) -> np.ndarray:
    """Category codes drawn with the given relative weights."""
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    return np.searchsorted(cdf / cdf[-1], rng.random(size), side="right").astype(np.int16)


def pick_rows(rng: np.random.Generator, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One option per item, each item drawing from its own row of a weight table.

    ``weights`` is (categories x options) and ``rows`` says which category each item is in.
    The loop runs over the few categories, never over items.
    """
    out = np.zeros(len(rows), dtype=np.int16)
    u = rng.random(len(rows))
    for row, row_weights in enumerate(weights):
        mask = rows == row
        if mask.any():
            cdf = np.cumsum(row_weights)
            out[mask] = np.searchsorted(cdf / cdf[-1], u[mask], side="right")
    return out


def uniform_days(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A day drawn uniformly in ``[low, high]`` per item, and whether that range is non-empty."""
    low = np.asarray(low, dtype=np.int64)
    high = np.asarray(high, dtype=np.int64)
    valid = high >= low
    span = np.where(valid, high - low + 1, 1)
    return (low + np.floor(rng.random(len(low)) * span).astype(np.int64)).astype(np.int32), valid


def seconds_in_day(rng: np.random.Generator, days: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """A timestamp on each given day, its hour drawn from a 24-bin activity profile."""
    n = len(days)
    cdf = np.cumsum(profile) / np.sum(profile)
    hours = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), 23)
    return (
        np.asarray(days, dtype=np.int64) * SECONDS_PER_DAY
        + hours.astype(np.int64) * 3600
        + rng.integers(0, 3600, n, dtype=np.int64)
    )
