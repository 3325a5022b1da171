"""Use cases: one per command or query an entry point offers, over ports, taking plain inputs.

An entry point (the h2oGPTe API, the CLI, an OpenAI-compatible API to come) decodes its wire format into a use
case's input, calls it, and encodes what it returns; the use case loads, decides, appends, waits for the read
side and returns what the caller needs.
"""
