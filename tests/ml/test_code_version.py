"""The code version a model records: the full commit, never a string of digits alone."""

from __future__ import annotations

import re

from ml.training.run import code_version


def test_the_code_version_is_the_full_commit_hash() -> None:
    # a 12-character short hash was once all digits (981069766741): the PII scan of the published
    # registry took it for a phone number
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty-[0-9a-f]{12})?", code_version()), code_version()
