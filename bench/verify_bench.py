"""Full verification throughput against a bare dkimpy loop; run through bench/run.py --only verify.

Both loops run in one process on one core over the signed samples in samples/verify/, with
keys cached. The facts of each message are built before timing, because only the
verification is measured. DNS answers come from samples/zones through the zone-file
resolver, and the baseline's dnsfunc returns the same key records from a dictionary, so
neither side touches the network. The baseline verifies every DKIM-Signature with
`DKIM.verify(idx=)` and runs `dkim.arc_verify` on messages that carry ARC fields. maildiag
also evaluates SPF and DMARC and classifies every failure.
"""

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_MESSAGES = 1000
ROUNDS = 5


def prepare() -> tuple[list[tuple[bytes, dict]], object]:
    """Return [(message, facts)] for the samples and a VerifySession over the sample zones."""
    from diag.dns.zonefile import ZoneResolver
    from diag.facts.build import build_facts
    from diag.messages.reader import read_message
    from diag.verify.collect import VerifySession

    resolver = ZoneResolver(sorted(str(path) for path in (ROOT / "samples" / "zones").glob("*.zone")))
    prepared = []
    for path in sorted((ROOT / "samples" / "verify").glob("*.eml")):
        data = path.read_bytes()
        prepared.append((data, build_facts(read_message(data, source=str(path)))))
    return prepared, VerifySession(resolver)


def rows(messages: int) -> list[tuple[str, str, str]]:
    import dkim

    from diag.verify.collect import collect

    prepared, session = prepare()
    count = min(messages, MAX_MESSAGES)
    work = [prepared[number % len(prepared)] for number in range(count)]

    # Warm both key caches so that the timed loops measure verification, not DNS.
    for data, facts in prepared:
        collect(data, facts, session)
    texts: dict[str, bytes | None] = {}

    def dnsfunc(name, timeout=5):
        key = name.decode("ascii").rstrip(".").lower()
        if key not in texts:
            texts[key] = session.keys.dnsfunc(name)
        return texts[key]

    def bare(data: bytes) -> None:
        verifier = dkim.DKIM(data, minkey=1024)
        signatures = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
        for index in range(signatures):
            try:
                verifier.verify(idx=index, dnsfunc=dnsfunc)
            except dkim.DKIMException:
                pass
        if b"ARC-Seal:" in data:
            dkim.arc_verify(data, dnsfunc=dnsfunc)

    for data, _facts in prepared:
        bare(data)

    # Alternate the two loops and keep each one's fastest round, so that load from other
    # processes on the machine during one round does not decide the ratio.
    bare_times, ours_times = [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for data, _facts in work:
            bare(data)
        bare_times.append(time.perf_counter() - start)

        start = time.perf_counter()
        for data, facts in work:
            collect(data, facts, session)
        ours_times.append(time.perf_counter() - start)
    bare_rate, ours_rate = count / min(bare_times), count / min(ours_times)

    note = f"bare dkimpy verify loop: {bare_rate:,.0f}/s; ratio {ours_rate / bare_rate:.2f} (target >= 0.8)"
    return [(f"verify, {count:,} messages ({len(prepared)} samples), best of {ROUNDS}", f"{ours_rate:,.0f} msg/s", note)]
