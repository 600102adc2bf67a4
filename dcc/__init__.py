"""The DCC integration: the DUIS client and simulator (Django-free packages ``dcc.duis`` and
``dcc.simulator``), the service-request log, and the endpoint the DCC posts to."""
