"""Serving many clients at once, proxy-lab style: while K clients are
connected and idle (course.toml's ``clients``), a new client's echo comes back
within a second, and every idle client is still served afterwards. An
iterative server, or a pool smaller than K, cannot pass.

Judged from the shared study (engine/load_study.py): one server, loaded once."""

from grader.engine import load_study
from grader.engine.check import check, fail
from grader.probes import snapshot

HINT = ("serve each client concurrently (a process, a thread, or one event loop for all of them): "
        "a server that waits on one client cannot answer the next")


def _limit_note(study) -> list[str]:
    """Why a server stopped taking clients near its descriptor limit."""
    if not study.nofile:
        return []
    soft = study.nofile[0]
    if soft.isdigit() and study.fds >= int(soft) - 8:
        return [f"the server held {study.fds:,} descriptors; its soft limit (Max open files) is {int(soft):,}"]
    return []


@check("echoes to a new client within a second while many others are connected and idle",
       hint=HINT, timeout=60.0)
def test_serves_idle_clients_concurrently(study, clock):
    """One slow or idle client must not keep everybody else waiting: that is
    the whole point of a concurrent server. Real servers hold thousands of
    mostly idle connections (chat, push notifications, keep-alive)."""
    wanted = study.wanted
    est = study.established
    snap = study.under_load
    model = [f"what the grader saw: {snapshot.describe_model(snap)}"] if snap else []
    if study.death and (est is None or not est.complete or study.loaded is None):
        fail(f"with {wanted:,} clients connecting, {study.death}",
             hint="a server for many clients must survive them all: read the traceback below",
             details=study.death_details + [f"grader> {est.summary()}"] if est else study.death_details)
    if not est.complete:
        limit = _limit_note(study)
        hint, why = HINT, ""
        if limit:
            hint = ("every connection is a descriptor: raise your soft RLIMIT_NOFILE to the hard limit with "
                    "resource.setrlimit at start")
            why = f": the server ran out of descriptors (soft limit {int(study.nofile[0]):,})"
        budget = clock(float(study.params.get("establish_within", 5.0)))
        waited = (f"within {budget:.1f} s" if est.elapsed >= budget - 0.05 else
                  f"(none more for {clock(load_study.STALL):.1f} s)")
        fail(f"{wanted:,} clients connected and each sent one line: only {est.ok:,} got their echo "
             f"{waited}{why}",
             hint=hint, details=model + limit + [f"grader> {est.summary()}", *est.examples])
    probe = study.probe
    if probe is None:
        fail(f"with {wanted:,} idle clients connected, {study.death}", details=study.death_details)
    if probe.outcome != "ok":
        what = {"connect timeout": "the new client could not even connect",
                "refused": "the new client was refused",
                "timeout": "nothing came back" if not probe.got else f"only {probe.got!r} came back",
                "eof": "the server closed the new client's connection",
                "reset": "the new client's connection was reset",
                "wrong": f"{probe.got!r} came back"}.get(probe.outcome, probe.outcome)
        fail(f"with {wanted:,} clients connected and idle, a new client sent one line: {what} "
             f"(waited {probe.seconds:.2f} s, limit {clock(1.0):.1f} s)",
             details=model + [f"grader> {probe.sent!r}", f"server> {probe.got!r}"])
    if probe.seconds > clock(1.0):
        fail(f"with {wanted:,} clients connected and idle, a new client's echo took "
             f"{clock.explain(probe.seconds, 1.0)}", details=model)
    verified = study.verified
    if verified is None:
        fail(f"after the new client, {study.death}", details=study.death_details)
    idle = study.idle_events
    if idle is not None and idle.problems:
        fail(f"while {est.ok:,} clients sat idle, the server closed or wrote to "
             f"{sum(idle.problems.values()):,} of them unasked", hint="an idle client is still a client: "
             "keep its connection open and silent until it sends or closes",
             details=[f"grader> {', '.join(f'{n:,} {k}' for k, n in idle.problems.most_common())}",
                      *idle.examples])
    if verified.ok < est.ok:
        fail(f"after the new client, the {est.ok:,} idle clients each sent one more line: "
             f"only {verified.ok:,} got their echo", hint=HINT,
             details=model + [f"grader> {verified.summary()}", *verified.examples])
