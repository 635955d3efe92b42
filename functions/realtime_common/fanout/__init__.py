"""The broadcaster's fan-out engine: frames, scheduling, rate, signing, HTTP and workers.

Each module is imported only by what uses it: the stream consumer (``broadcaster``) imports
``frames``, ``engine`` and ``workers``; the worker function (``fanout_worker``) imports ``engine``
alone. Nothing here imports boto3 at module scope except ``workers``.
"""
