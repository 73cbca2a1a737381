"""Outlook .msg input: a compound file written here, read back through extract-msg.

No package in the project's environment writes .msg files (extract-msg and olefile only
read them), so `write_msg` builds a minimal one: a Compound File Binary (MS-CFB) version 3
container with the Outlook property streams that MS-OXMSG section 2.1.3 names for a message.
"""

import struct
from pathlib import Path

import pytest

from diag.audit.sources import read_msg_file
from diag.errors import InputError

SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SECTOR = 512
MINI_SECTOR = 64
MINI_STREAM_CUTOFF = 4096
# Special sector numbers (MS-CFB section 2.1).
FREE, END_OF_CHAIN, FAT_SECTOR, NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
STORAGE, STREAM, ROOT = 1, 2, 5


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def msg_streams(headers: str, subject: str = "Invoice", body: str = "Hello") -> dict[str, bytes]:
    """Return the streams of an IPM.Note: PidTagMessageClass, subject, body and transport headers.

    Stream names are __substg1.0_ + property id + type 001F (Unicode string), MS-OXMSG 2.1.3.
    The property stream of a top-level message starts with a 32-byte header (MS-OXMSG 2.4.1.1).
    """
    return {
        "__properties_version1.0": bytes(32),
        "__substg1.0_001A001F": _utf16("IPM.Note"),
        "__substg1.0_0037001F": _utf16(subject),
        "__substg1.0_1000001F": _utf16(body),
        "__substg1.0_007D001F": _utf16(headers),
    }


def _chain(first: int, count: int) -> list[int]:
    return [first + offset + 1 if offset + 1 < count else END_OF_CHAIN for offset in range(count)]


def _directory_entry(name: str, kind: int, right: int, child: int, start: int, size: int) -> bytes:
    encoded = _utf16(name) + b"\x00\x00"
    return (
        encoded.ljust(64, b"\x00")
        + struct.pack("<HBB", len(encoded), kind, 1)
        + struct.pack("<III", NO_STREAM, right, child)
        + bytes(16 + 4 + 16)
        + struct.pack("<IQ", start, size)
    )


