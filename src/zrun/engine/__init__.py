"""Running a target as ``__main__``: finding it, the steps of a run, and the guard that puts ``sys`` back."""
