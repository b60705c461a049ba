"""Starting and stopping learner programs.

Rule 1: a learner's program is a black box reached over the network and
watched through /proc; nothing here imports it.
Rule 2: every process a program starts is gone when the program is stopped:
children, grandchildren and daemons that called setsid included.
"""

from grader.runner.launch import LaunchSpec
from grader.runner.program import Program

__all__ = ["LaunchSpec", "Program"]
