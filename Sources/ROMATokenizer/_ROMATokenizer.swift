// ROMATokenizer
