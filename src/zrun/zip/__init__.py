"""Reading zip archives: the central directory, its lookup table and cache, members, and the zip source."""
