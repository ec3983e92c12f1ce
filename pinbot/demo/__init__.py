"""The local world `pinbot demo` builds: registry images, SDK history, repositories, and the
stand-in agent server with its ACP agents, all real processes on loopback ports.

Only what the demo runs lives here; the test kit (fault proxies, the stand-in app server, the
worlds the tests build) is `testing/` at the repository root, outside the wheel.
"""
