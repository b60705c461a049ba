"""A process per connection (fork), proven by what the process tree is while
clients are connected and after they leave: a child for each connection and
no more, the listening socket only in the parent, each connected socket only
in its child, and every finished child reaped.

Judged from the shared study (engine/load_study.py). The fork-hygiene checks
judge the forks that happened: a server that never forks loses the
"one child per connection" check, not these as well."""

from grader.checks import _model
from grader.engine.check import check, fail


@check("serves each connected client in a child process of its own, which exits when its client leaves",
       hint="fork() after accept(); in the child, serve the client, then os._exit(0) so that it never "
            "returns into the accept loop")
def test_one_child_per_connection(study, clock):
    """The process per connection model: each conversation has a process of
    its own, and a process that outlives its client is a leak (and, back in
    the accept loop, a second acceptor nobody planned for)."""
    snap = _model.loaded(study)
    held = snap.all_connected()
    children = snap.children
    details = [_model.TRY["tree"], *_model.tree_lines(snap)]
    if not children:
        fail(f"with {study.connected:,} clients connected, the server had no child process: "
             f"{_model.describe(study, snap)}", details=details)
    served = {}
    for child in children:
        for inode in snap.connected(child):
            served.setdefault(inode, []).append(child.pid)
    lonely = held - set(served)
    greedy = [c for c in children if len(snap.connected(c)) > 1]
    if len(children) < study.connected or lonely:
        fail(f"with {study.connected:,} clients connected, the server had {len(children)} child "
             f"process{'es' if len(children) != 1 else ''}" + _model.load_note(study)
             + (f"; {len(lonely)} connection{'s' if len(lonely) != 1 else ''} held by no child" if lonely else ""),
             details=details)
    if greedy:
        fail(f"child {greedy[0].pid} holds {len(snap.connected(greedy[0]))} connections: each child must "
             "serve exactly one", hint="close the listening socket in the child and never accept there",
             details=details)
    after = _model.after_leaving(study)
    if after is not None:
        seconds, last = _model.first_time(study, lambda s: not s.children)
        if seconds is None or seconds > clock(1.0):
            stuck = last.children
            calls = sorted({c.main_call for c in stuck})
            fail(f"after all {study.connected:,} clients left, {len(stuck)} child process"
                 f"{'es were' if len(stuck) != 1 else ' was'} still running {clock(1.0):.1f} s later "
                 f"(blocked in {', '.join(calls)})",
                 hint="end the child with os._exit(0) in a finally: block, whatever happened; "
                      "if it returns, it falls back into the parent's accept loop",
                 details=[_model.TRY["tree"], *_model.tree_lines(last)])


@check("no child process holds the listening socket",
       hint="call listener.close() first thing in the child: only the parent accepts")
def test_children_close_listener(study):
    """A child that keeps the listening socket is a second door to the port
    that nobody watches: the port stays bound while any child lives, and a
    child that ever calls accept() steals the parent's clients."""
    for snap in _model.shots(study):
        holders = [c for c in snap.children if snap.holds_listener(c)]
        if holders:
            fail(f"{len(holders)} of {len(snap.children)} child processes held the listening socket "
                 f"(port {snap.port}) {_model.when(study, snap)}", details=[_model.TRY["tree"], *_model.tree_lines(snap)])


@check("the parent closes its copy of each connected socket after fork",
       hint="call conn.close() in the parent right after fork(): the connection ends (FIN) only when "
            "its last descriptor is closed")
def test_parent_closes_connected(study):
    """fork() copies the descriptor table: until the parent closes its copy,
    the child's close() does not end the connection (the client never sees
    FIN), and the parent's descriptors pile up."""
    for snap in _model.shots(study):
        parent = snap.server
        if parent is None:
            continue
        in_children = set()
        for child in snap.children:
            in_children |= snap.connected(child)
        copies = snap.connected(parent) & in_children
        if copies:
            fds = sorted(fd for fd, inode in snap.connection_fds(parent).items() if inode in copies)
            fail(f"the parent still held {len(copies)} connected socket{'s' if len(copies) != 1 else ''} that "
                 f"a child serves (fd {', '.join(map(str, fds[:8]))}) {_model.when(study, snap)}",
                 details=[_model.TRY["tree"], *_model.tree_lines(snap)])


@check("reaps every finished child within a second (no zombies)",
       hint="in a SIGCHLD handler, call os.waitpid(-1, os.WNOHANG) in a loop until it returns pid 0 "
            "or raises ChildProcessError: one signal may stand for several children")
def test_reaps_children(study, clock):
    """A finished child stays in the process table as a zombie until its
    parent collects its exit status; zombies pile up until the process table
    is full and fork() fails for everyone on the machine."""
    _model.loaded(study)
    lifetimes = study.zombie_lifetimes()
    end = study.left[-1].at if study.left else (study.loaded.at if study.loaded else 0.0)
    late = {pid: ((gone or end) - seen, gone is None) for pid, (seen, gone) in lifetimes.items()
            if (gone or end) - seen > clock(1.0) or gone is None}
    if late:
        still = sum(1 for _, (_, stays) in late.items() if stays)
        longest = max(age for age, _ in late.values())
        burst = f"after {study.connected:,} clients left at the same moment, " if study.left else ""
        if still:
            what = (f"{still} finished child process{'es were' if still != 1 else ' was'} never reaped: "
                    f"still zombies (<defunct>) after {longest:.2f} s")
        else:
            what = (f"{len(late)} finished child process{'es' if len(late) != 1 else ''} stayed zombies "
                    f"(<defunct>) for up to {longest:.2f} s")
        fail(f"{burst}{what} (limit {clock(1.0):.1f} s)",
             details=[f"zombie pids: {', '.join(map(str, sorted(late)[:10]))}",
                      "try it: close several clients at once (`pkill nc`), then `ps -ef | grep defunct`"])
