"""Resource limits a kata starts its program with.

Rules:
- Every learner program runs under limits; a kata's ``[kataN.params]`` in
  course.toml may override each one: ``processes`` (tasks: processes *and*
  threads), ``memory_mb``, ``cpu_seconds``, ``file_size_mb``, and
  ``nofile = [soft, hard]`` (hard may be "max": the grader's own).
- The defaults fit every kata: generous enough that no correct program and no
  realistic bug meets them, small enough that a fork bomb or a memory eater
  is stopped long before the machine suffers. Katas that hold ten thousand
  connections (a raised ``nofile``) get room for a thread per connection: a
  thread-per-connection server must fail those katas' model checks, never the
  process limit.
- Memory is limited as *resident* memory (a memory cgroup, or the watchdog's
  RSS sampling), never as address space: a thread reserves an 8 MiB stack it
  barely touches, so RLIMIT_AS (and RLIMIT_DATA, which counts thread stacks
  too) would kill a correct thread-per-connection server. RLIMIT_DATA is set
  only as a backstop sized for that (memory + 8 MiB per allowed task).
- The descriptor hard limit can only go down here (even root lacks
  CAP_SYS_RESOURCE on these machines), so a wanted hard limit is capped at the
  grader's own.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

MiB = 1024 * 1024
PROCESSES = 512
PROCESSES_C10K = 12_000       # thread per connection at 10,000 connections
MEMORY = 512 * MiB
MEMORY_C10K = 2048 * MiB      # 10,000 threads: ~21 KB each in user space, 16 KB kernel stacks
CPU_SECONDS = 120             # per process; a check lasts well under that
FILE_SIZE = 64 * MiB
STACK_RESERVE = 8 * MiB       # address space a thread reserves for its stack


def nofile(soft: int, hard: int) -> tuple[int, int]:
    _, own_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if own_hard != resource.RLIM_INFINITY:
        hard = min(hard, own_hard)
    return min(soft, hard), hard


def wanted_nofile(params: dict) -> tuple[int, int] | None:
    """course.toml's ``nofile = [soft, hard]`` (either may be "max")."""
    want = params.get("nofile")
    if not want:
        return None
    soft, hard = want
    if hard == "max":
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if soft == "max":
        soft = hard
    return int(soft), int(hard)


@dataclass(frozen=True)
class Limits:
    processes: int = PROCESSES
    memory: int = MEMORY
    cpu_seconds: int = CPU_SECONDS
    file_size: int = FILE_SIZE
    nofile: tuple[int, int] | None = None

    @classmethod
    def for_kata(cls, params: dict) -> "Limits":
        files = wanted_nofile(params)
        c10k = files is not None and files[1] >= 4096
        return cls(
            processes=int(params.get("processes", PROCESSES_C10K if c10k else PROCESSES)),
            memory=int(params.get("memory_mb", (MEMORY_C10K if c10k else MEMORY) // MiB)) * MiB,
            cpu_seconds=int(params.get("cpu_seconds", CPU_SECONDS)),
            file_size=int(params.get("file_size_mb", FILE_SIZE // MiB)) * MiB,
            nofile=files,
        )

    def prlimit_args(self, *, nproc: int | None, data: bool) -> list[str]:
        """Options for util-linux ``prlimit`` (which then execs the program,
        keeping its pid). ``nproc``: RLIMIT_NPROC, counted per user, so the
        caller decides it; ``data``: add the RLIMIT_DATA backstop."""
        args = [f"--cpu={self.cpu_seconds}:{self.cpu_seconds + 2}",
                f"--fsize={self.file_size}", "--core=0"]
        if nproc is not None:
            args.append(f"--nproc={nproc}")
        if data:
            args.append(f"--data={self.memory + self.processes * STACK_RESERVE}")
        if self.nofile:
            soft, hard = nofile(*self.nofile)
            args.append(f"--nofile={soft}:{hard}")
        return args

    def describe(self, kind: str) -> str:
        """The one-line reason a program was stopped by limit ``kind``."""
        if kind == "processes":
            return f"the process limit ({self.processes}, threads included) was reached — a fork bomb?"
        if kind == "memory":
            return f"the memory limit ({human_bytes(self.memory)}) was reached"
        if kind == "cpu":
            return f"the CPU time limit ({self.cpu_seconds} s) was reached"
        if kind == "file_size":
            return f"the file size limit ({human_bytes(self.file_size)}) was reached"
        return f"the {kind} limit was reached"


HINTS = {
    "processes": "fork at most once per connection, and make every child end with os._exit() "
                 "instead of going back to the parent's loop",
    "memory": "keep only what you must: echo data as it arrives instead of collecting it",
    "cpu": "block in accept/recv/select instead of looping until something happens",
    "file_size": "a server writes nothing to disk here: print a little to stderr if you must log",
}


def hint(kind: str | None) -> str | None:
    return HINTS.get(kind or "")


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            if unit == "bytes":
                return f"{int(n)} bytes"
            return f"{n:.1f} {unit}".replace(".0 ", " ")
        n /= 1024
    return f"{n:.1f} TB"
