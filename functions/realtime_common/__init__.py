"""Code shared by the realtime Lambda functions.

Each module is shipped only in the zips that import it (see ``tools/build/artifacts.py``), so keep
function-specific logic in the function's own module: a change here changes every zip that
carries the changed file.
"""
