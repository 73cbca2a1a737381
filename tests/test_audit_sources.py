"""Listing audit inputs: folders, mbox, Maildir, .msg, path lists, bad inputs and shards."""

import os
import shutil
from pathlib import Path

import pytest

from diag.audit.sources import (
    BYTES, ERROR, FILE, MSG, SKIPPED, Shard, count_tasks, iter_tasks, list_sources, load_bytes, read_path_list,
)
from diag.errors import InputError, UsageError

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "audit"


def _tasks(*paths, shard=None):
    return list(iter_tasks(list_sources([str(path) for path in paths]), shard))


def _by_path(tasks):
    return {(Path(task.path).relative_to(SAMPLES).as_posix(), task.index): task for task in tasks}


def test_folder_lists_every_kind():
    tasks = _by_path(_tasks(SAMPLES))

    assert tasks[("eml/ses-m365-0042.eml", 0)].kind == FILE
    assert tasks[("eml/nested/ses-yahoo-7001.txt", 0)].kind == FILE
    assert tasks[("outlook/invoice-0048.msg", 0)].kind == MSG
    assert tasks[("invoices.mbox", 2)].kind == BYTES
    assert tasks[("Maildir/new/1793700000.M1P100.mx.example.net", 0)].kind == FILE
    assert tasks[("Maildir/cur/1793700001.M2P100.mx.example.net", 0)].kind == FILE


def test_folder_skips_other_files():
    tasks = _by_path(_tasks(SAMPLES))

    assert ("make_samples.py", 0) not in tasks
    assert not any(path.startswith("Maildir/tmp") for path, _ in tasks)


def test_mbox_messages_keep_index():
    tasks = _tasks(SAMPLES / "invoices.mbox")

    assert [task.index for task in tasks] == [0, 1, 2]
    assert all(task.path == str(SAMPLES / "invoices.mbox") for task in tasks)
    assert b"Invoice 2026-11-0045" in tasks[1].data
    # mailbox.mbox strips the "From " separator line.
    assert not tasks[0].data.startswith(b"From ")


def test_mbox_named_without_suffix(tmp_path):
    copy = tmp_path / "Inbox"
    shutil.copy(SAMPLES / "invoices.mbox", copy)

    tasks = _tasks(copy)

    assert len(tasks) == 3
    assert tasks[0].kind == BYTES


def test_mbox_truncated_last_message():
    tasks = _tasks(SAMPLES / "bad" / "truncated.mbox")

    assert tasks[0].kind == BYTES
    assert tasks[1].kind == ERROR
    assert "truncated" in tasks[1].reason


def test_mbox_without_messages(tmp_path):
    path = tmp_path / "empty.mbox"
    path.write_bytes(b"no From line here\n")

    (task,) = _tasks(path)

    assert task.kind == ERROR
    assert "no messages found" in task.reason


def test_fifo_reported_without_blocking(tmp_path):
    fifo = tmp_path / "stuck.eml"
    os.mkfifo(fifo)

    (task,) = _tasks(tmp_path)

    assert task.kind == ERROR
    assert "not a regular file (a FIFO)" in task.reason


def test_folder_named_like_message(tmp_path):
    folder = tmp_path / "x.eml"
    folder.mkdir()

    (task,) = _tasks(folder)

    assert task.kind == ERROR
    assert "no message files found" in task.reason


def test_missing_path():
    (task,) = _tasks("/nonexistent/audit/input.eml")

    assert task.kind == ERROR
    assert task.reason == "/nonexistent/audit/input.eml: file not found"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode, so chmod 000 cannot deny access")
def test_permission_denied(tmp_path):
    path = tmp_path / "secret.eml"
    path.write_text("From: a@example.com\n")
    path.chmod(0)

    (task,) = _tasks(path)

    with pytest.raises(InputError) as error:
        load_bytes(task)
    assert "permission denied" in str(error.value)


def test_path_list_skips_blank_lines():
    assert read_path_list(["a.eml\n", "\n", "  \n", "dir with space/b.eml\r\n"]) == ["a.eml", "dir with space/b.eml"]


def test_shard_parse_rejects_zero():
    with pytest.raises(UsageError):
        Shard.parse("0/4")


def test_shard_parse_rejects_text():
    with pytest.raises(UsageError):
        Shard.parse("first")


def test_shards_partition_inputs():
    whole = {(task.path, task.index) for task in _tasks(SAMPLES)}

    parts = [{(task.path, task.index) for task in _tasks(SAMPLES, shard=Shard(number, 3))} for number in (1, 2, 3)]

    assert set().union(*parts) == whole
    assert sum(len(part) for part in parts) == len(whole)


