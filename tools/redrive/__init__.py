"""Redrive: replay the stream records a consumer parked in its dead-letter queue.

For a DynamoDB stream source, Lambda's on-failure destination receives only the failed batch's
metadata (shard id, first and last sequence numbers, stream ARN, the error), not the records.
This tool reads those messages, fetches exactly those records back from the stream while the
stream still retains them (24 h), invokes the function that failed them with a stream event
holding exactly them, and deletes a message only once every one of its records was processed.
Records the stream no longer holds are reported with their sequence numbers.

Modules: ``dead_letters`` (the queue), ``stream`` (the records), ``replay`` (the invocation),
``run`` (one pass over the queues), ``outputs`` (queue URLs and function names from terraform
outputs) and ``cli`` (``python -m tools.redrive``, ``bin/redrive``, ``make redrive``).
"""
