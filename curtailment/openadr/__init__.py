"""dnoctl's OpenADR 3 VTN, through which ASP contracts are called off (NF14), and a VEN
standing in for an aggregator in the demo and the tests. docs/asp-openadr.md is the guide.

* ``schemas`` / ``objects``: the OpenADR 3.0.1 objects (programmes, events, reports).
* ``api`` / ``urls`` / ``asgi``: the VTN, its own process (``Procfile``'s ``vtn``).
* ``tasks``: the worker's look at call-offs against their deadlines.
* ``ven``: the stand-in aggregator (no Django; ``python -m curtailment.openadr.ven``).

What the engine calls is in ``curtailment.services.asp``.
"""
