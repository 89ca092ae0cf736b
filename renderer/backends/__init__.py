"""Render backends: "builtin" (the CPU/GPU portrait animator, always available) and "sonic" (the Sonic model)."""
