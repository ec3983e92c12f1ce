"""Where a probed conversation lives, and how it is recycled: one module per target.

A `Home` (`base`) is one agent's conversation on a target: the app server (`app`: recycled by
pause + resume, by deleting the sandbox and starting the same conversation again, or by a
command), or an agent server (`agent_server`) that pinbot runs from a command (`command`) or an
image (`image`), or is pointed at (`url`), recycled by restarting it on the same conversations
directory. `--target acp` has no server: pinbot is the agent's ACP client over stdio
(`acp_stdio`), one process per life (`acp`). Homes clean up what they made unless told to keep
it; processes and containers pinbot started are always stopped.
"""
