"""The extraction worker process: one JSON request on stdin, one JSON reply on stdout.

Started by ``_isolation.run_isolated`` as ``python -P -m records_service.extraction._worker``.
The request holds ``path``, ``media_type`` and ``limits`` (the fields of
``ExtractionLimits``); the reply holds the fields of ``ExtractionResult``. Anything a
parser prints goes to stderr, so it cannot corrupt the reply.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from pathlib import Path

from records_service.extraction.model import ExtractionLimits
from records_service.extraction.registry import extract_in_process


def main() -> int:
    """Serve one request; a malformed request exits non-zero with a traceback."""
    reply_stream = sys.stdout
    sys.stdout = sys.stderr
    # pypdf logs every repair it makes to a damaged file; the failure reason already
    # says what matters, and the worker's stderr would otherwise fill the server's log.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    request = json.load(sys.stdin)
    limits = ExtractionLimits(**request["limits"])
    result = extract_in_process(Path(request["path"]), str(request["media_type"]), limits)
    json.dump(dataclasses.asdict(result), reply_stream)
    reply_stream.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
