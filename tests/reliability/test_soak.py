"""A bounded soak inside `make test`; `make soak` runs a longer one and writes the report."""

import logging

from .soak import soak


def test_soak_thousands_of_concurrent_supervised_streams_with_mixed_faults(caplog):
    # The supervisor logs each stream it gives up at WARNING, with the error; pytest would keep
    # those records (and, through their exceptions, the streams) alive until the test ends.
    caplog.set_level(logging.ERROR, logger="actors")
    first = soak(streams=2000, concurrency=2000, fault_share=0.4, seed=7)
    second = soak(streams=2000, concurrency=2000, fault_share=0.4, seed=8)
    for report in (first, second):
        assert report.problems == [], report.problems[:20]
        assert sum(report.outcomes.values()) == 2000
        assert report.outcomes["done"] > 1000
        assert report.restarts > 100  # faults were met and retried
        assert report.threads[2] <= report.threads[0]
        assert report.fds[2] <= report.fds[0]
        assert report.objects[1] <= report.objects[0] + 50, report.objects
    # Freed memory stays with the allocator, but a second soak must not need more of it.
    assert second.rss_mb[2] - first.rss_mb[2] < 20, (first.rss_mb, second.rss_mb)
