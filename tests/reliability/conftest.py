"""The kill driver's fork server, started once: its imports cost seconds, its forks nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kill_driver import DriverClient


@pytest.fixture(scope="session")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DriverClient]:
    client = DriverClient(tmp_path_factory.mktemp("driver") / "driver.log")
    yield client
    client.close()