def compound_file(streams: dict[str, bytes]) -> bytes:
    """Return a CFB version 3 file whose root storage holds `streams` (MS-CFB section 2).

    Siblings form a chain through their right pointers in the directory's sort order
    (shorter names first, then by upper-case name), which readers accept as a tree.
    """
    names = sorted(streams, key=lambda name: (len(name), name.upper()))

    # Small streams live in the mini stream, in 64-byte mini sectors.
    mini_stream, mini_fat, big_streams, starts = b"", [], [], {}
    for name in names:
        data = streams[name]
        if len(data) < MINI_STREAM_CUTOFF:
            count = max(1, -(-len(data) // MINI_SECTOR))
            starts[name] = len(mini_fat)
            mini_fat.extend(_chain(len(mini_fat), count))
            mini_stream += data.ljust(count * MINI_SECTOR, b"\x00")
        else:
            big_streams.append(name)

    def sectors(data: bytes) -> int:
        return -(-len(data) // SECTOR)

    directory_count = -(-(len(names) + 1) // 4)
    mini_fat_bytes = b"".join(struct.pack("<I", entry) for entry in mini_fat)
    layout = [("directory", directory_count), ("minifat", sectors(mini_fat_bytes)), ("ministream", sectors(mini_stream))]
    layout += [(name, sectors(streams[name])) for name in big_streams]
    data_sectors = sum(count for _, count in layout)
    fat_count = 1
    while fat_count * (SECTOR // 4) < fat_count + data_sectors:
        fat_count += 1

    fat = [FAT_SECTOR] * fat_count
    first = {}
    for label, count in layout:
        first[label] = len(fat) if count else END_OF_CHAIN
        fat.extend(_chain(len(fat), count))
    fat += [FREE] * (fat_count * SECTOR // 4 - len(fat))
    for name in big_streams:
        starts[name] = first[name]

    entries = [_directory_entry("Root Entry", ROOT, NO_STREAM, 1, first["ministream"], len(mini_stream))]
    for number, name in enumerate(names, start=1):
        right = number + 1 if number < len(names) else NO_STREAM
        entries.append(_directory_entry(name, STREAM, right, NO_STREAM, starts[name], len(streams[name])))
    # Unused entries in the last directory sector are empty, with no siblings or child.
    unused = bytes(64) + struct.pack("<HBB", 0, 0, 0) + struct.pack("<III", NO_STREAM, NO_STREAM, NO_STREAM) + bytes(36) + struct.pack("<IQ", 0, 0)
    entries += [unused] * (directory_count * 4 - len(entries))
    directory = b"".join(entries)

    difat = list(range(fat_count)) + [FREE] * (109 - fat_count)
    header = (
        SIGNATURE
        + bytes(16)
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<IIII", 0, fat_count, first["directory"], 0)
        + struct.pack("<IIIII", MINI_STREAM_CUTOFF, first["minifat"], sectors(mini_fat_bytes), END_OF_CHAIN, 0)
        + b"".join(struct.pack("<I", entry) for entry in difat)
    )
    body = b"".join(struct.pack("<I", entry) for entry in fat)
    body += directory
    body += mini_fat_bytes.ljust(sectors(mini_fat_bytes) * SECTOR, b"\xff")
    body += mini_stream.ljust(sectors(mini_stream) * SECTOR, b"\x00")
    for name in big_streams:
        body += streams[name].ljust(sectors(streams[name]) * SECTOR, b"\x00")
    return header + body


def write_msg(path: Path, headers: str, **fields) -> Path:
    """Write an Outlook .msg file at `path` whose transport headers are `headers`."""
    path.write_bytes(compound_file(msg_streams(headers, **fields)))
    return path


HEADERS = (
    "Received: from a2-27.smtp-out.eu-west-1.amazonses.com (192.0.2.27) by\r\n"
    " mx.example.net with ESMTPS; Tue, 3 Nov 2026 09:14:05 +0000\r\n"
    "Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=eu-west-1.amazonses.com;\r\n"
    " dkim=pass header.d=amazonses.com; dmarc=fail header.from=example.com\r\n"
    "From: Accounts <invoices@example.com>\r\n"
    "Subject: Invoice\r\n"
    "\r\n"
)


def test_msg_reader_returns_transport_headers(tmp_path):
    path = write_msg(tmp_path / "invoice.msg", HEADERS)

    data = read_msg_file(str(path))

    assert data.startswith(b"Received: from a2-27.smtp-out.eu-west-1.amazonses.com")
    assert b"Authentication-Results: mx.example.net;" in data
    assert b"From: Accounts <invoices@example.com>" in data


def test_msg_reader_large_header_stream(tmp_path):
    # 5,000 characters of UTF-16 exceed the 4,096-byte mini stream cutoff: a regular stream.
    headers = HEADERS.replace("Subject: Invoice", "Subject: " + "x" * 5000)
    path = write_msg(tmp_path / "big.msg", headers)

    data = read_msg_file(str(path))

    assert data.count(b"x") >= 5000
    assert data.endswith(b"\r\n\r\n")


def test_msg_reader_not_ole(tmp_path):
    path = tmp_path / "plain.msg"
    path.write_text("Received: by mx.example.net\n")

    with pytest.raises(InputError) as error:
        read_msg_file(str(path))

    assert "not an Outlook .msg file" in str(error.value)
    assert str(path) in str(error.value)


def test_msg_reader_damaged_compound_file(tmp_path):
    path = tmp_path / "damaged.msg"
    path.write_bytes(compound_file(msg_streams(HEADERS))[:700])

    with pytest.raises(InputError) as error:
        read_msg_file(str(path))

    assert "cannot read the Outlook .msg file" in str(error.value)


def test_msg_reader_without_transport_headers(tmp_path):
    # A draft or a sent item has no PidTagTransportMessageHeaders stream.
    streams = msg_streams(HEADERS)
    del streams["__substg1.0_007D001F"]
    path = tmp_path / "draft.msg"
    path.write_bytes(compound_file(streams))

    with pytest.raises(InputError) as error:
        read_msg_file(str(path))

    assert "no transport headers" in str(error.value)


def test_msg_sample_analysed_as_headers():
    from diag.audit.runner import Analyzer, WorkerSettings
    from diag.audit.sources import MSG, Task

    sample = Path(__file__).resolve().parent.parent / "samples" / "audit" / "outlook" / "invoice-0048.msg"

    result = Analyzer(WorkerSettings()).analyze(Task(str(sample), 0, MSG))

    assert result.error is None
    assert result.record["receiver"] == "Microsoft 365"
    assert result.record["compauth"] == "fail"
    assert result.record["from_domain"] == "example.com"
