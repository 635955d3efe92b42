"""The ``$connect`` authorizer's parts (``functions/authorizer.py`` is the handler).

One module per concern, each importing only those listed before it:

* ``errors``: the three ways a connection is refused (401, 403, key source down);
* ``claims``: a verified token's claims -> the connecting identity (user id, role);
* ``settings``: the environment Terraform sets, read and checked once;
* ``request``: where the token travels in the ``$connect`` request;
* ``keys``: what a key source is; ``jwks`` and ``ssm_secret``: the two there are;
* ``verify``: the token's signature, algorithm, issuer, audience and times;
* ``decisions``: the per-environment cache of allows.
"""
