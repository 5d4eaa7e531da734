"""The tool gateway and its adapters (DESIGN §4).

``base.py`` is the contract (calls, results, failures, the adapter and gateway
interfaces); ``gateway.py`` composes the protections, one wrapper per module; the
adapters are ``python.py``, ``http.py``, ``mcp.py`` and ``openapi.py``; ``factory.py``
builds a gateway from a bundle's contracts.
"""
