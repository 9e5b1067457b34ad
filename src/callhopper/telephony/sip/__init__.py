"""The SIP adapter: calls through a carrier's SIP trunk, placed by PJSUA2 worker processes.

Only :mod:`callhopper.telephony.sip.worker` (and the detector's voice-activity step in
:mod:`callhopper.telephony.sip.amd`) import the optional ``sip`` extra (``pjsua2``,
``webrtcvad``); every other module here runs without it, so the package installs and its
configuration can be checked everywhere.
"""
