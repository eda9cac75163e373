// ROMAModel
