// ROMAFormats
