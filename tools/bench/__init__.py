"""The fan-out benchmark (``make bench``): the broadcaster's real handler entry point against the
fake management API in a separate process, side by side with the naive sequential boto3 loop and
a boto3 thread pool, in one run.

Layout: ``fakeapi`` (the fake in its own process), ``table`` (an in-memory Connections table),
``contenders`` (one contender in a child process, so CPU and peak RSS are its own), ``scenarios``
(what is run), ``report`` (tables and the committed results file), ``__main__`` (the CLI).
"""
