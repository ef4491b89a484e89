"""Shared test set-up."""
import signal

# A shell without job control starts background commands (`make test &`, nohup, some CI
# runners) with SIGINT ignored, and an ignored signal stays ignored across exec: the
# Ctrl-C tests' subprocesses would then never see the SIGINT they are sent.  A handler here
# (not SIG_IGN) makes every child start with the default disposition, as under a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
