"""digit-recog: handwritten digit recognition on MNIST with a Keras CNN."""

__version__ = "0.1.0"
