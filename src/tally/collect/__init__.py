"""Collection: which files to measure, the engines that measure them, and running a program."""
