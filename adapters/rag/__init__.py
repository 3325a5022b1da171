"""Haystack 3 answering pipelines (one per RAG mode) and their components."""
