"""Probes observe a learner's program from outside: over the network (tcp,
udp, wire) and through the operating system (proc). Rule: a probe never alters
the learner's sockets or process; it only connects as a client would, sends
packets a peer could send, and reads /proc."""
