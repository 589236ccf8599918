"""Verify webhook deliveries with a Polar SDK's own helper (run by that SDK's interpreter).

Reads a JSON list of ``{"secret", "headers", "body"}`` on stdin; prints one JSON result per
delivery: the event type the SDK parsed, or the error it raised.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _validator() -> Any:
    try:
        from polar.v2026_10.webhooks import validate_event
    except ImportError:
        from polar_sdk.webhooks import validate_event
    return validate_event


def main() -> int:
    validate_event = _validator()
    results = []
    for delivery in json.load(sys.stdin):
        try:
            payload = validate_event(delivery["body"], delivery["headers"], delivery["secret"])
        except Exception as error:  # report every failure, whatever the SDK raises
            results.append({"ok": False, "error": f"{type(error).__name__}: {error}"})
            continue
        event_type = getattr(payload, "type", None) or getattr(payload, "TYPE", None)
        results.append({"ok": True, "type": str(event_type), "class": type(payload).__name__})
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
