"""Non-AI detectors: pure functions from scene text and the library catalogue to proposals."""
