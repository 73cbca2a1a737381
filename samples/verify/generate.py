"""Write the signed sample messages of samples/verify/ and the zone files that hold their keys.

Run from the repository root: `.venv/bin/python samples/verify/generate.py`. Every run makes
new keys, so the messages and samples/zones/verify-*.zone are rewritten together. Private
keys are not kept. The messages use the signing helpers of tests/test_verify_signing.py.
"""

import email.utils
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.test_verify_arc import seal  # noqa: E402
from tests.test_verify_signing import message, rsa_key, sign, sign_with_times, zone_text  # noqa: E402

SHOP = "verify-shop.example.org"
LIST = "verify-list.example.com"
SHOP_IP = "192.0.2.25"
LIST_IP = "198.51.100.30"
OUT = ROOT / "samples" / "verify"
ZONES = ROOT / "samples" / "zones"


def received_date(offset: int = 0) -> str:
    return email.utils.formatdate(time.time() + offset, usegmt=True)


def delivered(signed: bytes, results: str, *, ip: str = SHOP_IP, helo: str = f"mail.{SHOP}") -> bytes:
    return (
        f"Authentication-Results: mx.example.net;\r\n {results}\r\n"
        f"Received: from {helo} ({helo} [{ip}])\r\n by mx.example.net (Postfix) with ESMTPS id 4QZk9r1xTfz9vBq\r\n"
        f" for <lee@example.net>; {received_date(5)}\r\n"
    ).encode("ascii") + signed


def results(dkim: str = "pass", spf: str = "pass", dmarc: str = "pass", selector: str = "s2026") -> str:
    return f"dkim={dkim} header.d={SHOP} header.s={selector};\r\n spf={spf} smtp.mailfrom=bounce@{SHOP};\r\n dmarc={dmarc} header.from={SHOP}"


def main() -> None:
    key, old_key, list_key = rsa_key(2048), rsa_key(2048), rsa_key(2048)
    (ZONES / f"{SHOP}.zone").write_text(
        "; Written by samples/verify/generate.py: the keys of the signed samples in samples/verify/.\n"
        + zone_text(SHOP, [
            ("@", "TXT", f'"v=spf1 ip4:{SHOP_IP} -all"'),
            ("mail", "TXT", f'"v=spf1 ip4:{SHOP_IP} -all"'),
            ("_dmarc", "TXT", '"v=DMARC1; p=reject"'),
            ("s2026._domainkey", "TXT", key.record()),
            ("revoked._domainkey", "TXT", '"v=DKIM1; k=rsa; p="'),
        ])
    )
    (ZONES / f"{LIST}.zone").write_text(
        "; Written by samples/verify/generate.py: the ARC key of the sample mailing list.\n"
        + zone_text(LIST, [("@", "TXT", f'"v=spf1 ip4:{LIST_IP} -all"'), ("arc._domainkey", "TXT", list_key.record())])
    )

    def signed(**options) -> bytes:
        return sign(message(sender=f"news@{SHOP}", **options), key, "s2026", SHOP)

    now = int(time.time())
    samples = {
        "good.eml": delivered(signed(), results()),
        "footer-appended.eml": delivered(signed() + b"--\r\nThis message was scanned by Example Gateway.\r\n", results(dkim="fail (body hash did not verify)")),
        "subject-tagged.eml": delivered(signed().replace(b"Subject: ", b"Subject: [EXTERNAL] "), results(dkim="fail (signature did not verify)")),
        "receiver-fail-now-pass.eml": delivered(signed(), results(dkim="fail (no key for signature)", dmarc="pass")),
        "key-rotated.eml": delivered(sign(message(sender=f"news@{SHOP}"), old_key, "s2025", SHOP), results(selector="s2025")),
        "dmarc-none-then.eml": delivered(signed(), results(dmarc="none")),
        "spf-changed.eml": delivered(signed(), results(), ip="203.0.113.9", helo="out.example.net"),
        "length-tag.eml": delivered(sign(message(sender=f"news@{SHOP}"), key, "s2026", SHOP, length=True) + b"Unsubscribe: https://unsubscribe.example.net/u/8812\r\n", results()),
        "expired.eml": delivered(sign_with_times(message(sender=f"news@{SHOP}", date=email.utils.formatdate(now - 30 * 86400, usegmt=True)), key, "s2026", SHOP, signed_at=now - 30 * 86400, expires=now - 29 * 86400), results()),
        # x= an hour before the Date field: the signer's clock or lifetime setting is wrong.
        "expired-before-sent.eml": delivered(sign_with_times(message(sender=f"news@{SHOP}", date=email.utils.formatdate(now, usegmt=True)), key, "s2026", SHOP, signed_at=now - 7200, expires=now - 3600), results()),
        # Copies without the receiver's fields, as exported from a Sent folder.
        "no-receiver-good.eml": signed(),
        "no-receiver-key-missing.eml": sign(message(sender=f"news@{SHOP}"), old_key, "s2024", SHOP),
        "rsa-sha1.eml": delivered(sign(message(sender=f"news@{SHOP}"), key, "s2026", SHOP, algorithm=b"rsa-sha1"), results(dkim="fail (rsa-sha1 not accepted)", dmarc="fail")),
        "key-revoked.eml": delivered(sign(message(sender=f"news@{SHOP}"), key, "revoked", SHOP), results(dkim="permerror (key revoked)", selector="revoked", dmarc="pass")),
    }

    # A list re-sends the shop's message with a subject tag and a footer, and seals it (ARC).
    listed = signed().replace(b"Subject: ", b"Subject: [shop-news] ") + b"--\r\nshop-news mailing list\r\n"
    listed = f"Received: from mail.{SHOP} (mail.{SHOP} [{SHOP_IP}])\r\n by lists.{LIST} with ESMTPS id 77AB12; {received_date(2)}\r\n".encode() + listed
    sealed = seal(listed, list_key, LIST, f"dkim=pass header.d={SHOP}; spf=pass smtp.mailfrom=bounce@{SHOP}")
    arc_results = f"arc=pass;\r\n dkim=fail header.d={SHOP};\r\n spf=pass smtp.mailfrom=bounce@{LIST};\r\n dmarc=fail header.from={SHOP}"
    samples["arc-good.eml"] = delivered(sealed, arc_results, ip=LIST_IP, helo=f"lists.{LIST}")
    samples["arc-tampered.eml"] = delivered(sealed + b"Appended by a hop after the list sealed the message.\r\n", arc_results.replace("arc=pass", "arc=fail"), ip=LIST_IP, helo=f"lists.{LIST}")

    for name, data in samples.items():
        (OUT / name).write_bytes(data)
    print(f"wrote {len(samples)} messages to {OUT} and the zones {SHOP}, {LIST} to {ZONES}")


if __name__ == "__main__":
    main()