def test_shard_stable_when_files_added(tmp_path):
    folder = tmp_path / "batch"
    shutil.copytree(SAMPLES / "eml", folder)
    before = {task.path for task in _tasks(folder, shard=Shard(1, 2))}

    (folder / "aaa-new.eml").write_bytes((SAMPLES / "eml" / "ses-gmail-0043.eml").read_bytes())
    after = {task.path for task in _tasks(folder, shard=Shard(1, 2))}

    assert before <= after


def test_count_matches_tasks_in_shard():
    sources = list_sources([str(SAMPLES)])

    assert count_tasks(sources, Shard(2, 3)) == len(list(iter_tasks(list_sources([str(SAMPLES)]), Shard(2, 3))))


def _message_file(path):
    path.write_bytes((SAMPLES / "eml" / "ses-gmail-0043.eml").read_bytes())
    return path


def _open_descriptors():
    return len(os.listdir("/proc/self/fd"))


def test_link_loop_to_parent_skipped(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    _message_file(inbox / "a.eml")
    (inbox / "up").symlink_to("..")

    tasks = _tasks(tmp_path)

    assert [(Path(task.path).name, task.kind) for task in tasks] == [("a.eml", FILE), ("up", SKIPPED)]
    assert "symbolic link to a folder" in tasks[1].reason


def test_link_to_file_counted_once(tmp_path):
    _message_file(tmp_path / "a.eml")
    (tmp_path / "b.eml").symlink_to("a.eml")

    tasks = _tasks(tmp_path)

    assert [(Path(task.path).name, task.kind) for task in tasks] == [("a.eml", FILE), ("b.eml", SKIPPED)]
    assert "same file as" in tasks[1].reason


def test_hard_link_counted_once(tmp_path):
    _message_file(tmp_path / "a.eml")
    os.link(tmp_path / "a.eml", tmp_path / "c.eml")

    kinds = [task.kind for task in _tasks(tmp_path)]

    assert kinds == [FILE, SKIPPED]


def test_link_to_outside_file_followed(tmp_path):
    outside = _message_file(tmp_path / "outside.eml")
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "linked.eml").symlink_to(outside)

    (task,) = _tasks(folder)

    assert task.kind == FILE
    assert task.path == str(folder / "linked.eml")


def test_broken_link_is_error(tmp_path):
    (tmp_path / "gone.eml").symlink_to(tmp_path / "missing.eml")

    (task,) = _tasks(tmp_path)

    assert task.kind == ERROR
    assert "broken symbolic link" in task.reason


def test_link_to_fifo_skipped(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "pipe.eml").symlink_to(tmp_path / "pipe")

    (task,) = _tasks(tmp_path)

    assert task.kind == SKIPPED
    assert "a FIFO" in task.reason


def test_named_link_to_folder_followed(tmp_path):
    real = tmp_path / "2026-11"
    real.mkdir()
    _message_file(real / "a.eml")
    (tmp_path / "current").symlink_to("2026-11")

    (task,) = _tasks(tmp_path / "current")

    assert task.kind == FILE
    assert task.path == str(tmp_path / "current" / "a.eml")


def test_folder_named_twice_listed_once(tmp_path):
    _message_file(tmp_path / "a.eml")

    tasks = _tasks(tmp_path, tmp_path)

    assert [task.kind for task in tasks] == [FILE, SKIPPED]


def test_mbox_closed_after_listing(tmp_path):
    for number in range(40):
        shutil.copy(SAMPLES / "invoices.mbox", tmp_path / f"{number:02}.mbox")
    before = _open_descriptors()

    sources = list_sources([str(tmp_path)])
    after_listing = _open_descriptors()
    first = next(iter_tasks(sources))

    assert len(sources) == 40
    assert after_listing == before
    assert first.kind == BYTES


def test_mbox_read_one_at_a_time(tmp_path):
    for number in range(10):
        shutil.copy(SAMPLES / "invoices.mbox", tmp_path / f"{number:02}.mbox")
    sources = list_sources([str(tmp_path)])
    before = _open_descriptors()

    peak = max(_open_descriptors() for _ in iter_tasks(sources))

    assert peak <= before + 1
    assert _open_descriptors() == before


def test_mbox_removed_after_listing(tmp_path):
    mbox = tmp_path / "gone.mbox"
    shutil.copy(SAMPLES / "invoices.mbox", mbox)
    sources = list_sources([str(mbox)])
    mbox.unlink()

    tasks = list(iter_tasks(sources))

    assert [task.kind for task in tasks] == [ERROR, ERROR, ERROR]
    assert "cannot open the mbox" in tasks[0].reason
