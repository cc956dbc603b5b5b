"""XLA compilation of the augmentation's small tensor functions, where the backend offers it."""

import keras


def compiled(function):
    """``function`` compiled by XLA under the TensorFlow backend, else ``function`` itself.

    The augmentation layers chain many small element-wise operations on each batch; XLA fuses them into a
    few loops (``python -m lab.augment_probe`` times each layer against Keras's stock ops).
    """
    if keras.backend.backend() != "tensorflow":
        return function
    import tensorflow as tf

    return tf.function(function, jit_compile=True, reduce_retracing=True)
