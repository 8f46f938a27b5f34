"""The embedded Tinker-compatible backend: a loopback HTTP server speaking the tinker SDK's wire
protocol, training LoRA adapters on a tiny local model with torch on the CPU.

Light (no torch/tinker at import): ``state`` (the 0600 state file), ``control`` (start, stop,
status, ensure_running, env_for), ``cli`` (``tinkertop backend ...``).
Server side: ``server`` (entry point), ``http`` (auth, limits, parsing), ``routes`` (SDK
endpoints), ``rest`` (run/checkpoint listing), ``futures`` (long polling), ``wire`` (protobuf),
``engine`` (the one torch worker thread), ``trainer`` (forward/backward, Adam), ``losses``,
``sampling`` (batched KV-cache decoding), ``lora``, ``model``, ``checkpoints`` (``tinker://`` store).
"""
