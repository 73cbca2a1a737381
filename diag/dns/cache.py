"""A per-run cache of DNS answers, shared by the threads of one process."""

import threading

from diag.dns.resolver import Answer


def cache_key(name: str, rdtype: str) -> tuple[str, str]:
    """Return the key of a question: DNS names compare case-insensitively (RFC 4343)."""
    return name.rstrip(".").lower(), rdtype.upper()


class AnswerCache:
    """Answers keyed by (lower-case name without the final dot, upper-case type).

    Entries never expire: a run reads DNS once, so every check in one report sees the
    same answer for the same question. Use `clear()` (or a new cache) to see changes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str], Answer] = {}
        self.hits = 0
        self.misses = 0

    def get(self, name: str, rdtype: str) -> Answer | None:
        with self._lock:
            answer = self._answers.get(cache_key(name, rdtype))
            if answer is None:
                self.misses += 1
            else:
                self.hits += 1
            return answer

    def put(self, name: str, rdtype: str, answer: Answer) -> None:
        with self._lock:
            self._answers[cache_key(name, rdtype)] = answer

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._answers)
