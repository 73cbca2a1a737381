"""The message reader: clean messages, the stdlib MIME parse, input errors and real pastes."""

import base64
import email
import email.policy
import hashlib
from pathlib import Path

import pytest

from diag.errors import InputError
from diag.messages.reader import read_message
from diag.messages.model import Header

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "samples"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus/samples")


def read_eml(name: str):
    return read_message((SAMPLES / "eml" / name).read_bytes(), source=name)


# Clean messages: no repairs, fields as written.


def test_clean_crlf_fields():
    parsed = read_eml("clean-multipart-crlf.eml")
    assert [header.name for header in parsed.headers] == [
        "Received", "Authentication-Results", "From", "To", "Subject", "Date", "Message-ID",
        "MIME-Version", "Content-Type",
    ]


def test_clean_crlf_no_repairs():
    assert read_eml("clean-multipart-crlf.eml").repairs == []


def test_clean_crlf_folding_kept():
    parsed = read_eml("clean-multipart-crlf.eml")
    assert parsed.headers[1].value == (
        "mx.example.com;\r\n\tdkim=pass header.d=example.net header.s=s1 header.b=AbCdEf12;\r\n"
        "\tspf=pass smtp.mailfrom=bounce.example.net;\r\n\tdmarc=pass (p=reject) header.from=example.net"
    )


def test_clean_crlf_unfolded():
    parsed = read_eml("clean-multipart-crlf.eml")
    assert parsed.headers[0].unfolded == (
        "from mail-out.example.net (mail-out.example.net [198.51.100.20])\tby mx.example.com (Postfix) "
        "with ESMTPS id 4ABC123\tfor <alice@example.com>; Mon, 2 Dec 2024 22:34:58 +0000 (UTC)"
    )


def test_clean_body_kept():
    data = (SAMPLES / "eml" / "clean-multipart-crlf.eml").read_bytes()
    parsed = read_message(data)
    assert parsed.body == data[data.index(b"\r\n\r\n") + 4 :]


def test_clean_kind_message():
    assert read_eml("clean-multipart-crlf.eml").kind == "message"


def test_source_and_index():
    parsed = read_message(b"From: a@example.net\n", source="in.txt", index=3)
    assert (parsed.source, parsed.index) == ("in.txt", 3)


def test_header_only_kind():
    parsed = read_message(b"Authentication-Results: mx.example.com; spf=pass\nFrom: a@example.net\n")
    assert parsed.kind == "headers"
    assert parsed.body is None
    assert parsed.email is None


def test_trailing_blank_lines_header_only():
    parsed = read_message(b"From: a@example.net\nSubject: x\n\n\n  \n")
    assert parsed.body is None
    assert parsed.repairs == []


def test_no_final_newline():
    parsed = read_message(b"From: a@example.net\nSubject: last")
    assert parsed.headers[1].value == "last"


def test_utf8_header_values():
    parsed = read_eml("utf8-headers.eml")
    assert parsed.first("From").value == "Zo\u00eb <zoe@example.net>"
    assert parsed.first("Subject").value == "Gr\u00fc\u00dfe"
    assert parsed.repairs == []


def test_body_quoting_headers_is_body():
    parsed = read_eml("body-quotes-headers.eml")
    assert [header.name for header in parsed.headers] == ["From", "To", "Subject", "MIME-Version", "Content-Type"]
    assert parsed.body.startswith(b"Received: from mail-out.example.net")
    assert parsed.repairs == []


# The stdlib parse in ParsedMessage.email.


@pytest.mark.parametrize(
    "name", ["clean-multipart-crlf.eml", "utf8-headers.eml", "body-quotes-headers.eml", "empty-body.eml", "whitespace-body.eml"]
)
def test_email_matches_stdlib(name):
    data = (SAMPLES / "eml" / name).read_bytes()
    expected = email.message_from_bytes(data, policy=email.policy.compat32)
    parsed = read_message(data, source=name)
    assert parsed.email.items() == expected.items()
    assert parsed.email.as_bytes() == expected.as_bytes()


