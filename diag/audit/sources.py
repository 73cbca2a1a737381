"""Find the messages of an audit: files, folders, mbox files, Maildirs and Outlook .msg files.

Listing runs in the parent process and never reads a whole mailbox: an mbox is indexed by
the stdlib `mailbox.mbox` (message offsets only) and each message is read when its turn
comes. Single files are read by the worker that analyses them.
"""

import hashlib
import logging
import mailbox
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from diag.errors import InputError, UsageError

log = logging.getLogger(__name__)

# Files that a folder walk picks up. Other files in a folder are skipped, but a file named
# on the command line is read whatever its name.
MESSAGE_SUFFIXES = frozenset({".eml", ".txt", ".hdr"})
MBOX_SUFFIXES = frozenset({".mbox", ".mbx"})
MSG_SUFFIX = ".msg"
# Compound File Binary signature (MS-CFB section 2.2), the container of an Outlook .msg.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# An mbox separates messages with lines that start with "From " (RFC 4155, appendix A).
MBOX_MAGIC = b"From "
# The subfolders that make a folder a Maildir (maildir(5)): tmp holds deliveries in progress.
MAILDIR_SUBFOLDERS = ("cur", "new", "tmp")
MAILDIR_MESSAGE_SUBFOLDERS = ("new", "cur")

# Task kinds: how the worker gets the message bytes.
FILE = "file"
MSG = "msg"
BYTES = "bytes"
ERROR = "error"
# Source kind of an mbox, which the parent expands into BYTES tasks.
MBOX = "mbox"


@dataclass(frozen=True)
class Task:
    """One message to analyse, or an input that could not be listed.

    `data` carries the message for BYTES tasks (messages of an mbox, read by the parent);
    `reason` carries the error message for ERROR tasks.
    """

    path: str
    index: int
    kind: str
    data: bytes | None = None
    reason: str | None = None


@dataclass
class Source:
    """An input found while listing: one file, one mbox, or an error."""

    path: str
    kind: str
    # Number of messages, known after listing (the mbox index is built then).
    count: int = 1
    reason: str | None = None
    mbox: mailbox.mbox | None = None
    # True when the mbox does not end with a line break, so its last message was cut off.
    truncated: bool = False


