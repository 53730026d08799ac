"""Which search engine the service opens: the one place that chooses it from settings.

``RECORDS_INDEX__ENGINE`` picks ``tantivy`` (the default) or ``whoosh``. Their
files live apart under the index directory, so switching never mixes them:

```
<index dir>/            Whoosh (where every earlier release kept it)
<index dir>/tantivy/    tantivy
```

An upgrade needs no step of its own. When tantivy is chosen, its index is not
yet built, and a complete Whoosh index is there from before, the two are opened
together as an :class:`~records_service.indexing.upgrade.UpgradingIndex`:
searches answer from Whoosh while the worker builds the tantivy index from the
database, then move to tantivy in every process.
"""

from __future__ import annotations

import logging
from pathlib import Path

from records_service import indexing
from records_service.indexing import SearchIndex, open_tantivy_index
from records_service.indexing.upgrade import UpgradingIndex
from records_service.settings import Settings

log = logging.getLogger(__name__)

TANTIVY_DIR = "tantivy"
WHOOSH_POINTER = "index.json"


def open_search_index(settings: Settings) -> SearchIndex:
    """Open the configured engine's index under ``settings.index_path``."""
    root, timeout = settings.index_path, settings.index.lock_timeout
    if settings.index.engine == "whoosh":
        return indexing.open_whoosh_index(root, lock_timeout=timeout)
    index = open_tantivy_index(root / TANTIVY_DIR, lock_timeout=timeout)
    if not index.needs_rebuild:
        return index
    previous = _complete_whoosh_index(root, timeout)
    if previous is None:
        return index
    log.info("searches answer from the Whoosh index until the tantivy index is built")
    return UpgradingIndex(index, previous, previous_name="whoosh")


def _complete_whoosh_index(root: Path, timeout: float) -> SearchIndex | None:
    """The Whoosh index an earlier release left in ``root``, if it is complete."""
    if not (root / WHOOSH_POINTER).is_file():
        return None
    previous = indexing.open_whoosh_index(root, lock_timeout=timeout, older_schemas=True)
    if previous.needs_rebuild:
        previous.close()
        return None
    return previous
