"""The layer below the reviewer and the benchmarks: papers as text (PDF reading and blinding),
datasets of papers with their human labels, and the small file helpers both sides use.

Nothing here imports ``reviewer``, ``benchmarks``, ``scientist`` or ``finetune``.
"""
