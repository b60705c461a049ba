"""The whole-course subcommands of ``grader``: ``grade`` (a class of
submissions), ``gradescope`` (an autograder bundle) and ``classroom`` (a
GitHub Classroom workflow). Registered by grader.cli; each sets ``run`` to
its handler, imported only when it runs."""

from __future__ import annotations

import argparse
import os


def _grade(args):
    from grader.batch.pool import cmd_grade
    return cmd_grade(args)


def _gradescope(args):
    from grader.platforms.gradescope import cmd_bundle
    return cmd_bundle(args)


def _classroom(args):
    from grader.platforms.classroom import cmd_classroom
    return cmd_classroom(args)


def register(sub) -> None:
    grade = sub.add_parser("grade", help="grade a whole class of submissions for one kata")
    grade.add_argument("kata", help="kata id, e.g. kata5")
    grade.add_argument("paths", nargs="+", metavar="DIR",
                       help="a folder of submission folders, several submission folders, or a zip of them")
    grade.add_argument("-o", "--out", metavar="DIR", help="where results go (default: grades-KATA)")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="submissions graded at once (default: the number of cores)")
    grade.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                       help="wall-clock limit per submission (default 300)")
    grade.add_argument("--force", action="store_true", help="grade again even what is already graded")
    grade.add_argument("--checks", metavar="DIR", action="append", default=[],
                       help="add an instructor's pytest checks from DIR")
    grade.add_argument("--seed", type=int, help="the same payloads for every student")
    grade.add_argument("--no-isolation", action="store_true", help=argparse.SUPPRESS)
    grade.set_defaults(run=_grade)

    scope = sub.add_parser("gradescope", help="write a Gradescope autograder bundle (zip)")
    scope.add_argument("katas", nargs="+", metavar="KATA")
    scope.add_argument("-o", "--output", metavar="ZIP", default="autograder.zip")
    scope.add_argument("--checks", metavar="DIR", action="append", default=[],
                       help="bundle an instructor's pytest checks from DIR")
    scope.add_argument("--budget", type=float, default=540.0, metavar="SECONDS",
                       help="time for grading one submission, all katas (Gradescope's default limit is 600)")
    scope.set_defaults(run=_gradescope)

    room = sub.add_parser("classroom", help="write a GitHub Classroom autograding workflow")
    room.add_argument("katas", nargs="*", metavar="KATA", help="default: every kata of the course")
    room.add_argument("-o", "--output", metavar="FILE", help="default: standard output")
    room.add_argument("--timeout", type=int, default=10, metavar="MINUTES", help="per kata (default 10)")
    room.set_defaults(run=_classroom)
