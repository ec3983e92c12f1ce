"""The test kit: fakes, proxies, worlds and helpers that only the tests use (not in the wheel).

pytest puts the repository root on `sys.path` (`pythonpath` in pyproject.toml); processes the
kit starts get it through `world.harness_env()`.
"""
