"""Cross-camera association of tracklets into global identities."""
