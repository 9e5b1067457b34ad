"""Telephony adapters: implementations of :class:`callhopper.ports.telephony.Telephony`.

:mod:`callhopper.telephony.simulator` is the built-in one: a telephone network simulated
from parameters and a seed, in real time or in simulated time. Adapters for real networks
(Asterisk ARI, a SIP stack, a CPaaS) go beside it; ``docs/dialing/telephony-port.md`` says
what one must do.
"""
