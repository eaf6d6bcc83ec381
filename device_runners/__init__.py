"""Ways of reaching hardware, behind one Runner protocol. Never imports TensorFlow."""
