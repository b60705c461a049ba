"""Starting and stopping learner programs.

Rule 1: a learner's program is a black box reached over the network and
watched through /proc; nothing here imports it.
Rule 2: every process a program starts is gone when the program is stopped:
children, grandchildren and daemons that called setsid included.
Rule 3: a program is untrusted. It is started through the run's sandbox
(sandbox.py: namespaces, an unprivileged uid when the grader is root, limits,
cgroups), whose wrappers exec: ``Program.pid`` is the program's own pid.

Modules: launch (what to start), program (one server run), client (one
client run), sandbox (a grading run's containment) built on isolation
(namespaces), identity (the uid programs run as), cgroups, limits, watchdog
(stopping a program at a limit), reaper (finding and killing processes),
output (bounded tails).
"""

from grader.runner.launch import LaunchSpec
from grader.runner.program import Program

__all__ = ["LaunchSpec", "Program"]
