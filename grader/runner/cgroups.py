"""Control groups for learner programs, where the grader may make them.

Why: a cgroup is the one place the kernel keeps *every* process a program
started, daemons that called setsid included, and limits them together. A
``pids`` cgroup stops a fork bomb at a count (RLIMIT_NPROC is not enforced
for root), a ``memory`` cgroup limits resident memory (what a thread-per-
connection server actually uses, unlike its address space), and a whole
group is killed at once (cgroup v2's ``cgroup.kill``, or a frozen v1 group),
so a fork bomb cannot keep forking between two scans.

Rules:
- Only as root (euid 0 outside any user namespace), and only where the
  cgroup file systems are mounted writable (a default Docker container has
  them read-only: then there are none and the runner says so once).
- Groups are made *under the grader's own cgroup* in each hierarchy, so
  whatever limits the surrounding system set still apply; one folder per
  grading run (``socket-katas-<grader pid>``), one subfolder per program.
- Nothing is left behind: each program's group is removed when it stops,
  the run's folder when the run ends, and a run that died without cleaning
  up (its grader pid is gone) is swept by the next one.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "socket-katas-"
V1_CONTROLLERS = ("pids", "memory", "freezer")


def _mounts() -> tuple[str | None, dict[str, str]]:
    """(cgroup2 mount point or None, {v1 controller: mount point})."""
    v2, v1 = None, {}
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return None, {}
    for line in lines:
        left, _, right = line.partition(" - ")
        parts, rparts = left.split(), right.split()
        if len(parts) < 5 or len(rparts) < 3:
            continue
        mount_point, options = parts[4], parts[5]
        fstype, super_options = rparts[0], rparts[2]
        if "ro" in options.split(","):
            continue
        if fstype == "cgroup2" and v2 is None:
            v2 = mount_point
        elif fstype == "cgroup":
            for opt in super_options.split(","):
                if opt in V1_CONTROLLERS and opt not in v1:
                    v1[opt] = mount_point
    return v2, v1


def _own_paths() -> tuple[str | None, dict[str, str]]:
    v2, v1 = None, {}
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if controllers == "":
                    v2 = path
                for c in controllers.split(","):
                    v1[c] = path
    except (OSError, ValueError):
        pass
    return v2, v1


def _write(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _pids_in(folder: Path) -> set[int]:
    return {int(x) for x in _read(folder / "cgroup.procs").split()}


@dataclass
class Group:
    """One program's cgroups: a folder per hierarchy."""

    folders: dict[str, Path]          # "v2", "pids", "memory", "freezer" -> folder

    @property
    def procs_files(self) -> list[str]:
        return [str(f / "cgroup.procs") for f in self.folders.values()]

    def members(self) -> set[int]:
        found = set()
        for folder in self.folders.values():
            found |= _pids_in(folder)
        return found

    def events(self) -> dict[str, int]:
        """Limit hits so far: {"processes": forks refused, "memory": OOM kills}."""
        hits = {"processes": 0, "memory": 0}
        for name in ("pids", "v2"):
            folder = self.folders.get(name)
            if folder is None:
                continue
            for line in _read(folder / "pids.events").splitlines():
                key, _, value = line.partition(" ")
                if key == "max" and value.strip().isdigit():
                    hits["processes"] = max(hits["processes"], int(value))
        memory = self.folders.get("memory")
        if memory is not None:
            for line in _read(memory / "memory.oom_control").splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit():
                    hits["memory"] = int(value)
        v2 = self.folders.get("v2")
        if v2 is not None:
            for line in _read(v2 / "memory.events").splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit():
                    hits["memory"] = max(hits["memory"], int(value))
        return hits

    def kill(self, deadline: float = 5.0) -> bool:
        """SIGKILL every member at once; True when the group is empty."""
        v2 = self.folders.get("v2")
        if v2 is not None and (v2 / "cgroup.kill").exists():
            try:
                _write(v2 / "cgroup.kill", "1")
            except OSError:
                pass
        freezer = self.folders.get("freezer")
        frozen = False
        if freezer is not None:
            # A frozen group cannot fork between our reading its members and
            # killing them; SIGKILL is delivered once it thaws.
            try:
                _write(freezer / "freezer.state", "FROZEN")
                frozen = True
            except OSError:
                pass
        end = time.monotonic() + deadline
        while True:
            members = self.members()
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if frozen:
                try:
                    _write(freezer / "freezer.state", "THAWED")
                except OSError:
                    pass
                frozen = False
            if not members:
                return True
            if time.monotonic() > end:
                return False
            time.sleep(0.005)

    def remove(self) -> None:
        for folder in self.folders.values():
            _rmdir_tree(folder)


