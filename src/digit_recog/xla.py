"""XLA compilation of the warp's small tensor functions, where the backend offers it."""

import keras


def compiled(function):
    """``function`` compiled by XLA under the TensorFlow backend, else ``function`` itself.

    :class:`digit_recog.augment.RandomWarp` chains many small element-wise operations on each batch; XLA
    fuses them into a few loops.
    """
    if keras.backend.backend() != "tensorflow":
        return function
    import tensorflow as tf

    return tf.function(function, jit_compile=True, reduce_retracing=True)
