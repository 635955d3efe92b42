"""The ``sync`` route's read side: request parsing, cursors, the state cache, answer frames,
the connection check and posting (functions/README.md, "Sync")."""
