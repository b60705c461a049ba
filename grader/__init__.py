"""Socket Katas' grader.

The layers, from the bottom up:

- ``course``   reads the course's metadata (``katas/course.toml``): katas, checks, points.
- ``runner``   starts a learner's program as a separate process, knows when it is
               ready, and makes sure nothing it started outlives the run.
- ``probes``   observe a running program without importing it: TCP/UDP clients,
               the wire (scapy on the loopback) and the process (``/proc``, psutil).
- ``checks``   plain pytest tests, one property each, written against the probes.
- ``engine``   runs a kata's checks with pytest in-process and keeps the scorecard.
- ``report``   turns a scorecard into text, JSON or JUnit.
- ``cli``      the ``grader`` command.
"""

__version__ = "0.1.0"
