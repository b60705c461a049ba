"""A thread per connection, proven by what the process is while clients are
connected and after they leave: one process, a thread for each connection,
threads that end with their client, and no connected socket left behind.

Judged from the shared study (engine/load_study.py)."""

from grader.checks import _model
from grader.engine.check import check, fail


@check("serves every client from one process (no child processes)",
       hint="start a threading.Thread for each connection instead of fork(): threads share the process")
def test_stays_one_process(study):
    """Threads share one process: one descriptor table, one memory. A child
    process per client is kata5's model, and costs far more."""
    for snap in _model.shots(study):
        if snap.processes[1:]:
            fail(f"the server had {len(snap.processes) - 1} child process"
                 f"{'es' if len(snap.processes) != 2 else ''} {_model.when(study, snap)}",
                 details=[_model.TRY["tree"], *_model.tree_lines(snap)])


@check("runs a thread for each connected client",
       hint="after accept(), start a new threading.Thread(target=..., args=(conn,), daemon=True) and go "
            "straight back to accept(); a fixed pool serves only as many clients as it has threads")
def test_one_thread_per_connection(study):
    """Thread per connection means every connection has a thread blocked in
    recv on it: nobody waits for a worker to come free."""
    snap = _model.loaded(study)
    base = study.baseline.server.threads if study.baseline and study.baseline.server else 1
    server = snap.server
    extra = server.threads - base
    if extra < study.connected:
        fail(f"with {study.connected:,} clients connected, the server ran {server.threads} thread"
             f"{'s' if server.threads != 1 else ''}, {'as many as' if extra == 0 else f'{extra} more than'} "
             f"before the first client: {_model.describe(study, snap)}" + _model.load_note(study),
             details=[_model.TRY["threads"], *_model.tree_lines(snap), f"threads: {dict(server.calls)}"])


@check("each thread ends when its client leaves (no thread leak)",
       hint="let the thread's function return once recv returns b'' (or the client resets): "
            "do not wait for anything after the conversation")
def test_threads_end_when_clients_leave(study, clock):
    """A thread that outlives its client keeps its stack and a kernel task
    for nothing; a server that leaks one per client dies of it."""
    _model.loaded(study)
    base = study.baseline.server.threads if study.baseline and study.baseline.server else 1
    if _model.after_leaving(study) is None:
        return
    seconds, last = _model.first_time(study, lambda s: s.server is not None and s.server.threads <= base)
    if seconds is None or seconds > clock(1.0):
        threads = last.server.threads if last.server else 0
        fail(f"{clock(1.0):.1f} s after all {study.connected:,} clients left, the server still ran "
             f"{threads} threads ({base} before the first client)",
             details=[_model.TRY["threads"]] + ([f"threads blocked in: {dict(last.server.calls)}"]
                                                if last.server else []))


@check("closes each connected socket when its client leaves",
       hint="wrap the conversation in `with conn:` so the socket is closed however the thread ends; "
            "do not keep sockets in a list")
def test_closes_sockets_when_clients_leave(study, clock):
    """Threads share one descriptor table: nobody closes a socket for a
    thread that forgot to, and the client never sees the server's FIN."""
    _model.loaded(study)
    if _model.after_leaving(study) is None:
        return
    seconds, last = _model.first_time(study, lambda s: not s.all_connected())
    if seconds is None or seconds > clock(1.0):
        server = last.server
        fds = sorted(last.connection_fds(server)) if server else []
        fail(f"{clock(1.0):.1f} s after all {study.connected:,} clients left, the server still held "
             f"{len(last.all_connected())} connected sockets (fd {', '.join(map(str, fds[:8]))}"
             f"{' …' if len(fds) > 8 else ''})", details=[_model.TRY["threads"]])
