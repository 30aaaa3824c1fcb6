"""What the user wrote: the spec's models, YAML loader, templates, diagnostics and schema."""
