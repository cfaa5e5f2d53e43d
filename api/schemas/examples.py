"""Examples the document shows: real answers of the service, recorded into examples.json.

Keys are "<operationId> <status>" (a response) or "<operationId> request" (a body).
Record them again after changing a response: `python -m tests.api.record_examples`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("examples.json")

EXAMPLES: dict[str, Any] = json.loads(PATH.read_text()) if PATH.exists() else {}
