"""The bundled sample: a small shop with realistic defects (see `generate`)."""
