"""Record every DNS answer as evidence, and ask each question once per run."""

import logging
import threading

from diag.dns.resolver import Answer, Resolver

log = logging.getLogger(__name__)


def evidence(answer: Answer) -> dict:
    """Return the JSON form of one answer: the name, type, status and records a report shows."""
    item = {
        "name": answer.name.rstrip(".").lower(),
        "type": answer.rdtype,
        "status": answer.status,
        "answer": list(answer.records),
    }
    if answer.cname_chain:
        item["cname_chain"] = [name.rstrip(".").lower() for name in answer.cname_chain]
    if answer.ttl is not None:
        item["ttl"] = answer.ttl
    if answer.server:
        item["server"] = answer.server
    if answer.detail:
        item["detail"] = answer.detail
    return item


class MemoResolver:
    """Wrap a Resolver so that each (name, type) is asked once, and keep the queries in order.

    The SPF tree asks for the same include target more than once (each reference counts
    toward the RFC 7208 section 4.6.4 limit), and one DNS answer per question keeps the
    facts of a run consistent with each other.
    """

    def __init__(self, resolver: Resolver):
        self._resolver = resolver
        self._answers: dict[tuple[str, str], Answer] = {}
        self._lock = threading.Lock()
        self.queries: list[tuple[str, str]] = []

    def query(self, name: str, rdtype: str) -> Answer:
        key = (name.rstrip(".").lower(), rdtype.upper())
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None:
            return cached

        answer = self._resolver.query(key[0], key[1])
        log.debug("%s %s -> %s %s", key[0], key[1], answer.status, answer.records)
        with self._lock:
            self._answers[key] = answer
            self.queries.append(key)
        return answer
