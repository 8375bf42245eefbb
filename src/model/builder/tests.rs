// Rule tests: filled below.
