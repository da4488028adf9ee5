"""Backends: what runs the model's forwards for a Session (torch in-process, or llama.cpp's llama-server)."""
