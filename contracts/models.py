"""The deal: programmes, hosting applications and partnership contracts (built by later issues)."""
