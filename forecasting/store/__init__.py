"""The model store: one folder of files per product, its model_info.json format, atomic swaps and caches."""
