"""Local stand-ins for the OpenHands app server and agent server, with real ACP agents.

Everything here runs as real processes on loopback ports: `acp_agent` (an ACP agent written with
the agent-client-protocol package), `agent_server` (the agent-server endpoints the probe uses) and
`app_server` (the app-server `/api/v1` endpoints, starting agent servers as sandboxes).
`world` starts them for tests (and later for `pinbot demo`). Only the standard library and `acp`
are used, so the package can move under `pinbot/` unchanged.
"""
