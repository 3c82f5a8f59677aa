"""The wipe empties what a program left, whatever it did to the tree, and never follows a link."""

from __future__ import annotations

import os

from sandbox import cleanup


def test_wipe_empties_read_only_deep_and_odd_trees(tmp_path):
    work = tmp_path / "work"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("must survive")
    (work / "ro" / "x").mkdir(parents=True)
    (work / "ro" / "x" / "f").write_text("x")
    os.chmod(work / "ro" / "x", 0o500)
    os.chmod(work / "ro", 0o000)
    fd = os.open(work, os.O_RDONLY)
    for _ in range(1500):  # deeper than Python's recursion limit
        os.mkdir("d", dir_fd=fd)
        fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
    os.close(fd)
    os.symlink(outside, work / "link")
    os.symlink(outside / "keep", work / "file-link")
    os.mkfifo(work / "fifo")
    for i in range(300):
        (work / f"f{i}").write_text("")
    assert cleanup.wipe(str(work), budget_s=120)  # tmp_path is a disk: slower than the sandbox's tmpfs
    assert os.listdir(work) == []
    assert (outside / "keep").read_text() == "must survive"


def test_wipe_of_a_missing_dir_is_complete(tmp_path):
    assert cleanup.wipe(str(tmp_path / "absent"))


def test_a_wipe_out_of_time_is_not_complete(tmp_path):
    for i in range(50):
        (tmp_path / f"f{i}").write_text("")
    assert not cleanup.wipe(str(tmp_path), budget_s=0)
