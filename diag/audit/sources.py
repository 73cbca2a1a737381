"""Find the messages of an audit: files, folders, mbox files, Maildirs and Outlook .msg files.

Listing runs in the parent process and never reads a whole mailbox: an mbox is indexed by
the stdlib `mailbox.mbox` (message offsets only) and each message is read when its turn
comes. Single files are read by the worker that analyses them.
"""

import errno
import hashlib
import logging
import mailbox
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from diag.errors import InputError, UsageError
from diag.messages.files import read_file

log = logging.getLogger(__name__)

# Files that a folder walk picks up. Other files in a folder are skipped, but a file named
# on the command line is read whatever its name.
MESSAGE_SUFFIXES = frozenset({".eml", ".txt", ".hdr"})
MBOX_SUFFIXES = frozenset({".mbox", ".mbx"})
MSG_SUFFIX = ".msg"
LISTED_SUFFIXES = MESSAGE_SUFFIXES | MBOX_SUFFIXES | {MSG_SUFFIX}
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
# An input left out on purpose (a symbolic link to a folder, a second path to the same file):
# listed in the report at info level, not counted as an input error.
SKIPPED = "skipped"
# Source kind of an mbox, which the parent expands into BYTES tasks.
MBOX = "mbox"


@dataclass(frozen=True)
class Task:
    """One message to analyse, or an input that could not be listed.

    `data` carries the message for BYTES tasks (messages of an mbox, read by the parent);
    `reason` carries the message of ERROR and SKIPPED tasks.
    """

    path: str
    index: int
    kind: str
    data: bytes | None = None
    reason: str | None = None


@dataclass
class Source:
    """An input found while listing: one file, one mbox, an error, or an input skipped on purpose."""

    path: str
    kind: str
    # Number of messages, known after listing (the mbox is indexed then, and closed again).
    count: int = 1
    reason: str | None = None
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
    """Return the inputs under `paths` in a stable order: folders are walked recursively.

    Symbolic links named on the command line are followed, as `find -H` does. Inside a
    folder, a link to a folder is listed as SKIPPED and not followed, so a link loop cannot
    recurse, and a link to a file is followed only when it points at a regular file. A file
    reached twice (through a link, a hard link or two overlapping paths) is analysed once:
    files are told apart by (st_dev, st_ino).
    """
    listing = _Listing()
    sources: list[Source] = []
    for path in paths:
        found = list(listing.sources_of(path, named=True))
        if not found:
            found = [Source(path, ERROR, reason=(
                f"{path}: no message files found (looked for {', '.join(sorted(LISTED_SUFFIXES))} "
                "files and Maildirs); pass a file or a folder that contains some"))]
        sources.extend(found)
    return sources


class _Listing:
    """One listing run: remembers the files and folders already seen, by (st_dev, st_ino)."""

    def __init__(self) -> None:
        # First path seen for each file or folder; one entry per input file, which listing
        # keeps anyway as a Source.
        self.seen: dict[tuple[int, int], str] = {}

    def sources_of(self, path: str, named: bool, in_maildir: bool = False) -> Iterator[Source]:
        """Yield the sources at `path`. `named` is True for a path given by the user.

        A file found in a folder walk is listed only with a known suffix, but every file of
        a Maildir (`in_maildir`) is one message whatever its name.
        """
        try:
            info = os.stat(path)
        except OSError as error:
            yield Source(path, ERROR, reason=_stat_error(path, error))
            return

        if stat.S_ISDIR(info.st_mode):
            first = self._repeated(path, info)
            if first is not None:
                yield Source(path, SKIPPED, reason=f"{path}: same folder as {first}, which is already listed")
                return
            yield from self._folder_sources(path)
            return
        suffix = os.path.splitext(path)[1].lower()
        if not (named or in_maildir or suffix in LISTED_SUFFIXES):
            return
        if not stat.S_ISREG(info.st_mode):
            # Opening a FIFO or a device could block forever, so it is reported without a read.
            yield Source(path, ERROR, reason=f"{path}: not a regular file ({_file_type(info.st_mode)}); pass a message file, an mbox or a folder")
            return
        first = self._repeated(path, info)
        if first is not None:
            yield Source(path, SKIPPED, reason=f"{path}: same file as {first}, which is already listed; analysed once")
            return
        yield Source(path, FILE) if in_maildir else _file_source(path, suffix)

    def _repeated(self, path: str, info: os.stat_result) -> str | None:
        """Return the path under which the file or folder of `info` was first seen, or None (and remember it)."""
        key = (info.st_dev, info.st_ino)
        first = self.seen.get(key)
        if first is None:
            self.seen[key] = path
        return first

    def _folder_sources(self, folder: str) -> Iterator[Source]:
        """Yield the sources under `folder`, sorted by name; a Maildir contributes each message file."""
        if _is_maildir(folder):
            yield from self._maildir_sources(folder)
            return

        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            yield Source(folder, ERROR, reason=f"{folder}: cannot list the folder: {error.strerror}")
            return
        for entry in entries:
            if entry.is_symlink():
                yield from self._link_sources(entry.path)
            elif entry.is_dir(follow_symlinks=False):
                yield from self._folder_sources(entry.path)
            else:
                yield from self.sources_of(entry.path, named=False)

    def _link_sources(self, path: str, in_maildir: bool = False) -> Iterator[Source]:
        """Yield the sources of a symbolic link met in a folder: its file, or a SKIPPED or ERROR entry."""
        try:
            info = os.stat(path)
        except FileNotFoundError:
            yield Source(path, ERROR, reason=f"{path}: broken symbolic link (its target {_link_target(path)} does not exist); remove the link or restore the target")
            return
        except OSError as error:
            # ELOOP lands here: a link to itself or a chain of links that loops.
            yield Source(path, ERROR, reason=_stat_error(path, error))
            return

        if stat.S_ISDIR(info.st_mode):
            yield Source(path, SKIPPED, reason=f"{path}: symbolic link to a folder ({_link_target(path)}), not followed; pass the folder itself to include it")
        elif stat.S_ISREG(info.st_mode):
            yield from self.sources_of(path, named=False, in_maildir=in_maildir)
        else:
            yield Source(path, SKIPPED, reason=f"{path}: symbolic link to {_file_type(info.st_mode)}, not followed; only links to regular files are read")

    def _maildir_sources(self, folder: str) -> Iterator[Source]:
        """Yield each message file of a Maildir's new/ and cur/ (maildir(5)); tmp/ is still being written.

        The files are listed here instead of through mailbox.Maildir because its keys do not
        give the file path, and the path is what identifies the message in the report.
        """
        for subfolder in MAILDIR_MESSAGE_SUBFOLDERS:
            location = os.path.join(folder, subfolder)
            try:
                with os.scandir(location) as listing:
                    entries = sorted(listing, key=lambda entry: entry.name)
            except OSError as error:
                yield Source(location, ERROR, reason=f"{location}: cannot list the Maildir folder: {error.strerror}")
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_symlink():
                    yield from self._link_sources(entry.path, in_maildir=True)
                elif entry.is_file(follow_symlinks=False):
                    yield from self.sources_of(entry.path, named=False, in_maildir=True)
                else:
                    yield Source(entry.path, ERROR, reason=f"{entry.path}: not a regular file in a Maildir; remove it or move it out of {location}")


