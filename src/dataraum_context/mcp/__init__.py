"""`dataraum mcp`: a workspace served to AI agents over the Model Context Protocol."""
