"""An Ollama client whose streams are delivered to actors."""
