"""Fixtures several test folders share.

`project`: the repository's Meltano project copied and `meltano install`ed once per
session, used by tests/e2e and tests/lake (one install, not one per folder).
"""

from tests.meltano_project import project  # noqa: F401 - a fixture, registered by import
