"""For plugin hosts: scopes, discovery of what an archive offers, and the global path hook."""
