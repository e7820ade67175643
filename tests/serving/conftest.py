from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.serving.fakes import fake_app, wait_ready


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The app serving a FakeModel, loaded and ready."""
    with TestClient(fake_app(tmp_path)) as client:
        wait_ready(client)
        yield client
