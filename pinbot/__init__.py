"""pinbot: pin the agent-server image only when it carries the capability, and prove it."""

__version__ = "0.1.0"