@dataclass(frozen=True)
class Shard:
    """Slice `number` (1-based) of `count` slices of the inputs."""

    number: int
    count: int

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """Parse "I/N". Raises UsageError unless 1 <= I <= N."""
        number, slash, count = text.partition("/")
        if not slash or not number.strip().isdigit() or not count.strip().isdigit():
            raise UsageError(f"--shard {text!r}: expected I/N with whole numbers, for example --shard 2/8")
        shard = cls(int(number), int(count))
        if not 1 <= shard.number <= shard.count:
            raise UsageError(f"--shard {text!r}: I must be between 1 and N, for example --shard 1/{max(shard.count, 1)}")
        return shard

    def contains(self, path: str, index: int) -> bool:
        """Return whether the message at (`path`, `index`) belongs to this shard.

        The slice depends on a hash of the path as given and the index, not on the message's
        position, so adding files to the inputs never moves other messages between shards.
        """
        key = f"{path}\0{index}".encode("utf-8", "surrogateescape")
        digest = hashlib.blake2b(key, digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.count == self.number - 1

    def __str__(self) -> str:
        return f"{self.number}/{self.count}"


def read_path_list(lines: Iterable[str]) -> list[str]:
    """Return the paths of a list given on standard input, one per line; blank lines are skipped."""
    return [line.rstrip("\r\n") for line in lines if line.strip()]


def list_sources(paths: Iterable[str]) -> list[Source]:
    """Return the inputs under `paths` in a stable order: folders are walked recursively."""
    sources: list[Source] = []
    for path in paths:
        found = list(_sources_of(path, named=True))
        if not found:
            found = [Source(path, ERROR, reason=(
                f"{path}: no message files found (looked for {', '.join(sorted(MESSAGE_SUFFIXES | MBOX_SUFFIXES | {MSG_SUFFIX}))} "
                "files and Maildirs); pass a file or a folder that contains some"))]
        sources.extend(found)
    return sources


def _sources_of(path: str, named: bool) -> Iterator[Source]:
    """Yield the sources at `path`. `named` is True for a path given by the user."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        yield Source(path, ERROR, reason=f"{path}: file not found")
        return
    except PermissionError:
        yield Source(path, ERROR, reason=f"{path}: permission denied; check the permissions of the path")
        return
    except OSError as error:
        yield Source(path, ERROR, reason=f"{path}: cannot read: {error.strerror}")
        return

    if stat.S_ISDIR(info.st_mode):
        yield from _folder_sources(path)
        return
    if not stat.S_ISREG(info.st_mode):
        # Opening a FIFO or a device could block forever, so it is reported without a read.
        yield Source(path, ERROR, reason=f"{path}: not a regular file ({_file_type(info.st_mode)}); pass a message file, an mbox or a folder")
        return

    suffix = os.path.splitext(path)[1].lower()
    if suffix in MBOX_SUFFIXES:
        yield _mbox_source(path)
    elif suffix == MSG_SUFFIX:
        yield Source(path, MSG)
    elif suffix in MESSAGE_SUFFIXES:
        yield Source(path, FILE)
    elif named:
        yield _sniffed_source(path)


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"


def _sniffed_source(path: str) -> Source:
    """Classify a file named on the command line by its first bytes: mbox, .msg or one message."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(len(OLE_MAGIC))
    except OSError:
        # The worker reports the read error with the path.
        return Source(path, FILE)
    if start.startswith(MBOX_MAGIC):
        return _mbox_source(path)
    if start == OLE_MAGIC:
        return Source(path, MSG)
    return Source(path, FILE)


def _folder_sources(folder: str) -> Iterator[Source]:
    """Yield the sources under `folder`, sorted by name; a Maildir contributes each message file."""
    if _is_maildir(folder):
        yield from _maildir_sources(folder)
        return

    try:
        walk = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        yield Source(folder, ERROR, reason=f"{folder}: cannot list the folder: {error.strerror}")
        return
    for entry in walk:
        # Symbolic links to folders are not followed, so a link loop cannot recurse forever.
        if entry.is_dir(follow_symlinks=False):
            yield from _folder_sources(entry.path)
        else:
            yield from _sources_of(entry.path, named=False)


def _is_maildir(folder: str) -> bool:
    return all(os.path.isdir(os.path.join(folder, name)) for name in MAILDIR_SUBFOLDERS)


def _maildir_sources(folder: str) -> Iterator[Source]:
    """Yield each message file of a Maildir's new/ and cur/ (maildir(5)); tmp/ is still being written.

    The files are listed here instead of through mailbox.Maildir because its keys do not
    give the file path, and the path is what identifies the message in the report.
    """
    for subfolder in MAILDIR_MESSAGE_SUBFOLDERS:
        location = os.path.join(folder, subfolder)
        try:
            entries = sorted(os.scandir(location), key=lambda entry: entry.name)
        except OSError as error:
            yield Source(location, ERROR, reason=f"{location}: cannot list the Maildir folder: {error.strerror}")
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_file():
                yield Source(entry.path, FILE)
            else:
                yield Source(entry.path, ERROR, reason=f"{entry.path}: not a regular file in a Maildir; remove it or move it out of {location}")


def _mbox_source(path: str) -> Source:
    """Index an mbox (offsets only) and count its messages; an empty or foreign file is an error."""
    try:
        box = mailbox.mbox(path, create=False)
        count = len(box)
        truncated = count > 0 and _ends_without_line_break(path)
    except (OSError, mailbox.Error) as error:
        return Source(path, ERROR, reason=f"{path}: cannot read the mbox: {getattr(error, 'strerror', None) or error}")
    if count == 0:
        box.close()
        return Source(path, ERROR, reason=f"{path}: no messages found: an mbox starts each message with a 'From ' line (RFC 4155); pass .eml files or a folder instead")
    # NOTE: the mbox stays open from listing until its messages are read, so a batch with
    # more mbox files than the open-file limit (ulimit -n) reports the last ones as errors.
    return Source(path, MBOX, count=count, mbox=box, truncated=truncated)


def _ends_without_line_break(path: str) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


def iter_tasks(sources: Iterable[Source], shard: Shard | None = None) -> Iterator[Task]:
    """Yield one task per message in order; mbox messages are read one at a time."""
    for source in sources:
        if source.kind == MBOX:
            yield from _mbox_tasks(source, shard)
            continue
        if shard is not None and not shard.contains(source.path, 0):
            continue
        if source.kind == ERROR:
            yield Task(source.path, 0, ERROR, reason=source.reason)
        else:
            yield Task(source.path, 0, source.kind)


def _mbox_tasks(source: Source, shard: Shard | None) -> Iterator[Task]:
    box = source.mbox
    try:
        for index, key in enumerate(box.iterkeys()):
            if shard is not None and not shard.contains(source.path, index):
                continue
            if source.truncated and index == source.count - 1:
                reason = (f"{source.path}: message {index} is cut off: the mbox ends without a line break, "
                          "so the file was probably truncated; copy it again")
                yield Task(source.path, index, ERROR, reason=reason)
                continue
            try:
                data = box.get_bytes(key)
            except OSError as error:
                yield Task(source.path, index, ERROR, reason=f"{source.path}: cannot read message {index}: {error.strerror}")
                continue
            yield Task(source.path, index, BYTES, data=data)
    finally:
        box.close()


def count_tasks(sources: Iterable[Source], shard: Shard | None = None) -> int:
    """Return the number of tasks that iter_tasks yields, for the progress bar."""
    if shard is None:
        return sum(source.count for source in sources)
    return sum(1 for source in sources for index in range(source.count) if shard.contains(source.path, index))


def load_bytes(task: Task) -> bytes:
    """Return the bytes of the message of `task`. Raises InputError when they cannot be read."""
    if task.kind == BYTES:
        return task.data
    if task.kind == MSG:
        return read_msg_file(task.path)
    return read_file(task.path)


def read_file(path: str) -> bytes:
    """Return the contents of `path`. Raises InputError naming the path and the cause."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied; check the file's permissions") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a message file") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None


def read_msg_file(path: str) -> bytes:
    """Return the transport headers of an Outlook .msg file as message bytes.

    An Outlook .msg stores the headers as received in PidTagTransportMessageHeaders
    (MS-OXPROPS, property 0x007D). The body is not converted back into MIME, so the result
    is a header block and content checks are not applicable to it.
    """
    with_magic = read_prefix(path, len(OLE_MAGIC))
    if with_magic != OLE_MAGIC:
        raise InputError(f"{path}: not an Outlook .msg file (no OLE compound file signature); save the message again from Outlook, or as .eml")

    # extract-msg and its dependencies load only when a .msg file is met.
    import extract_msg
    from extract_msg.exceptions import ExMsgBaseException

    try:
        message = extract_msg.openMsg(path, delayAttachments=True)
    except (ExMsgBaseException, OSError, ValueError, KeyError) as error:
        # olefile raises OSError and ValueError for damaged compound files.
        raise InputError(f"{path}: cannot read the Outlook .msg file: {error}") from None
    try:
        headers = message.headerText
    finally:
        message.close()

    if not headers or not headers.strip():
        raise InputError(f"{path}: the Outlook .msg file has no transport headers (a draft or a sent item); use a message that was received")
    return headers.encode("utf-8", "surrogateescape")


def read_prefix(path: str, size: int) -> bytes:
    """Return the first `size` bytes of `path`. Raises InputError when the file cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied; check the file's permissions") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
