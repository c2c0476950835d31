"""How runs run: logging, data parallelism on CPUs, the identity of model weights."""
