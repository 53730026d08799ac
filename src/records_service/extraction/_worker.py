"""The extraction worker process: JSON requests on stdin, one JSON reply line for each.

Started by ``_isolation`` as ``python -P -m records_service.extraction._worker``,
either for one request (``run_isolated``) or to serve many, one after another
(``ExtractionWorker``). Each request is one line holding ``path``, ``media_type`` and
``limits`` (the fields of ``ExtractionLimits``); each reply is one line holding the
fields of ``ExtractionResult``. The worker ends at the end of its input. Anything a
parser prints goes to stderr, so it cannot corrupt a reply. The worker lowers its
own CPU priority, so extraction yields to the requests of the server that started it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from records_service.extraction.model import ExtractionLimits
from records_service.extraction.registry import extract_in_process

NICENESS = 10
"""Added to the worker's nice value: captures and searches first, text extraction after."""


def main() -> int:
    """Serve requests until stdin ends; a malformed request exits non-zero with a traceback."""
    reply_stream = sys.stdout
    sys.stdout = sys.stderr
    # pypdf logs every repair it makes to a damaged file; the failure reason already
    # says what matters, and the worker's stderr would otherwise fill the server's log.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    for line in sys.stdin:
        if line.strip():
            reply_stream.write(serve(json.loads(line)) + "\n")
            reply_stream.flush()
    return 0


def serve(request: dict[str, Any]) -> str:
    """One request to its reply line (without the newline)."""
    limits = ExtractionLimits(**request["limits"])
    result = extract_in_process(Path(request["path"]), str(request["media_type"]), limits)
    return json.dumps(dataclasses.asdict(result))


if __name__ == "__main__":
    sys.exit(main())
