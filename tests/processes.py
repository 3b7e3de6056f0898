"""Reading /proc: the children of a process and whether one is still alive (a zombie is not)."""

from __future__ import annotations

from pathlib import Path


def children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if proc.name.isdigit() and int(fields[1]) == pid:
            found.append(int(proc.name))
    return found


def descendants(pid: int) -> list[int]:
    """`pid`'s children, their children and so on."""
    found, frontier = [], [pid]
    while frontier:
        frontier = [c for p in frontier for c in children(p)]
        found += frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
