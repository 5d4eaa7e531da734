"""Ids: OpenAI's shapes, unguessable, in creation order from one second to the next."""

from __future__ import annotations

import re
import time

import pytest

from pilothouse.protocol import ids

SHAPE = re.compile(r"resp_[0-9a-f]{48}")


def test_an_id_is_the_prefix_the_creation_second_and_160_random_bits() -> None:
    before = int(time.time())
    made = ids.new_id(ids.RESPONSE)
    after = int(time.time())
    assert SHAPE.fullmatch(made)
    assert before <= int(made[5:13], 16) <= after
    many = {ids.new_id(ids.RESPONSE)[13:] for _ in range(2000)}
    assert len(many) == 2000  # the random part never repeats


def test_ids_of_later_seconds_sort_after_earlier_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    made = []
    for second in (1_795_000_000, 1_795_000_001, 1_795_003_600, 1_800_000_000):
        monkeypatch.setattr(ids.time, "time", lambda second=second: second + 0.75)
        made.extend(ids.new_id(ids.MESSAGE) for _ in range(5))
    by_second = [m[:12] for m in made]
    assert by_second == sorted(by_second)
    assert made[0][4:12] == f"{1_795_000_000:08x}"
