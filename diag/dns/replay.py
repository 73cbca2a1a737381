"""Record the answers of a run to a JSON file, and answer later runs from that file alone.

File format (version 1), written with sorted keys so that equal recordings are equal bytes:

    {"format": "maildiag-dns-recording", "version": 1,
     "answers": [{"name": ..., "rdtype": ..., "status": ..., "records": [...],
                  "cname_chain": [...], "ttl": ..., "server": ..., "detail": ..., "extra": {...}}]}
"""

import atexit
import json
import logging
import os
import tempfile
import threading
from pathlib import Path

from diag.dns import resolver as status
from diag.dns.cache import cache_key
from diag.dns.resolver import Answer, Resolver
from diag.errors import InputError

log = logging.getLogger(__name__)

FORMAT = "maildiag-dns-recording"
VERSION = 1


def answer_to_json(answer: Answer) -> dict:
    return {
        "name": answer.name,
        "rdtype": answer.rdtype,
        "status": answer.status,
        "records": list(answer.records),
        "cname_chain": list(answer.cname_chain),
        "ttl": answer.ttl,
        "server": answer.server,
        "detail": answer.detail,
        "extra": answer.extra,
    }


def answer_from_json(entry: dict) -> Answer:
    return Answer(
        name=entry["name"],
        rdtype=entry["rdtype"],
        status=entry["status"],
        records=tuple(entry["records"]),
        cname_chain=tuple(entry["cname_chain"]),
        ttl=entry["ttl"],
        server=entry["server"],
        detail=entry["detail"],
        extra=dict(entry.get("extra") or {}),
    )


class RecordingResolver:
    """Pass each question to `inner` and write every question and answer to `path` on close.

    close() also runs at interpreter exit, so a run that ends early still leaves its file.
    A question asked twice is stored once, with the first answer.
    """

    def __init__(self, inner: Resolver, path: str) -> None:
        self.inner = inner
        self.path = path
        self._answers: dict[tuple[str, str], Answer] = {}
        self._lock = threading.Lock()
        self._closed = False
        atexit.register(self.close)

    def query(self, name: str, rdtype: str) -> Answer:
        answer = self.inner.query(name, rdtype)
        with self._lock:
            self._answers.setdefault(cache_key(name, rdtype), answer)
        return answer

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            answers = [answer_to_json(self._answers[key]) | {"question": list(key)} for key in sorted(self._answers)]
        atexit.unregister(self.close)
        document = {"format": FORMAT, "version": VERSION, "answers": answers}
        _write_atomically(self.path, json.dumps(document, indent=2, sort_keys=True) + "\n")
        log.info("recorded %s DNS answers to %s", len(answers), self.path)

    def __enter__(self) -> "RecordingResolver":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _write_atomically(path: str, text: str) -> None:
    """Write through a temporary file in the same folder, so a reader never sees half a file."""
    folder = Path(path).resolve().parent
    try:
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".dns-recording-", suffix=".json")
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as error:
        raise InputError(f"cannot write the DNS recording {path} ({error.strerror}); check that its folder exists and is writable") from None


class ReplayResolver:
    """A resolver that reads answers from a recording only. A question not in it gets `refused`.

    Answers keep the recorded fields, except `server`, which becomes "replay:<file>" so a
    report shows that the answer was not looked up now. The original server is in
    extra["recorded_server"].
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._answers = self._load(path)

    @staticmethod
    def _load(path: str) -> dict[tuple[str, str], Answer]:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise InputError(f"cannot read the DNS recording {path} ({error.strerror}); check the --replay path") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"{path} is not a DNS recording: invalid JSON ({error})") from None

        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise InputError(f"{path} is not a DNS recording: the 'format' field is not {FORMAT!r}")
        if document.get("version") != VERSION:
            raise InputError(f"{path}: DNS recording version {document.get('version')!r} is not supported (expected {VERSION}); record it again with --record")

        answers = {}
        for index, entry in enumerate(document.get("answers", [])):
            try:
                question = entry["question"]
                answers[cache_key(question[0], question[1])] = answer_from_json(entry)
            except (KeyError, IndexError, TypeError) as error:
                raise InputError(f"{path}: answer {index} in the DNS recording is missing a field ({error}); record it again with --record") from None
        log.debug("loaded %s recorded DNS answers from %s", len(answers), path)
        return answers

    def query(self, name: str, rdtype: str) -> Answer:
        recorded = self._answers.get(cache_key(name, rdtype))
        if recorded is None:
            detail = f"not in the recording {self.path}"
            return Answer(name=name.rstrip(".").lower(), rdtype=rdtype.upper(), status=status.REFUSED, server=f"replay:{self.path}", detail=detail)
        extra = dict(recorded.extra) | {"recorded_server": recorded.server}
        return Answer(
            name=recorded.name,
            rdtype=recorded.rdtype,
            status=recorded.status,
            records=recorded.records,
            cname_chain=recorded.cname_chain,
            ttl=recorded.ttl,
            server=f"replay:{self.path}",
            detail=recorded.detail,
            extra=extra,
        )