# Single-part bodies skip the stdlib parser's line-by-line pass; the payload must be the same.
@pytest.mark.parametrize(
    "name", ["content-html-only-latin1.eml", "content-plain-no-content-type.eml", "utf8-headers.eml", "empty-body.eml"]
)
def test_single_part_payload_matches_stdlib(name):
    data = (SAMPLES / "eml" / name).read_bytes()
    expected = email.message_from_bytes(data, policy=email.policy.compat32)
    parsed = read_message(data, source=name)
    assert parsed.email.get_payload() == expected.get_payload()
    assert parsed.email.get_payload(decode=True) == expected.get_payload(decode=True)
    assert parsed.email.is_multipart() is False


def test_email_mime_parts():
    parsed = read_eml("clean-multipart-crlf.eml")
    types = [part.get_content_type() for part in parsed.email.walk()]
    assert types == ["multipart/alternative", "text/plain", "text/html"]


def test_email_part_payload():
    parsed = read_eml("clean-multipart-crlf.eml")
    html = list(parsed.email.walk())[2]
    assert html.get_payload(decode=True) == b'<p>Hello <a href="https://www.example.net/">Alice</a>.</p>\r\n'


# An empty body: a message in a message file (.eml), a header block in a paste.

HEAD = b"From: a@example.net\nSubject: x\n"


@pytest.mark.parametrize(
    "data, source, message_file, kind, body",
    [
        (HEAD + b"\n", "m.eml", None, "message", b""),
        (HEAD + b"\n", "M.EML", None, "message", b""),
        (HEAD + b"\n \t\n\n", "m.eml", None, "message", b" \t\n\n"),
        (HEAD + b"\n", "-", None, "headers", None),
        (HEAD + b"\n", "p.txt", None, "headers", None),
        (HEAD + b"\n \t\n", "p.txt", None, "headers", None),
        # No blank line: nothing shows that the header block is complete.
        (HEAD, "m.eml", None, "headers", None),
        (HEAD + b"\n", "-", True, "message", b""),
        (HEAD + b"\n", "m.eml", False, "headers", None),
        # Mixed line endings send the input to the repair reader, which decides the same way.
        (b"From: a@example.net\r\nSubject: x\n\r\n", "m.eml", None, "message", b""),
        (b"From: a@example.net\r\nSubject: x\n\r\n", "p.txt", None, "headers", None),
    ],
)
def test_empty_body(data, source, message_file, kind, body):
    parsed = read_message(data, source=source, message_file=message_file)
    assert parsed.kind == kind
    assert parsed.body == body
    assert (parsed.email is not None) == (body is not None)


@pytest.mark.parametrize("name", ["empty-body.eml", "whitespace-body.eml"])
def test_empty_body_hash(name):
    # The body read is the body that DKIM hashed: bh= matches it under the signature's c=.
    from dkim.canonicalization import CanonicalizationPolicy

    parsed = read_eml(name)
    tags = dict(part.strip().split("=", 1) for part in parsed.first("DKIM-Signature").unfolded.split(";") if "=" in part)
    policy = CanonicalizationPolicy.from_c_value(tags["c"].encode("ascii"))
    digest = hashlib.sha256(policy.canonicalize_body(parsed.body)).digest()
    assert base64.b64encode(digest).decode("ascii") == tags["bh"]


def test_whitespace_body_kept():
    assert read_eml("whitespace-body.eml").body == b"\r\n \t\r\n"


# Input errors: one sentence with the source and what to do, never a traceback.


@pytest.mark.parametrize("data", [b"", b"   \n\r\n\t"])
def test_empty_input(data):
    with pytest.raises(InputError, match=r"^x\.eml: the input is empty; pass an \.eml file"):
        read_message(data, source="x.eml")


def test_stdin_named():
    with pytest.raises(InputError, match=r"^standard input: the input is empty"):
        read_message(b"")


