"""The container's health check: exit 0 when this process's ``/health`` answers 200.

Docker runs it inside the app container (the Dockerfile's HEALTHCHECK, compose.yaml's
``healthcheck``); it needs only the standard library, so the image carries no curl. It
reads the address from the same settings as ``smalltown run``, and prints one line, which
``docker inspect`` keeps: why the process is unhealthy (the store's error, Redis lost).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

#: listening on every address means the check can reach it on loopback
ANY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}


def health_url(env: dict[str, str]) -> str:
    """Where this container's server answers, from SMALLTOWN_HOST and SMALLTOWN_PORT."""
    host = env.get("SMALLTOWN_HOST", "").strip()
    port = env.get("SMALLTOWN_PORT", "").strip() or "8000"
    if host in ANY_ADDRESS:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/health"


def check(url: str, timeout: float = 8.0) -> tuple[bool, str]:
    """Whether ``url`` answers 200, and one line saying what it answered. The wait is long
    enough for /health's own (5 s for a database connection), so a lost database is
    reported with its error, not as a time-out."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.loads(response.read() or b"{}")
            return True, f"{response.status} {body.get('status', '')}".strip()
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            body = {}
        reasons = [
            f"{part}: {body[part]['error']}"
            for part in ("store", "redis")
            if isinstance(body.get(part), dict) and body[part].get("error")
        ]
        line = f"{exc.code} {body.get('status', exc.reason)}"
        return False, ": ".join([line, "; ".join(reasons)]) if reasons else line
    except (OSError, ValueError) as exc:
        return False, f"{url}: no answer ({exc})"


def main() -> int:
    healthy, line = check(health_url(dict(os.environ)))
    print(line)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
