"""Local worlds shaped like the real ones: registry images, SDK history, repos (tests, demo)."""