def _rmdir_tree(folder: Path) -> None:
    try:
        children = [p for p in folder.iterdir() if p.is_dir()]
    except OSError:
        return
    for child in children:
        _rmdir_tree(child)
    for _ in range(50):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            # Still emptying (a killed process leaves its cgroup a moment later).
            time.sleep(0.01)


@dataclass
class RunCgroups:
    """The grading run's folders, one per usable hierarchy."""

    run: dict[str, Path]
    controllers: set[str] = field(default_factory=set)   # "pids", "memory" that really limit
    _count: int = 0

    @classmethod
    def create(cls) -> tuple["RunCgroups | None", str | None]:
        """Make this run's folders; (None, why) where cgroups cannot be used."""
        if os.geteuid() != 0 or not _in_initial_user_namespace():
            return None, "not root"
        v2_mount, v1_mounts = _mounts()
        v2_own, v1_own = _own_paths()
        bases: dict[str, Path] = {}
        if v2_mount is not None and v2_own is not None:
            bases["v2"] = Path(v2_mount + v2_own)
        for controller, mount in v1_mounts.items():
            if controller in v1_own:
                bases[controller] = Path(mount + v1_own[controller])
        name = f"{PREFIX}{os.getpid()}"
        run, controllers = {}, set()
        for mount in {v2_mount, *v1_mounts.values()} - {None}:
            sweep_stale(Path(mount))
        for key, base in bases.items():
            folder = base / name
            try:
                folder.mkdir(exist_ok=True)
            except OSError:
                continue
            if key == "v2":
                available = set(_read(folder / "cgroup.controllers").split())
                wanted = [c for c in ("pids", "memory") if c in available]
                if wanted:
                    try:
                        _write(folder / "cgroup.subtree_control", " ".join("+" + c for c in wanted))
                        controllers |= set(wanted)
                    except OSError:
                        pass
            elif key in ("pids", "memory"):
                controllers.add(key)
            run[key] = folder
        can_kill = "v2" in run or "freezer" in run
        if not run or not (controllers or can_kill):
            for folder in run.values():
                _rmdir_tree(folder)
            return None, "no writable cgroup file system"
        return cls(run=run, controllers=controllers), None

    def group(self, processes: int, memory: int) -> Group:
        """A new group for one program, its limits set."""
        self._count += 1
        folders = {}
        for key, base in self.run.items():
            folder = base / f"p{self._count}"
            folder.mkdir()
            folders[key] = folder
        group = Group(folders)
        for key, folder in folders.items():
            if key == "pids" or (key == "v2" and "pids" in self.controllers and (folder / "pids.max").exists()):
                _write(folder / "pids.max", str(processes))
            if key == "memory":
                _write(folder / "memory.limit_in_bytes", str(memory))
                try:
                    # No swap here either: the limit is on memory, not on RAM.
                    _write(folder / "memory.memsw.limit_in_bytes", str(memory))
                except OSError:
                    pass
            if key == "v2" and (folder / "memory.max").exists():
                _write(folder / "memory.max", str(memory))
                try:
                    _write(folder / "memory.swap.max", "0")
                except OSError:
                    pass
        return group

    def close(self) -> None:
        for folder in self.run.values():
            for child in list(_subfolders(folder)):
                Group({"x": child}).kill(deadline=2.0)
            _rmdir_tree(folder)


def _subfolders(folder: Path):
    try:
        return [p for p in folder.iterdir() if p.is_dir()]
    except OSError:
        return []


def sweep_stale(mount: Path, depth: int = 4) -> None:
    """Remove, anywhere in a hierarchy (a grader may have run in another
    cgroup), the folders of grading runs whose grader is gone: a grader
    killed by SIGKILL cannot clean up after itself."""
    for folder in _subfolders(mount):
        if folder.name.startswith(PREFIX):
            pid = folder.name[len(PREFIX):]
            if pid.isdigit() and not _alive(int(pid)):
                for child in _subfolders(folder):
                    Group({"x": child}).kill(deadline=1.0)
                _rmdir_tree(folder)
        elif depth > 1:
            sweep_stale(folder, depth - 1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _in_initial_user_namespace() -> bool:
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() == ["0", "0", "4294967295"]
    except OSError:
        return False
