"""probes/source.py: which readiness APIs a learner's Python names, read from
its syntax tree (kata11's portability check)."""

import pytest

from grader.probes import source

NAMED = [
    ("import select\nselect.epoll()", "select.epoll"),
    ("import select as s\ns.epoll()", "select.epoll"),
    ("from select import epoll", "select.epoll"),
    ("from select import epoll as E\nE()", "select.epoll"),
    ("from select import select\nselect([], [], [])", "select.select"),
    ("import select\nselect.poll()", "select.poll"),
    ("import select\nselect.kqueue()", "select.kqueue"),
    ("import select\nselect.devpoll()", "select.devpoll"),
    ("from selectors import EpollSelector", "selectors.EpollSelector"),
    ("import selectors\nselectors.SelectSelector()", "selectors.SelectSelector"),
    ("import selectors as sel\nx = sel.KqueueSelector", "selectors.KqueueSelector"),
    ("from asyncio import selectors\nselectors.PollSelector()", "selectors.PollSelector"),
    ("import asyncio.selector_events\nasyncio.selector_events.selectors.EpollSelector()",
     "selectors.EpollSelector"),
    ("import select\ngetattr(select, 'poll')()", "select.poll"),
    ("s = __import__('select')\ns.epoll()", "select.epoll"),
    ("__import__('select').epoll()", "select.epoll"),
    ("import importlib\ns = importlib.import_module('select')\nt = s\nt.kqueue()", "select.kqueue"),
    ("from select import *\nepoll()", "select.epoll"),
]

PORTABLE = [
    "import selectors\nsel = selectors.DefaultSelector()\nsel.select()",
    "from selectors import DefaultSelector, BaseSelector, EVENT_READ, EVENT_WRITE",
    "# select.epoll() is Linux only\n'select.epoll()'\n\"\"\"selectors.EpollSelector\"\"\"",
    # An attribute of the learner's own that happens to be called select.
    "import selectors\nclass S:\n    def __init__(self):\n        self.select = selectors.DefaultSelector()\n"
    "    def run(self):\n        self.select.select()",
    "import select\nmask = select.EPOLLIN",
    "import asyncio\nasyncio.run(main())",
]


@pytest.mark.parametrize("code, name", NAMED, ids=[n for _, n in NAMED])
def test_finds_a_named_mechanism(code, name):
    found = source.scan(code, "server.py")
    assert [f.name for f in found] == [name]
    assert found[0].path == "server.py" and found[0].line >= 1


@pytest.mark.parametrize("code", PORTABLE)
def test_leaves_portable_code_alone(code):
    assert source.scan(code) == []


def test_reports_the_line_of_each_finding(tmp_path):
    (tmp_path / "server.py").write_text("import select as s\n\n\ns.epoll()\nfrom selectors import SelectSelector\n")
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "loop.py").write_text("import select\nselect.poll()\n")
    (tmp_path / "broken.py").write_text("def (:\n")
    files = sorted(tmp_path.rglob("*.py"))
    findings, unreadable = source.scan_tree(files, tmp_path)
    assert [f.describe().split(" (")[0] for f in findings] == [
        "helpers/loop.py:2: select.poll", "server.py:4: select.epoll", "server.py:5: selectors.SelectSelector"]
    assert [u.path for u in unreadable] == ["broken.py"]
