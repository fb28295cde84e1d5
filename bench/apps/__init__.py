"""The apps the benchmark compares with this project."""
