"""Reports: each format one module, each reading the same analysed results."""
