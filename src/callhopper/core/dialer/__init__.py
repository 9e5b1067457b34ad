"""The dialing engine: places the calls of progressive and predictive campaigns through the
telephony port and connects the answered ones to agents (``docs/dialing/engine.md``).

:mod:`~callhopper.core.dialer.dialing` holds its transactions (the same claim as Get
Record, pre-dial checks, outcomes), :mod:`~callhopper.core.dialer.engine` the asynchronous
loop that paces each campaign it holds the lease of.
"""
