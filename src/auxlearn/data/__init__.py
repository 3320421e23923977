"""Data: loading (hub or offline mirror), label checks, tokenization cache, splits, batching."""
