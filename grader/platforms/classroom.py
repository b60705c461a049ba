"""GitHub Classroom: the autograding workflow, written from course.toml.

Rules (classroom-resources/autograding-command-grader@v1 and
autograding-grading-reporter@v1): each test is a step with an ``id``, a
``command`` run by /bin/sh with a reduced environment (PATH, HOME), a
``timeout`` in minutes and a ``max-score`` awarded all-or-nothing when the
command exits 0; the reporter step reads each step's result from the
environment variable ``<ID>_RESULTS`` and takes the ids in ``runners``; the
job must be named ``run-autograding-tests`` for the points to reach
Classroom. So: one step per kata, worth the kata's points, running
``grader check KATA`` as root (``sudo``: on the runner's VM that gives the
grader its private network namespace and raw sockets)."""

from __future__ import annotations

import json
from pathlib import Path

from grader.course import PACKAGE_DIR, find_kata, load_course, ordered

TEMPLATE = PACKAGE_DIR / "templates" / "classroom.yml"
COMMAND = "sudo .venv/bin/grader check {kata}"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML string


def workflow(kata_ids: list[str], timeout: int = 10) -> str:
    katas = [find_kata(k) for k in kata_ids] if kata_ids else ordered(load_course())
    steps, env = [], []
    for kata in katas:
        steps += [f"      - name: {_quote(f'{kata.id} · {kata.title}')}",
                  f"        id: {kata.id}",
                  "        uses: classroom-resources/autograding-command-grader@v1",
                  "        with:",
                  f"          test-name: {kata.id}",
                  f"          command: {COMMAND.format(kata=kata.id)}",
                  f"          timeout: {timeout}",
                  f"          max-score: {kata.max_points}"]
        env.append(f"          {kata.id.upper()}_RESULTS: \"${{{{steps.{kata.id}.outputs.result}}}}\"")
    text = TEMPLATE.read_text()
    return (text.replace("@@STEPS@@", "\n".join(steps)).replace("@@ENV@@", "\n".join(env))
            .replace("@@RUNNERS@@", ",".join(k.id for k in katas)))


def cmd_classroom(args) -> int:
    text = workflow(args.katas, args.timeout)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0
