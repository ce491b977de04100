"""Two builds of one collection at once: the collection ends whole, never corrupted.

Embedded Edge: the collection folder's ``flock`` (recross.index.lock) admits one process; the
other build stops at once with an error naming the fix and, run again later, finds the
collection complete. This is what two Dagster materializations of the same index asset do (both
call ``build_pool_index``); dagster.yaml's ``recross_cpu_heavy`` pool normally keeps them apart.

A Qdrant server needs no lock: points are upserted under UUIDv5 ids of their example ids, so two
writers of the same pool write the same points and a point written twice is stored once (the
server serialises updates per shard); ``build_index`` then checks the count against the pool.
(A second process opening one Edge shard from another module is covered in
tests/index/test_index_errors.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kill_driver import DriverClient, settings_for
from recross.index import open_index
from recross.pipeline.upstream import read_pool


@pytest.fixture(scope="module")
def second_driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriverClient]:
    client = DriverClient(tmp_path_factory.mktemp("second-driver") / "driver.log")
    yield client
    client.close()


def test_two_builds_of_one_edge_collection_at_once_leave_it_whole(driver, second_driver,
                                                                   tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    clients = (driver, second_driver)
    pids = [client.start("index", home) for client in clients]  # both running now
    outcomes = [client.wait(pid) for client, pid in zip(clients, pids)]

    assert sorted(o.rc for o in outcomes) == [0, 1]
    loser = clients[[o.rc for o in outcomes].index(1)]
    assert "is already open in another process" in loser.log.read_text()
    assert "Fix: close the other process" in loser.log.read_text()
    winner = next(o for o in outcomes if o.rc == 0).summary
    again = loser.run("index", home)
    assert again.rc == 0 and (again.summary["written"], again.summary["skipped"]) == (
        0, winner["points"])

    settings = settings_for("index", home)
    expected = {e.example_id for e in read_pool(settings).examples}
    with open_index(settings.index, collection=winner["collection"],
                    dimension=winner["dimension"], encoder_name=winner["encoder"],
                    home=home) as index:
        ids = [p["example_id"] for batch in index.iter_batches(1024) for p in batch.payloads]
        assert index.count() == len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected
