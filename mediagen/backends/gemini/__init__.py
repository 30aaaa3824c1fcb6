"""The ``gemini`` backend: Gemini image models through the google-genai SDK."""
