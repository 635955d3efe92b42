"""The local environment: the whole stack on the embedded emulator, and the plumbing under it.

One module per concern, as pre-commit lays out its commands:

    config      LocalEnv: every path and port, built once by the CLI (or a test) and passed in
    process     a detached background server with its pid, port and log in a state directory
    emulator    start, stop and find a ministack emulator (the local stack's or a private one)
    clients     boto3 clients for the emulator
    terraform   the one Terraform runner, and its environment
    rootmodule  a throwaway copy of the root module with a local-state backend override
    venv        .venv-emulator, the interpreter the local Lambdas run on
    layer       the emulator-only boto3 layer
    resources   what lives outside the root module: state bucket, demo Incidents table, queue
    state       StackState, the record `up` writes and `down` reads
    stack       up, down, status
    commands    what a person does with the stack: listen, incident, alerts, invoke
    listen      the listener's client model (sync on open, catch up after a reconnect, parts)
    cli         ``python -m tools.localenv up|down|status|listen|incident|alerts|invoke``

Nothing here reads the environment at import time: the CLI builds a LocalEnv from it, once.
"""