def test_binary_nul():
    with pytest.raises(InputError, match=r"^x\.bin: the input is binary"):
        read_message(b"From: a@example.net\n\x00\x01\x02", source="x.bin")


def test_binary_controls():
    with pytest.raises(InputError, match="binary"):
        read_message(bytes(range(1, 9)) * 100, source="x.bin")


def test_outlook_msg():
    with pytest.raises(InputError, match=r"Outlook \.msg file"):
        read_message(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, source="x.msg")


@pytest.mark.parametrize(
    "data",
    [
        b"Dear team, the mail did not arrive. Can you check?\nThanks\n",
        b'{"from": "a@example.net", "spf": "pass"}\n',
        b"name: maildiag\nversion: 1\n",
        b"<html><body>hello</body></html>\n",
    ],
)
def test_not_email(data):
    with pytest.raises(InputError, match=r"^p\.txt: no email header fields found .*paste the full message headers$"):
        read_message(data, source="p.txt")


def test_utf16_input():
    text = "Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=example.net\r\nFrom: a@example.net\r\n"
    parsed = read_message(text.encode("utf-16"))
    assert [header.name for header in parsed.headers] == ["Authentication-Results", "From"]
    assert parsed.repairs[0].kind == "utf-16"


def test_invalid_utf8_in_clean_message():
    parsed = read_message(b"From: a@example.net\nSubject: \xff\xfe broken\n")
    assert parsed.first("Subject").value == "\u00ff\u00fe broken"
    assert [(repair.kind, repair.line) for repair in parsed.repairs] == [("non-utf8", 2)]


# Real pastes (read only; the corpus is not part of the repository).


def corpus_files():
    if not CORPUS.is_dir():
        return []
    return sorted(path for path in CORPUS.iterdir() if path.suffix in (".txt", ".eml"))


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus of real headers is not present")
@pytest.mark.parametrize("path", corpus_files(), ids=lambda path: path.name)
def test_corpus_reads(path):
    data = path.read_bytes()
    parsed = read_message(data, source=str(path))
    assert len(parsed.headers) > 0

    # Every Authentication-Results or Received field that starts a line of the header
    # block is read. The header block is the input less the body that the reader found.
    head = data
    if parsed.body is not None:
        end = data.rfind(parsed.body)
        head = data[:end] if end >= 0 else data[: data.replace(b"\r\n", b"\n").find(b"\n\n")]
    lowered = b"\n" + head.lower()
    for name in (b"authentication-results", b"received"):
        if b"\n" + name + b":" in lowered or b"\t" + name + b"\t" in lowered:
            assert parsed.get_all(name.decode()), f"{path.name}: no {name.decode()} field read"


@pytest.mark.parametrize("value, expected", [
    ("a\r\n b", "a b"),
    ("a\n\tb\n c", "a\tb c"),
    ("a\r\r\n b", "a\r b"),
    # A line break without whitespace after it is no fold and becomes a space.
    ("a\nb\n c", "a b c"),
    ("a\r\nb", "a b"),
    ("  a\n ", "a"),
])
def test_header_unfolded_forms(value, expected):
    assert Header("X-Test", value, 0).unfolded == expected


def test_header_unfolded_kept():
    header = Header("Subject", "a\r\n b", 0)
    first = header.unfolded
    assert first == "a b"
    assert header.unfolded is first


def test_header_equality_fields():
    header = Header("Subject", "hello", 2)
    assert header == Header("Subject", "hello", 2)
    assert hash(header) == hash(Header("Subject", "hello", 2))
    # Names compare as written: the index by name is where case is ignored.
    assert header != Header("subject", "hello", 2)
    assert header != Header("Subject", "hello ", 2)
    assert header != Header("Subject", "hello", 3)
    assert header != ("Subject", "hello", 2)


def test_header_repr_fields():
    header = Header(name="To", value="a@example.com", position=1)
    assert repr(header) == "Header(name='To', value='a@example.com', position=1)"
    assert header.lowered_name == "to"
