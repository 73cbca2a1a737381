"""The reader's MIME tree of a multipart body against the stdlib parser's (compat32 policy)."""

import email
import email.policy

import pytest

from diag.messages.mime import split_multipart
from diag.messages.reader import read_message

HEAD = "From: a@example.net\nTo: b@example.com\nSubject: Parts\nMIME-Version: 1.0\n"
ALTERNATIVE = 'Content-Type: multipart/alternative; boundary="b1"\n'

PLAIN = "Content-Type: text/plain; charset=utf-8\n\nHello Alice.\n"
HTML = 'Content-Type: text/html; charset=utf-8\n\n<p>Hello <a href="https://www.example.net/">Alice</a>.</p>\n'

# Each body follows HEAD and starts with its Content-Type field. The key names the case.
BODIES = {
    "two parts": ALTERNATIVE + "\n--b1\n" + PLAIN + "\n--b1\n" + HTML + "\n--b1--\n",
    "preamble": ALTERNATIVE + "\nThis is a MIME message.\n\n--b1\n" + PLAIN + "--b1--\n",
    "blank preamble": ALTERNATIVE + "\n\n--b1\n" + PLAIN + "--b1--\n",
    "epilogue": ALTERNATIVE + "\n--b1\n" + PLAIN + "--b1--\ntrailing text\n\n",
    "no final newline": ALTERNATIVE + "\n--b1\n" + PLAIN + "--b1--",
    "space after boundary": ALTERNATIVE + "\n--b1 \t\n" + PLAIN + "--b1-- \n",
    "part without fields": ALTERNATIVE + "\n--b1\n\nno header fields here\n--b1--\n",
    "empty payload": ALTERNATIVE + "\n--b1\nContent-Type: text/plain\n\n--b1--\n",
    "boundary-like text": ALTERNATIVE + "\n--b1\n" + PLAIN + "--b1x is not a boundary\n--b1 --\n--b1--\n",
    "boundary after close": ALTERNATIVE + "\n--b1\n" + PLAIN + "--b1--\n--b1\nmore epilogue\n",
    "folded part field": ALTERNATIVE + "\n--b1\nContent-Type: text/plain;\n charset=utf-8\n\nfolded\n--b1--\n",
    "nested": (
        'Content-Type: multipart/mixed; boundary="outer"\n\n--outer\n'
        'Content-Type: multipart/alternative; boundary="inner"\n\npreamble\n--inner\n' + PLAIN
        + "--inner\n" + HTML + "--inner--\n\n--outer\n"
        'Content-Type: text/plain; name="a.txt"\nContent-Disposition: attachment\n\nattached\n--outer--\n'
    ),
    "nested no epilogue": (
        'Content-Type: multipart/mixed; boundary="outer"\n\n--outer\n'
        'Content-Type: multipart/alternative; boundary="inner"\n\n--inner\n' + PLAIN
        + "--inner--\n--outer--\n"
    ),
    # The stdlib parser handles these itself (the reader falls back to it).
    "no close boundary": ALTERNATIVE + "\n--b1\n" + PLAIN,
    "no start boundary": ALTERNATIVE + "\ntext only\n--b1--\n",
    "adjacent boundaries": ALTERNATIVE + "\n--b1\n--b1\n" + PLAIN + "--b1--\n",
    "digest": 'Content-Type: multipart/digest; boundary="b1"\n\n--b1\n\n' + HEAD + "\nquoted\n--b1--\n",
    "message part": ALTERNATIVE + "\n--b1\nContent-Type: message/rfc822\n\n" + HEAD + "\nquoted\n--b1--\n",
    "part without blank line": ALTERNATIVE + "\n--b1\nContent-Type: text/plain\n--b1--\n",
    "part field without space": ALTERNATIVE + "\n--b1\nContent-Type:text/plain\n\nx\n--b1--\n",
    "no boundary parameter": "Content-Type: multipart/mixed\n\n--b1\n" + PLAIN + "--b1--\n",
    "non-ASCII part": ALTERNATIVE + "\n--b1\nContent-Type: text/plain; charset=utf-8\nContent-Description: Gr\u00fc\u00dfe\n\nGr\u00fc\u00dfe\n--b1--\n",
}


def tree(message):
    """Return what a walk of the message shows, for comparison."""
    parts = []
    for part in message.walk():
        payload = None if part.is_multipart() else part.get_payload()
        parts.append((part.items(), payload, part.preamble, part.epilogue, len(part.defects), part.get_default_type()))
    return parts


def message_bytes(name: str, line_ending: str) -> bytes:
    body = BODIES.get(name) or BODIES_LEFT_TO_STDLIB[name]
    return (HEAD + body).replace("\n", line_ending).encode("utf-8")


@pytest.mark.parametrize("line_ending", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("name", BODIES)
def test_tree_matches_stdlib(name, line_ending):
    data = message_bytes(name, line_ending)
    expected = email.message_from_bytes(data, policy=email.policy.compat32)
    parsed = read_message(data, source="m.eml")
    assert tree(parsed.email) == tree(expected)
    assert parsed.email.as_bytes() == expected.as_bytes()


# Not compared above: the reader's parse records no defect for a multipart's transfer
# encoding, while the stdlib records one (RFC 2045 section 6.4 allows only 7bit, 8bit and
# binary there).
BODIES_LEFT_TO_STDLIB = {
    "quoted-printable multipart": ALTERNATIVE + "Content-Transfer-Encoding: quoted-printable\n\n--b1\n" + PLAIN + "--b1--\n",
}


def split(name: str):
    data = message_bytes(name, "\n")
    top = email.message_from_bytes(data.split(b"\n\n", 1)[0] + b"\n\n", policy=email.policy.compat32)
    top.set_payload(None)
    return split_multipart(top, data.split(b"\n\n", 1)[1].decode("ascii", "surrogateescape"), "\n")


@pytest.mark.parametrize("name", ["two parts", "nested", "epilogue", "part without fields"])
def test_split_handles(name):
    assert split(name) is not None


@pytest.mark.parametrize(
    "name",
    [
        "no close boundary", "no start boundary", "adjacent boundaries", "digest", "message part",
        "part without blank line", "part field without space", "no boundary parameter", "quoted-printable multipart",
    ],
)
def test_split_leaves_to_stdlib(name):
    assert split(name) is None


def test_mixed_body_line_endings():
    data = message_bytes("two parts", "\n").replace(b"Hello Alice.\n", b"Hello Alice.\r\n")
    expected = email.message_from_bytes(data, policy=email.policy.compat32)
    parsed = read_message(data, source="m.eml")
    assert tree(parsed.email) == tree(expected)
