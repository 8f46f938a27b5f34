"""The embedded Tinker-compatible backend: a loopback HTTP server speaking the tinker SDK's wire
protocol, training LoRA adapters on a tiny local model with torch on the CPU.

Light modules (``state``, ``control``, ``cli``) import nothing heavy; the server side (``server``,
``routes``, ``engine``, ...) imports torch, transformers and tinker.
"""
