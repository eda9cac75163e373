// ROMANumerics
