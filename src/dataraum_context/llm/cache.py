"""The LLM response cache: answers kept in the workspace, keyed by what produced them.

    <workspace>/llm_cache/<k[:2]>/<k>.json     k = sha256(provider, model, prompt, output schema)

An entry holds the validated answer, its token usage and when it was stored; it never holds a
credential (the key is neither in the prompt nor in the entry). Entries older than the TTL are
ignored and overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from pathlib import Path

from dataraum_context.models import Frozen
from dataraum_context.workspace import write_atomically

CACHE_DIR = "llm_cache"


class ResponseCache(Frozen):
    """Where answers are kept and for how long. `directory` None: nothing is read or written.
    `run_token` is fresh on every run while the cache is off, so that Hamilton's own cache
    does not serve the step an earlier answer either."""

    directory: str | None
    ttl_s: float
    run_token: str | None = None

    @classmethod
    def in_workspace(cls, workspace: str | os.PathLike[str], ttl_s: float, enabled: bool = True) -> ResponseCache:
        if not enabled:
            return cls(directory=None, ttl_s=ttl_s, run_token=uuid.uuid4().hex)
        return cls(directory=str(Path(workspace) / CACHE_DIR), ttl_s=ttl_s)

    @staticmethod
    def key(provider: str, model: str | None, prompt: str, schema: dict) -> str:
        payload = json.dumps([provider, model, prompt, schema], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return Path(str(self.directory)) / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored entry, unless there is none, it is older than the TTL or unreadable."""
        if self.directory is None:
            return None
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or time.time() - entry.get("stored_at", 0) > self.ttl_s:
            return None
        return entry

    def put(self, key: str, entry: dict) -> None:
        """Store an entry atomically (a temporary file renamed), stamped with the time."""
        if self.directory is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps({**entry, "stored_at": time.time()}, ensure_ascii=False))
