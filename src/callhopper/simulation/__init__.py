"""A simulated contact-center floor: a fresh database, simulated agents and the telephony
simulator, driven through the real dialing engine (``callhopper simulate``, the demo's
predictive campaign, and the end-to-end tests)."""
