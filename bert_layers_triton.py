"""Varlen FlashAttention with in-kernel ALiBi for DNABERT-2, in Triton (forward and backward).

Triton is optional: this module always imports; ``triton_unavailable_reason()`` says why the kernel cannot run.
"""

try:
    import triton
    import triton.language as tl

    _IMPORT_ERROR = None
except Exception as error:  # missing or broken installation: the model falls back to SDPA
    triton = tl = None
    _IMPORT_ERROR = error


def triton_unavailable_reason():
    """None when the Triton kernel can run here, else a short reason."""
    if _IMPORT_ERROR is not None:
        return f"triton cannot be imported ({type(_IMPORT_ERROR).__name__}: {_IMPORT_ERROR})"
    return "the kernel is not built yet"
