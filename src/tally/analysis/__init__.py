"""Static analysis of source files and the results of measuring them."""
