"""What one `write` call's size costs: files written to the page cache and fsynced, in calls of
several sizes, interleaved round by round: is one large call dearer than many small ones?

    .venv/bin/python bench/write_slices.py [--sizes 1MiB,256KiB,64KiB,32KiB,16KiB,8KiB]
                                           [--total 1GiB] [--file 32MiB] [--rounds 3]
                                           [--workdir DIR]

Each round writes --total bytes as files of --file bytes (a new file each, fsynced and closed,
then all removed) once per call size, from one 1 MiB buffer of random bytes. Printed: the
median over the rounds of the system CPU seconds, per GiB, and the wall seconds, each size's
CPU as a ratio to the largest size's. User CPU is printed too: it is the calls' own cost in
Python, small beside the kernel's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syncapp.config import parse_size

GiB = 1 << 30


def write_files(folder: Path, buffer: bytes, call: int, total: int, file_size: int):
    """(system CPU s, user CPU s, wall s) for writing `total` bytes in `call`-sized writes."""
    view = memoryview(buffer)
    names = []
    before, start = os.times(), time.perf_counter()
    for n in range(total // file_size):
        name = folder / f"f{n}"
        fd = os.open(name, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        try:
            done = 0
            while done < file_size:
                piece = view[: file_size - done]
                done += len(piece)
                while piece:
                    piece = piece[os.write(fd, piece[:call]) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        names.append(name)
    wall, after = time.perf_counter() - start, os.times()
    for name in names:
        name.unlink()
    return after.system - before.system, after.user - before.user, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1MiB,256KiB,64KiB,32KiB,16KiB,8KiB")
    parser.add_argument("--total", default="1GiB")
    parser.add_argument("--file", default="32MiB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    total, file_size = parse_size(args.total), parse_size(args.file)
    buffer = os.urandom(1 << 20)
    figures: dict[int, list[tuple[float, float, float]]] = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory(prefix="bench-slices-", dir=args.workdir) as folder:
        for _ in range(args.rounds):
            for size in sizes:
                figures[size].append(write_files(Path(folder), buffer, size, total, file_size))
    print(f"{total / GiB:.2f} GiB in {file_size >> 20} MiB files, fsynced; {args.rounds} rounds")
    print(f"{'call':>9}  {'sys s/GiB':>9}  {'user s/GiB':>10}  {'wall s':>7}  sys / largest")
    largest = statistics.median(f[0] for f in figures[max(sizes)])
    for size in sizes:
        system = statistics.median(f[0] for f in figures[size])
        user = statistics.median(f[1] for f in figures[size])
        wall = statistics.median(f[2] for f in figures[size])
        print(
            f"{size >> 10:>6} KiB  {system * GiB / total:9.2f}  {user * GiB / total:10.2f}  "
            f"{wall:7.2f}  {system / largest if largest else 0:.2f} x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
