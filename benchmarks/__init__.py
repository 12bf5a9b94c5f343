"""Runnable benchmarks: minicnn against PyTorch on this machine (see README.md here)."""