def _stat_error(path: str, error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return f"{path}: file not found"
    if isinstance(error, PermissionError):
        return f"{path}: permission denied; check the permissions of the path"
    if error.errno == errno.ELOOP:
        return f"{path}: too many levels of symbolic links (a link loop); remove the link or point it at a file"
    return f"{path}: cannot read: {error.strerror}"


def _link_target(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "unknown"


def _file_source(path: str, suffix: str) -> Source:
    """Return the source of a regular file by its suffix, or by its first bytes for another suffix."""
    if suffix in MBOX_SUFFIXES:
        return _mbox_source(path)
    if suffix == MSG_SUFFIX:
        return Source(path, MSG)
    if suffix in MESSAGE_SUFFIXES:
        return Source(path, FILE)
    return _sniffed_source(path)


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


def _is_maildir(folder: str) -> bool:
    return all(os.path.isdir(os.path.join(folder, name)) for name in MAILDIR_SUBFOLDERS)


def _mbox_source(path: str) -> Source:
    """Count the messages of an mbox and close it again; an empty or foreign file is an error.

    The file is not kept open: a batch can hold more mbox files than the open-file limit
    (ulimit -n), so each is opened again when its messages are read (iter_tasks). That scans
    the mbox twice, which costs far less than the analysis of its messages.
    """
    try:
        box = mailbox.mbox(path, create=False)
        try:
            count = len(box)
        finally:
            box.close()
        truncated = count > 0 and _ends_without_line_break(path)
    except (OSError, mailbox.Error) as error:
        return Source(path, ERROR, reason=f"{path}: cannot read the mbox: {getattr(error, 'strerror', None) or error}")
    if count == 0:
        return Source(path, ERROR, reason=f"{path}: no messages found: an mbox starts each message with a 'From ' line (RFC 4155); pass .eml files or a folder instead")
    return Source(path, MBOX, count=count, truncated=truncated)


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
        if source.kind in (ERROR, SKIPPED):
            yield Task(source.path, 0, source.kind, reason=source.reason)
        else:
            yield Task(source.path, 0, source.kind)


def _mbox_tasks(source: Source, shard: Shard | None) -> Iterator[Task]:
    """Yield the tasks of an mbox, opened only while its messages are read.

    Any OSError (the file gone, the open-file limit reached) becomes an ERROR task for each
    message not read, so the task count stays what count_tasks returned.
    """
    wanted = [index for index in range(source.count) if shard is None or shard.contains(source.path, index)]
    if not wanted:
        return
    try:
        box = mailbox.mbox(source.path, create=False)
    except (OSError, mailbox.Error) as error:
        reason = f"{source.path}: cannot open the mbox: {getattr(error, 'strerror', None) or error}"
        for index in wanted:
            yield Task(source.path, index, ERROR, reason=reason)
        return

    try:
        yield from _read_mbox(box, source, wanted)
    finally:
        box.close()


def _read_mbox(box: mailbox.mbox, source: Source, wanted: list[int]) -> Iterator[Task]:
    try:
        keys = box.keys()
    except OSError as error:
        keys = []
        log.warning("%s: cannot index the mbox again: %s", source.path, error.strerror)
    if len(keys) != source.count:
        log.warning("%s: the mbox held %d messages when listed and %d now; it changed during the audit", source.path, source.count, len(keys))

    for index in wanted:
        if index >= len(keys):
            yield Task(source.path, index, ERROR, reason=f"{source.path}: message {index} is gone: the mbox changed during the audit; run it again")
            continue
        if source.truncated and index == source.count - 1:
            reason = (f"{source.path}: message {index} is cut off: the mbox ends without a line break, "
                      "so the file was probably truncated; copy it again")
            yield Task(source.path, index, ERROR, reason=reason)
            continue
        try:
            data = box.get_bytes(keys[index])
        except OSError as error:
            yield Task(source.path, index, ERROR, reason=f"{source.path}: cannot read message {index}: {error.strerror}")
            continue
        yield Task(source.path, index, BYTES, data=data)


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
