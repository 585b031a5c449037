"""The bench's floor: how many Slack posts the end-to-end goal needs at a given rate."""

import pytest

from bench.floor import posts_needed


@pytest.mark.parametrize(("rate", "per_post"), [
    (50.0, 1),  # a message per conversation every 4 s: each is its own post
    (5306.0, 2),  # every 37.7 ms: two fit in 50 ms, three do not
    (10_000.0, 3),  # every 20 ms: the first waits 40 ms for the third
])
def test_a_post_carries_only_what_arrives_within_the_goal(rate: float, per_post: int) -> None:
    assert posts_needed(rate, customers=200, goal_ms=50.0) == pytest.approx(rate / per_post)
