"""Warping images by a smooth map: where each output pixel is read from, and a bilinear read there.

The maths behind :class:`digit_recog.augment.RandomWarp`: an affine map (rotation, zoom, slant, shift)
plus an elastic displacement field (Simard, Steinkraus and Platt, 2003: uniform noise smoothed by a
Gaussian of ``sigma`` pixels and scaled by ``alpha``), resampled once. Batched, channels-last, Keras ops.
"""

import numpy as np
from keras import ops

from digit_recog import xla


def warp_images(images, angle, zoom, shear, shift_x, shift_y, noise, sigma: float, alpha):
    """``images`` (N, H, W, C) moved by the affine map of :func:`affine_coordinates` (one value of each
    amount per image) plus the elastic field of ``noise`` (N, H, W, 2, uniform in [-1, 1]; ``None`` for
    none) at strength ``alpha`` (one number, or one per image), read bilinearly. Under the TensorFlow
    backend XLA compiles it, which fuses its many small operations.
    """
    return _compiled_warp(images, angle, zoom, shear, shift_x, shift_y, noise, sigma, alpha)


def _warp(images, angle, zoom, shear, shift_x, shift_y, noise, sigma, alpha):
    x, y = affine_coordinates(angle, zoom, shear, shift_x, shift_y, (images.shape[1], images.shape[2]))
    if noise is not None:
        dx, dy = elastic_displacement(noise, sigma, alpha)
        x, y = x + dx, y + dy
    return bilinear_sample(images, x, y)


_compiled_warp = xla.compiled(_warp)


def affine_coordinates(angle, zoom, shear, shift_x, shift_y, size: tuple[int, int]):
    """Where each output pixel of each image reads from: ``(x, y)``, each of shape (images, height, width).

    The output is the input rotated by ``angle`` (radians), slanted by ``shear`` (a vertical stroke leans
    by ``shear`` pixels sideways per pixel of height), scaled by ``1 / zoom`` about the centre and shifted by
    ``(shift_x, shift_y)`` pixels. Each argument but ``size`` is a vector with one value per image. With
    ``shear=0`` this is the map of :func:`digit_recog.augment.affine_matrices`.
    """
    height, width = size
    centre_y, centre_x = (height - 1) / 2, (width - 1) / 2
    grid_y, grid_x = np.meshgrid(
        np.arange(height, dtype="float32"), np.arange(width, dtype="float32"), indexing="ij"
    )
    out_x = grid_x[None] - centre_x - shift_x[:, None, None]
    out_y = grid_y[None] - centre_y - shift_y[:, None, None]
    cos, sin = (ops.cos(angle) * zoom)[:, None, None], (ops.sin(angle) * zoom)[:, None, None]
    slanted_x = out_x + shear[:, None, None] * out_y
    return centre_x + cos * slanted_x - sin * out_y, centre_y + sin * slanted_x + cos * out_y


def elastic_displacement(noise, sigma: float, alpha):
    """Simard's elastic field from ``noise`` (images, height, width, 2) uniform in [-1, 1]: each component
    smoothed by a Gaussian of ``sigma`` pixels (zeros beyond the border) and scaled by ``alpha`` pixels, one
    number for all images or one per image.

    Returns ``(dx, dy)``, each (images, height, width).
    """
    rows = gaussian_matrix(noise.shape[1], sigma, noise.dtype)
    columns = gaussian_matrix(noise.shape[2], sigma, noise.dtype)
    scale = ops.reshape(ops.cast(alpha, noise.dtype), (-1, 1, 1, 1))
    smooth = ops.einsum("rh,nhwc,sw->nrsc", rows, noise, columns) * scale
    return smooth[..., 0], smooth[..., 1]


def gaussian_matrix(size: int, sigma: float, dtype="float32"):
    """A (size, size) matrix whose row ``i`` is the 1-D Gaussian of ``sigma`` centred on ``i``, normalised
    over the whole line (as a filter with zero padding and a kernel wider than the image)."""
    offsets = np.arange(size)[None, :] - np.arange(size)[:, None]
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    whole_line = np.exp(-0.5 * (np.arange(-size + 1, size) / sigma) ** 2).sum()
    return ops.convert_to_tensor(kernel / whole_line, dtype)


def bilinear_sample(images, x, y):
    """``images`` (N, H, W, C) read at fractional positions ``x``, ``y`` (N, H', W'); black outside.

    Each output pixel blends the four input pixels around its position, as Keras's bilinear
    ``affine_transform`` with a constant fill of 0 does.
    """
    batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
    padded = ops.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])  # a black ring: reads outside land on it
    flat = ops.reshape(padded, (-1, images.shape[3]))
    x, y = ops.clip(x + 1.0, 0.0, width + 1.0), ops.clip(y + 1.0, 0.0, height + 1.0)
    left, top = ops.floor(x), ops.floor(y)
    right_weight, bottom_weight = (x - left)[..., None], (y - top)[..., None]
    left, top = ops.cast(left, "int32"), ops.cast(top, "int32")
    right, bottom = ops.minimum(left + 1, width + 1), ops.minimum(top + 1, height + 1)
    base = (ops.arange(batch, dtype="int32") * ((height + 2) * (width + 2)))[:, None, None]

    def read(row, column):
        return ops.take(flat, base + row * (width + 2) + column, axis=0)

    upper = read(top, left) * (1 - right_weight) + read(top, right) * right_weight
    lower = read(bottom, left) * (1 - right_weight) + read(bottom, right) * right_weight
    return upper * (1 - bottom_weight) + lower * bottom_weight
