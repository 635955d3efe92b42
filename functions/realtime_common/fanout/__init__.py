"""The broadcaster's fan-out: frames, scheduling, rate, signing, HTTP and workers.

Layers, each importing only those below it: ``transport`` (the contract between the scheduler
and a transport: ``Done``, ``Sender``, ``Poster``, ``TransportError``); ``schedule``, ``rate``,
``sigv4``, ``frames``, ``views``; ``engine`` (the scheduler) and ``wire`` (the HTTP client),
which meet only through ``transport``; ``delivery`` (the composition root: one event loop and
pool per execution environment, and the deadline); and, for the handlers, ``messages``,
``audience``, ``ledger``, ``table``, ``config`` and ``workers``. Nothing here imports boto3 at
module scope except ``workers``.
"""
