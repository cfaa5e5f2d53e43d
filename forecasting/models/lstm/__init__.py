"""The LSTM member: its NumPy network, its training, its Keras HDF5 file and its deseasonalised wrapper."""
